// Command recur runs Recur, a self-hosted subscription-data platform that
// speaks the ChartMogul Import API. `recur help` lists its commands.
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
		fmt.Fprintln(os.Stderr, "recur:", err)
		os.Exit(exitCode(err))
	}
}
