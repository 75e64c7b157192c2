package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/recurhq/recur/store"
)

// worker runs import workers without the API: the worker processes of a
// scaled-out installation, beside `recur serve --no-workers` processes, all
// on one PostgreSQL database.
func worker(ctx context.Context, args []string, getenv env, stdout, stderr io.Writer) error {
	fs := flags("worker", stderr)
	dbURL := fs.String("database", databaseURL(getenv), "database: postgres://… (RECUR_DATABASE_URL); SQLite works, but one `recur serve` already runs its workers")
	workers := fs.Int("import-workers", 2, "imports applied at once by this process")
	poll := fs.Duration("poll-interval", 0, "how often idle workers look for jobs (default 20ms on SQLite, 1s on PostgreSQL, which is notified)")
	grace := fs.Duration("shutdown-grace", 30*time.Second, "how long running imports may take to finish at shutdown")
	if err := parse(fs, args); err != nil {
		return err
	}
	log := newLogger(getenv, stderr)
	st, err := store.Open(ctx, *dbURL, store.Options{})
	if err != nil {
		return err
	}
	defer st.Close()
	queue, err := startWorkers(ctx, st, log, *workers, *poll)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Recur worker is running (database %s)\n", redactURL(*dbURL))
	<-ctx.Done()
	log.Info("shutting down")
	stopCtx, cancel := context.WithTimeout(context.Background(), *grace)
	defer cancel()
	stopWorkers(stopCtx, queue, log)
	return nil
}
