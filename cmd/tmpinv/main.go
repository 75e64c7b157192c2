package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/recurhq/recur/gen"
	"github.com/recurhq/recur/importer"
	"github.com/recurhq/recur/store"
)

func main() {
	ctx := context.Background()
	st, err := store.Open(ctx, "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable&search_path=inv", store.Options{})
	if err != nil {
		panic(err)
	}
	a, _ := st.EnsureAccount(ctx, "acme")
	ds, err := st.CreateDataSource(ctx, a.ID, "Billing", "")
	if err != nil {
		panic(err)
	}
	im := importer.New(st, slog.New(slog.NewTextHandler(io.Discard, nil)))
	for k := 0; k < 20; k++ {
		body, _, _ := gen.Payload(gen.Options{Customers: 1000, FirstCustomer: k * 1000, Seed: int64(k), Start: time.Date(2021, time.Month(1+k%48), 1, 0, 0, 0, 0, time.UTC), Months: 12})
		imp, _, _ := st.CreateImport(ctx, ds, "", body)
		if err := im.ApplyThrough(ctx, ds.ID, imp.ID); err != nil {
			panic(err)
		}
	}
	fmt.Println("account", a.ID)
}
