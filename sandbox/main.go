// Command sandbox is the local ChartMogul: an Import API server with
// ChartMogul's routes, JSON and per-record validation (plus Recur's
// failed_records extension), the Metrics API and a dashboard, on SQLite or
// PostgreSQL.
//
// Who uses it: the Recur worker starts one as its embedded default when no
// CHARTMOGUL_API_KEY is set; every end-to-end test of the worker talks to
// one over real HTTP; and a person checking a mapping (the records and the
// MRR they produce) runs one before anything touches a real ChartMogul
// account. `go run ./sandbox help` lists its commands.
//
// Its packages: api (the HTTP API), store (SQLite and PostgreSQL), bulk
// (resolving a payload against stored rows), importer (River workers that
// apply imports), analytics, web (the dashboard), gen (generated payloads),
// client (the Go client of its own commands and tests) and compat (the
// official Node client's test). The records and the rules that make them
// valid come from package chartmogul, which the worker shares.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "sandbox:", err)
		os.Exit(exitCode(err))
	}
}
