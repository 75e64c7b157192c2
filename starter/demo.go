package main

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"io"
	"time"

	"github.com/recurhq/recur/starter/demo"
)

// demoCmd creates a demo billing schema with generated data, and the six
// source views over it.
func demoCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flags("demo", stderr)
	c := commonFlags(fs, getenv)
	customers := fs.Int("customers", 0, "customers (billing accounts) to generate, e.g. 500")
	schema := fs.String("schema", demo.DefaultSchema, "the billing schema; dropped and made anew")
	sourceSchema := fs.String("source-schema", cmp.Or(getenv("RECUR_SOURCE_SCHEMA"), demo.DefaultSourceSchema), "schema of the six views the worker reads (RECUR_SOURCE_SCHEMA)")
	seed := fs.Int64("seed", 1, "the same seed gives the same data")
	large := fs.Int("large-customer-invoices", 0, "add customer cus_large with this many invoices (20000 makes it larger than one 5 MB request)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *customers <= 0 {
		return usageError{"starter demo needs --customers N (at least 1), e.g. --customers 500"}
	}
	db, err := sql.Open("postgres", c.billingDB)
	if err != nil {
		return usageError{fmt.Sprintf("the billing database URL is not usable: %v", err)}
	}
	defer db.Close()
	began := time.Now()
	st, err := demo.Create(ctx, db, demo.Options{Customers: *customers, Schema: *schema, SourceSchema: *sourceSchema, Seed: *seed, LargeCustomerInvoices: *large})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Created schema %s with %d customers and the six views in %s in %s: %d plans, %d invoices, %d line items, %d transactions, %d subscription events (%d records).\n",
		*schema, st.Customers, *sourceSchema, time.Since(began).Round(time.Millisecond), st.Plans, st.Invoices, st.LineItems, st.Transactions, st.SubscriptionEvents, st.Records())
	fmt.Fprintln(stdout, "Next: `go run ./starter sync --wait` (with `go run ./worker` running).")
	return nil
}
