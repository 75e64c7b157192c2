package importer

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/riverqueue/river"

	"github.com/recurhq/recur/analytics"
	"github.com/recurhq/recur/store"
)

// The analytics recompute. Every write of records queues a
// store.RecomputeArgs job in its own transaction (Store.AfterWrite, wired to
// Store.Touch); this worker recomputes the customers it names from their
// stored records and replaces their derived rows. Because a customer is
// always recomputed from everything recorded about it, the result does not
// depend on the order or grouping in which its records arrived.

// RecomputeBatchSize is how many customers one recompute transaction
// covers: large enough that the per-table queries and bulk writes amortise,
// small enough that the transaction — on SQLite, the one writer connection
// the job queue shares — stays short.
const RecomputeBatchSize = 1000

type recomputeWorker struct {
	river.WorkerDefaults[store.RecomputeArgs]
	im *Importer
}

// Work recomputes the customers the job names.
func (w *recomputeWorker) Work(ctx context.Context, job *river.Job[store.RecomputeArgs]) error {
	_, err := w.im.Recompute(ctx, job.Args)
	return err
}

// Recompute recomputes the analytics of the customers args names, in
// batches of RecomputeBatchSize, each in one transaction, and returns how
// many customers' rows it wrote. A customer whose analytics cannot be
// computed (a missing exchange rate) is stored with the reason, not
// retried: it is recomputed when its records, the rates or the settings
// change. Errors are the database's; River retries the job.
func (im *Importer) Recompute(ctx context.Context, args store.RecomputeArgs) (int, error) {
	start := time.Now()
	books := &store.RateBooks{}
	asOf := im.Now()
	total := 0
	run := func(ids []int64) error {
		n, err := im.Store.RecomputeCustomers(ctx, ids, asOf, books, im.computeBatch)
		total += n
		return err
	}
	if len(args.CustomerIDs) > 0 {
		ids := slices.Clone(args.CustomerIDs)
		slices.Sort(ids)
		ids = slices.Compact(ids)
		for len(ids) > 0 {
			n := min(len(ids), RecomputeBatchSize)
			if err := run(ids[:n]); err != nil {
				return total, err
			}
			ids = ids[n:]
		}
	} else {
		var after int64
		for {
			ids, err := im.Store.RecomputeTargets(ctx, args, after, RecomputeBatchSize)
			if err != nil {
				return total, err
			}
			if len(ids) == 0 {
				break
			}
			if err := run(ids); err != nil {
				return total, err
			}
			after = ids[len(ids)-1]
		}
	}
	if im.Log != nil {
		im.Log.Debug("analytics recomputed", "customers", total, "duration_ms", time.Since(start).Milliseconds())
	}
	return total, nil
}

// computeBatch computes a batch's customers on every core.
func (im *Importer) computeBatch(b *store.RecomputeBatch) []store.CustomerOutcome {
	out := make([]store.CustomerOutcome, len(b.Inputs))
	workers := min(runtime.GOMAXPROCS(0), (len(b.Inputs)+31)/32)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(out) {
					return
				}
				out[i] = im.computeOne(&b.Inputs[i], b)
			}
		})
	}
	wg.Wait()
	return out
}

// computeOne computes one customer. A failure is kept as the customer's
// problem, in words: it is shown wherever the customer's figures would be.
func (im *Importer) computeOne(in *analytics.CustomerInput, b *store.RecomputeBatch) (out store.CustomerOutcome) {
	defer func() {
		if p := recover(); p != nil {
			if im.Log != nil {
				im.Log.Error("analytics computation panicked", "customer", in.CustomerID, "panic", p)
			}
			out = store.CustomerOutcome{Problem: "Recur could not compute this customer's analytics because of an internal error; it has been logged."}
		}
	}()
	res, err := analytics.Compute(*in, b.Settings, b.Rates)
	if err != nil {
		return store.CustomerOutcome{Problem: ProblemMessage(err, b.Settings.BaseCurrency)}
	}
	return store.CustomerOutcome{Result: res}
}

// ProblemMessage words an error of analytics.Compute for the people who
// will read it on a metrics request: a missing exchange rate names the
// currency, the day and the account currency, and says how to add it.
func ProblemMessage(err error, base string) string {
	var re *analytics.RateError
	if errors.As(err, &re) {
		return fmt.Sprintf("No exchange rate from %s to %s on %s (nor in the %d days before it); import reference rates covering that day with `recur rates import FILE`.",
			re.Currency, base, re.Day, store.MaxRateAge)
	}
	var ie *analytics.InputError
	if errors.As(err, &ie) {
		what := "A record"
		if ie.LineItemID != 0 {
			what = fmt.Sprintf("Line item %d", ie.LineItemID)
		}
		return fmt.Sprintf("%s cannot produce MRR: %s %s.", what, ie.Field, strings.TrimSuffix(ie.Reason, "."))
	}
	return strings.TrimPrefix(err.Error(), "analytics: ")
}
