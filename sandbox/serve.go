package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/recurhq/recur/chartmogul"
	"github.com/recurhq/recur/sandbox/api"
	"github.com/recurhq/recur/sandbox/server"
	"github.com/recurhq/recur/sandbox/store"
)

// serve runs the API and, unless --no-workers, the import workers, until ctx
// is cancelled; then it stops taking requests, lets running imports finish
// (or cuts them off after the grace period, to be resumed at the next start)
// and closes the database.
func serve(ctx context.Context, args []string, getenv env, stdout, stderr io.Writer) error {
	fs := flags("serve", stderr)
	addr := fs.String("addr", cmp.Or(getenv("RECUR_ADDR"), "127.0.0.1:8080"), "address to listen on (RECUR_ADDR)")
	dbURL := fs.String("database", databaseURL(getenv), "database: sqlite:PATH or postgres://… (RECUR_DATABASE_URL)")
	maxPayload := fs.String("max-payload", cmp.Or(getenv("RECUR_MAX_PAYLOAD"), "5MB"), "largest bulk import body, e.g. 5MB (RECUR_MAX_PAYLOAD)")
	noWorkers := fs.Bool("no-workers", false, "serve the API only; imports are applied by `sandbox worker` processes")
	workers := fs.Int("import-workers", 2, "imports applied at once by this process")
	poll := fs.Duration("poll-interval", 0, "how often idle workers look for jobs (default 20ms on SQLite, 1s on PostgreSQL, which is notified)")
	grace := fs.Duration("shutdown-grace", 30*time.Second, "how long running imports may take to finish at shutdown")
	rateLimit := fs.Float64("rate-limit", api.DefaultRateLimit, "requests per second each account may make; 0 disables the limit")
	rateBurst := fs.Int("rate-burst", 0, "requests an account may make at once above --rate-limit (default one second's worth)")
	maxQueued := fs.Int("max-queued-imports", api.DefaultMaxQueuedImports, "unfinished imports an account may have before new ones are answered 429; 0 disables the bound")
	readHeaderTimeout := fs.Duration("read-header-timeout", 10*time.Second, "how long a client may take to send a request's headers")
	readTimeout := fs.Duration("read-timeout", 2*time.Minute, "how long a client may take to send a whole request, body included")
	writeTimeout := fs.Duration("write-timeout", 2*time.Minute, "how long answering a request may take, from the end of its headers")
	maxHeader := fs.String("max-header-bytes", "64KB", "largest request header block; larger ones are answered 431")
	readFaults := faultFlags(fs) // inject.go
	if err := parse(fs, args); err != nil {
		return err
	}
	limit, err := parseSize(*maxPayload)
	if err != nil {
		return usageError{"--max-payload: " + err.Error()}
	}
	headerLimit, err := parseSize(*maxHeader)
	if err != nil {
		return usageError{"--max-header-bytes: " + err.Error()}
	}
	if *rateLimit < 0 || *rateBurst < 0 || *maxQueued < 0 {
		return usageError{"--rate-limit, --rate-burst and --max-queued-imports must not be negative; 0 turns the limit off"}
	}
	faults, err := readFaults()
	if err != nil {
		return err
	}
	log := newLogger(getenv, stderr)

	// Keys are installed before the server answers, so that the first
	// request can already use RECUR_API_KEY.
	st, err := store.Open(ctx, *dbURL, store.Options{})
	if err != nil {
		return err
	}
	err = installKeys(ctx, st, getenv, stdout)
	st.Close()
	if err != nil {
		return err
	}
	srv, err := server.Start(ctx, server.Options{
		Addr: *addr, Database: *dbURL, MaxPayload: limit,
		RateLimit: *rateLimit, RateBurst: *rateBurst, MaxQueuedImports: *maxQueued,
		NoWorkers: *noWorkers, ImportWorkers: *workers, PollInterval: *poll, Faults: faults,
		ReadHeaderTimeout: *readHeaderTimeout, ReadTimeout: *readTimeout, WriteTimeout: *writeTimeout,
		MaxHeaderBytes: int(headerLimit), Log: log,
	})
	if err != nil {
		return err
	}
	if faults.Enabled() {
		fmt.Fprintln(stdout, faultsLine(faults))
	}
	fmt.Fprintf(stdout, "Recur is listening on %s (database %s)\n", srv.URL, redactURL(*dbURL))

	select {
	case <-ctx.Done():
	case err := <-srv.Done():
		return fmt.Errorf("the HTTP server stopped: %w", err)
	}
	log.Info("shutting down")
	stopCtx, cancel := context.WithTimeout(context.Background(), *grace)
	defer cancel()
	srv.Stop(stopCtx)
	return nil
}

// installKeys gives the default account its first key: RECUR_API_KEY when
// set, otherwise a generated key printed once.
func installKeys(ctx context.Context, st *store.Store, getenv env, stdout io.Writer) error {
	account, err := st.EnsureAccount(ctx, store.DefaultAccount)
	if err != nil {
		return err
	}
	if key := getenv("RECUR_API_KEY"); key != "" {
		_, err := st.InstallKey(ctx, account.ID, key, chartmogul.AccessReadWrite)
		if err != nil {
			return fmt.Errorf("RECUR_API_KEY cannot be installed: %w", err)
		}
		return nil
	}
	has, err := st.HasKeys(ctx, account.ID)
	if err != nil || has {
		return err
	}
	key, err := st.CreateKey(ctx, account.ID, chartmogul.AccessReadWrite)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Created an API key for account %q:\n\n    %s\n\nIt is shown only this once: keep it somewhere safe. `sandbox keys create` makes more.\n\n", account.Name, key)
	return nil
}

// parseSize reads a byte count such as 5242880, 5MB, 512KB or 5MiB. MB means
// 2^20 bytes, as ChartMogul's "5 MB" limit does.
func parseSize(s string) (int64, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"MIB", 1 << 20}, {"KIB", 1 << 10}, {"MB", 1 << 20}, {"KB", 1 << 10}, {"M", 1 << 20}, {"K", 1 << 10}, {"B", 1}} {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n <= 0 {
		return 0, errors.New("want a positive size such as 5MB or 5242880; got " + strconv.Quote(s))
	}
	return n * mult, nil
}
