// Command worker runs Recur: a Temporal worker that keeps ChartMogul in step
// with a company's PostgreSQL billing database. With nothing configured it
// starts what it needs itself: a Temporal dev server with its Web UI
// (http://127.0.0.1:8233) and the local ChartMogul (http://127.0.0.1:8080),
// and reads the local PostgreSQL. `go run ./worker --help` lists the flags.
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
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		os.Exit(exitCode(err))
	}
}
