package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"

	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq" // the billing and state databases
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"github.com/recurhq/recur/activities"
)

const usage = `starter drives Recur, the Temporal worker that keeps ChartMogul in step with your billing database.

Usage:
  starter sync     [--data-source DS] [--customer ID]… [--full] [--dry-run] [--wait]   sync now (or attach to the running sync)
  starter schedule [--cron "0 2 * * *"] [--timezone UTC] | --pause | --unpause | --trigger | --delete   the nightly schedule
  starter status   [--data-source DS]                                                  the schedule and the last syncs
  starter demo     --customers N [--schema billing_demo] [--seed S]                    a demo billing schema with the six views
  starter bench    [--customers 10000] [--workers 1]                                   measure a full sync, one with nothing changed and one with 1 in 100 customers changed, and the floor
  starter help

Every command takes --temporal-address (TEMPORAL_ADDRESS, default 127.0.0.1:7233), --namespace,
--task-queue, --billing-database (BILLING_DATABASE_URL) and --state-database (STATE_DATABASE_URL).
`

// usageError is a mistake on the command line: exit code 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// failedError is a sync that failed: exit code 1, its message already
// printed.
type failedError struct{ msg string }

func (e failedError) Error() string { return e.msg }

func exitCode(err error) int {
	var ue usageError
	if errors.As(err, &ue) || errors.Is(err, flag.ErrHelp) {
		return 2
	}
	return 1
}

// run is the whole program; tests call it directly.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return usageError{"no command given; try `starter sync --wait`"}
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "sync":
		return syncCmd(ctx, rest, getenv, stdout, stderr)
	case "schedule":
		return scheduleCmd(ctx, rest, getenv, stdout, stderr)
	case "status":
		return statusCmd(ctx, rest, getenv, stdout, stderr)
	case "demo":
		return demoCmd(ctx, rest, getenv, stdout, stderr)
	case "bench":
		return benchCmd(ctx, rest, getenv, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return usageError{fmt.Sprintf("unknown command %q", cmd)}
}

// common are the flags every command takes.
type common struct {
	temporalAddress string
	namespace       string
	taskQueue       string
	uiURL           string
	billingDB       string
	stateDB         string
	dataSource      string
}

// defaultDatabase is the local PostgreSQL of a development machine.
const defaultDatabase = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

func commonFlags(fs *flag.FlagSet, getenv func(string) string) *common {
	c := &common{}
	fs.StringVar(&c.temporalAddress, "temporal-address", cmp.Or(getenv("TEMPORAL_ADDRESS"), "127.0.0.1:7233"), "host:port of Temporal (TEMPORAL_ADDRESS)")
	fs.StringVar(&c.namespace, "namespace", cmp.Or(getenv("TEMPORAL_NAMESPACE"), "default"), "Temporal namespace (TEMPORAL_NAMESPACE)")
	fs.StringVar(&c.taskQueue, "task-queue", cmp.Or(getenv("RECUR_TASK_QUEUE"), "recur"), "Recur's task queue (RECUR_TASK_QUEUE)")
	fs.StringVar(&c.uiURL, "ui", cmp.Or(getenv("TEMPORAL_UI_URL"), "http://127.0.0.1:8233"), "the Temporal Web UI, for links (TEMPORAL_UI_URL)")
	fs.StringVar(&c.billingDB, "billing-database", cmp.Or(getenv("BILLING_DATABASE_URL"), defaultDatabase), "the billing database (BILLING_DATABASE_URL)")
	fs.StringVar(&c.stateDB, "state-database", getenv("STATE_DATABASE_URL"), "Recur's state database (STATE_DATABASE_URL; default: the billing database)")
	fs.StringVar(&c.dataSource, "data-source", getenv("CHARTMOGUL_DATA_SOURCE"), "ChartMogul data source uuid (CHARTMOGUL_DATA_SOURCE; default: the worker's)")
	return c
}

// flags returns a flag set that reports errors as usage errors.
func flags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("starter "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	return nil
}

// dial connects to Temporal.
func (c *common) dial(ctx context.Context) (client.Client, error) {
	tc, err := client.DialContext(ctx, client.Options{HostPort: c.temporalAddress, Namespace: c.namespace,
		Logger: sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler))})
	if err != nil {
		return nil, fmt.Errorf("cannot reach Temporal at %s (%v): is `go run ./worker` running? Or set TEMPORAL_ADDRESS", c.temporalAddress, err)
	}
	return tc, nil
}

// connect resolves the data source and connects to Temporal: what every
// command about a sync does first.
func (c *common) connect(ctx context.Context) (string, client.Client, error) {
	ds, err := c.resolveDataSource(ctx)
	if err != nil {
		return "", nil, err
	}
	tc, err := c.dial(ctx)
	return ds, tc, err
}

// state opens the state database.
func (c *common) state(ctx context.Context) (*sqlx.DB, error) {
	u := cmp.Or(c.stateDB, c.billingDB)
	db, err := sqlx.Open("postgres", u)
	if err == nil {
		err = db.PingContext(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("cannot reach the state database (%v): check STATE_DATABASE_URL or BILLING_DATABASE_URL", err)
	}
	return db, nil
}

// resolveDataSource returns --data-source, or the data source the worker
// was started with (recorded in the state database).
func (c *common) resolveDataSource(ctx context.Context) (string, error) {
	if c.dataSource != "" {
		return c.dataSource, nil
	}
	db, err := c.state(ctx)
	if err != nil {
		return "", err
	}
	defer db.Close()
	ds, err := (&activities.State{DB: db}).WorkerDataSource(ctx, c.namespace, c.taskQueue)
	if err != nil || ds == "" {
		return "", usageError{"no data source: start the worker first (`go run ./worker`), or pass --data-source (or set CHARTMOGUL_DATA_SOURCE)"}
	}
	c.dataSource = ds
	return ds, nil
}

// link is the Web UI's page of a workflow.
func (c *common) link(workflowID, runID string) string {
	u := c.uiURL + "/namespaces/" + url.PathEscape(c.namespace) + "/workflows/" + url.PathEscape(workflowID)
	if runID != "" {
		u += "/" + url.PathEscape(runID)
	}
	return u
}
