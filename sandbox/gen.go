package main

import (
	"bufio"
	"fmt"
	"io"
	"os"

	"github.com/recurhq/recur/sandbox/gen"
)

// genCmd writes a deterministic, realistic bulk-import payload.
func genCmd(args []string, stdout, stderr io.Writer) error {
	fs := flags("gen", stderr)
	customers := fs.Int("customers", gen.DefaultCustomers, "number of customers (about 20 records each)")
	seed := fs.Int64("seed", 0, "seed; the same seed and options give the same bytes")
	first := fs.Int("first", 0, "index of the first customer, for payloads with disjoint customers")
	months := fs.Int("months", gen.DefaultMonths, "months of history")
	externalID := fs.String("external-id", "", "the import's external_id")
	out := fs.String("o", "-", "file to write, - for standard output")
	if err := parse(fs, args); err != nil {
		return err
	}
	w := stdout
	if *out != "-" {
		f, err := os.Create(*out)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	bw := bufio.NewWriterSize(w, 1<<16)
	st, err := gen.Write(bw, gen.Options{Customers: *customers, Seed: *seed, FirstCustomer: *first, Months: *months, ExternalID: *externalID})
	if err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "wrote %d records (%d customers, %d plans, %d invoices, %d line items, %d transactions, %d subscription events), %d bytes\n",
		st.Records(), st.Customers, st.Plans, st.Invoices, st.LineItems, st.Transactions, st.SubscriptionEvents, st.Bytes)
	return nil
}
