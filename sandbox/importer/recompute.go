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

	"github.com/recurhq/recur/sandbox/analytics"
	"github.com/recurhq/recur/sandbox/store"
)

// The analytics recompute. Every write of records marks its customers in its
// own transaction and keeps one store.RecomputeDirtyArgs job pending
// (Store.AfterWrite, wired to Store.Touch); that job recomputes the marked
// customers from their stored records and replaces their derived rows.
// Account-wide recomputes (settings, rates, the periodic refresh) are
// store.RecomputeArgs jobs. Because a customer is
// always recomputed from everything recorded about it, the result does not
// depend on the order or grouping in which its records arrived.

// RecomputeBatchSize is how many customers are read, computed and written
// at a time: large enough that the per-table queries and bulk writes
// amortise, small enough that reading the next batch overlaps computing
// and writing the previous one. BatchesPerTransaction bounds how many
// batches one transaction covers: on SQLite the transaction holds the one
// writer connection, which the job queue and the imports share, so it
// stays under a few hundred milliseconds.
const (
	RecomputeBatchSize    = 1000
	BatchesPerTransaction = 5
)

// RefreshEvery is how often every account's analytics are recomputed even
// when nothing was written. Figures never depend on the passage of time,
// but statuses and current MRR do: a subscription whose period ends without
// a renewal becomes past due, a cancellation dated in the future takes
// effect. A refresh that changes nothing writes nothing.
const RefreshEvery = 6 * time.Hour

// analyticsRefresh is the periodic job that refreshes every account.
func analyticsRefresh() *river.PeriodicJob {
	return river.NewPeriodicJob(river.PeriodicInterval(RefreshEvery),
		func() (river.JobArgs, *river.InsertOpts) { return store.RecomputeArgs{EveryAccount: true}, nil },
		&river.PeriodicJobOpts{ID: "refresh_analytics"})
}

type recomputeDirtyWorker struct {
	river.WorkerDefaults[store.RecomputeDirtyArgs]
	im *Importer
}

// Work recomputes the customers marked dirty, a transaction's worth at a
// time, until none is left; marks made meanwhile are recomputed in a later
// round of the same job.
func (w *recomputeDirtyWorker) Work(ctx context.Context, job *river.Job[store.RecomputeDirtyArgs]) error {
	for {
		marks, err := w.im.Store.DirtyCustomers(ctx, RecomputeBatchSize*BatchesPerTransaction)
		if err != nil || len(marks) == 0 {
			return err
		}
		ids := make([]int64, len(marks))
		for i, m := range marks {
			ids[i] = m.CustomerID
		}
		if _, err := w.im.Recompute(ctx, store.RecomputeArgs{CustomerIDs: ids}); err != nil {
			return err
		}
		if err := w.im.Store.ClearDirty(ctx, marks); err != nil {
			return err
		}
	}
}

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
// batches of RecomputeBatchSize, BatchesPerTransaction to a transaction,
// and returns how many customers it covered. A customer whose analytics
// cannot be computed (a missing exchange rate) is stored with the reason,
// not retried: it is recomputed when its records, the rates or the
// settings change. Errors are the database's; River retries the job.
func (im *Importer) Recompute(ctx context.Context, args store.RecomputeArgs) (int, error) {
	start := time.Now()
	books := rateBooks(im.Store)
	asOf := im.Now()
	total := 0
	run := func(ids []int64) error {
		var batches [][]int64
		for len(ids) > 0 {
			n := min(len(ids), RecomputeBatchSize)
			batches = append(batches, ids[:n])
			ids = ids[n:]
		}
		n, err := im.Store.RecomputeBatches(ctx, batches, asOf, books, im.computeBatch)
		total += n
		return err
	}
	const perTx = RecomputeBatchSize * BatchesPerTransaction
	if args.EveryAccount {
		accounts, err := im.Store.AnalyticsAccounts(ctx)
		if err != nil {
			return 0, err
		}
		for _, id := range accounts {
			n, err := im.Recompute(ctx, store.RecomputeArgs{AccountID: id, All: true})
			total += n
			if err != nil {
				return total, err
			}
		}
		return total, nil
	}
	if len(args.CustomerIDs) > 0 {
		ids := slices.Clone(args.CustomerIDs)
		slices.Sort(ids)
		ids = slices.Compact(ids)
		for len(ids) > 0 {
			n := min(len(ids), perTx)
			if err := run(ids[:n]); err != nil {
				return total, err
			}
			ids = ids[n:]
		}
	} else {
		var after int64
		for {
			ids, err := im.Store.RecomputeTargets(ctx, args, after, perTx)
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

// books keeps each store's exchange rates in memory across recompute jobs:
// a job after an import would otherwise read a currency's whole history
// again. A book reloads itself when the stored rates change.
var books sync.Map // *store.Store → *store.RateBooks

func rateBooks(st *store.Store) *store.RateBooks {
	b, _ := books.LoadOrStore(st, &store.RateBooks{})
	return b.(*store.RateBooks)
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
