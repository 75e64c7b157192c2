package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
)

const usage = `The local ChartMogul: the Import API, the Metrics API and a dashboard, for development and tests.

Usage:
  sandbox serve   [--addr ADDR] [--database URL] [--max-payload BYTES]   run the API and the import workers
  sandbox worker  [--database URL] [--import-workers N]                   run import workers only (scale-out, PostgreSQL)
  sandbox keys    create [--account NAME] [--read-only] | list | revoke ID   manage API keys
  sandbox rates   import [--base CUR] FILE | list                         exchange rates: the ECB's eurofxref-hist.csv, or date,currency,rate lines
  sandbox settings [--account NAME] [--currency CUR] [--churn-recognition M] …   show or change an account's analytics settings
  sandbox import  --data-source DS [--url URL] [--api-key KEY] [--csv DIR] [--dry-run] FILE…   send bulk files of any size
  sandbox gen     --customers N [--seed S] [--first N] [--months M] [-o FILE]   write a bulk-import payload
  sandbox bench   [--customers N] [--imports N] [--runs N]                measure bulk imports end to end
  sandbox help                                                           show this

Every command reads RECUR_DATABASE_URL (default: the SQLite file recur.db here).
`

// env reads the environment; tests pass their own.
type env func(string) string

// usageError is a mistake in the command line: the message and exit code 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func exitCode(err error) int {
	var ue usageError
	if errors.As(err, &ue) || errors.Is(err, flag.ErrHelp) {
		return 2
	}
	return 1
}

// run is the whole program: main only supplies the process's context,
// arguments, environment and streams. End-to-end tests call it directly.
func run(ctx context.Context, args []string, getenv env, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return usageError{"no command given; try `sandbox serve`"}
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return serve(ctx, rest, getenv, stdout, stderr)
	case "import":
		return importCmd(ctx, rest, getenv, stdout, stderr)
	case "worker":
		return worker(ctx, rest, getenv, stdout, stderr)
	case "keys":
		return keys(ctx, rest, getenv, stdout, stderr)
	case "rates":
		return rates(ctx, rest, getenv, stdout, stderr)
	case "settings":
		return settings(ctx, rest, getenv, stdout, stderr)
	case "gen":
		return genCmd(rest, stdout, stderr)
	case "bench":
		return bench(ctx, rest, getenv, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return usageError{fmt.Sprintf("unknown command %q", cmd)}
}

// flags returns a flag set that reports errors as usage errors.
func flags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("sandbox "+name, flag.ContinueOnError)
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
	return nil
}

// databaseURL is the --database flag's default: RECUR_DATABASE_URL, or the
// SQLite file recur.db in the working directory.
func databaseURL(getenv env) string {
	if v := getenv("RECUR_DATABASE_URL"); v != "" {
		return v
	}
	return "sqlite:recur.db"
}

// redactURL hides a password in a database URL before it is printed.
func redactURL(u string) string {
	at := strings.LastIndex(u, "@")
	scheme := strings.Index(u, "://")
	if at < 0 || scheme < 0 {
		return u
	}
	creds := u[scheme+3 : at]
	if user, _, ok := strings.Cut(creds, ":"); ok {
		return u[:scheme+3] + user + ":***" + u[at:]
	}
	return u
}

func newLogger(getenv env, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: slog.LevelInfo}
	if getenv("RECUR_LOG_LEVEL") == "debug" {
		opts.Level = slog.LevelDebug
	}
	if getenv("RECUR_LOG_FORMAT") == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
