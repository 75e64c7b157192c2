package main

import (
	"context"
	"io"
)

func bench(ctx context.Context, args []string, getenv env, stdout, stderr io.Writer) error {
	return usageError{"recur bench is not built yet"}
}
