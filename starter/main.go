// Command starter drives Recur from a shell: start a sync now (and wait for
// its summary), create or change the nightly schedule, show the status of
// the last syncs, and create a demo billing database. `go run ./starter
// help` lists the commands.
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
		fmt.Fprintln(os.Stderr, "starter:", err)
		os.Exit(exitCode(err))
	}
}
