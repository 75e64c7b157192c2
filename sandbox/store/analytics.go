package store

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/recurhq/recur/chartmogul"
	"github.com/recurhq/recur/sandbox/analytics"
)

// Analytics persistence. The analytics of a customer — its subscriptions,
// MRR movements, status, MRR and its contribution to the account's metrics —
// are derived from its stored records by package analytics and stored here,
// replaced as a whole per customer in one transaction by the recompute job
// (RecomputeArgs, worked by package importer). Writes of records queue that
// job in their own transaction through Store.AfterWrite (wired to Touch), so
// the derived rows always catch up with the records, whatever process dies.
//
// A recompute transaction first takes the next number of each account's
// analytics sequence under the account row's lock: recomputes of an account
// are serialised (a recompute always reads the records as the one before it
// left them) and commit in sequence order. It then reads everything
// recorded about a batch of customers with one query per table, on
// connections that see exactly what the transaction sees (see loader),
// computes, and writes the derived rows with the bulk writer — skipping
// customers whose rows would not change (a digest of them is stored). The
// next batch is read while the previous one is computed and written.
//
// The metrics readers rely on the sequence: every process keeps each
// account's analytics.Aggregate in memory and, before answering, asks for
// the number of rows and the highest sequence number; only rows above the
// last number it has seen are loaded (one indexed query, usually skipped),
// and a smaller count than it holds means customers were deleted.
// RecomputeArgs is the River job that recomputes the analytics of customers:
// those listed, or every customer of an account (All), or those of an
// account that have none yet (Missing), or those with line items on a plan,
// or every customer of every account (EveryAccount, the periodic refresh).
type RecomputeArgs struct {
	CustomerIDs  []int64 `json:"customer_ids,omitempty"`
	AccountID    int64   `json:"account_id,omitempty"`
	All          bool    `json:"all,omitempty"`
	Missing      bool    `json:"missing,omitempty"`
	PlanID       int64   `json:"plan_id,omitempty"`
	EveryAccount bool    `json:"every_account,omitempty"`
}

// Kind names the job for River.
func (RecomputeArgs) Kind() string { return "recur.recompute_analytics" }

// InsertOpts puts recompute jobs on the imports queue, which every worker
// process works: a recompute is short and follows an import.
func (RecomputeArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueImports, MaxAttempts: 25}
}

// TouchPlans queues the recompute of every customer with line items on
// these plans, in tx: a plan whose interval changes changes their MRR.
func (s *Store) TouchPlans(ctx context.Context, tx Tx, planIDs []int64) error {
	for _, id := range planIDs {
		if err := s.InsertJob(ctx, tx, RecomputeArgs{PlanID: id}, nil); err != nil {
			return internal("queue the analytics recompute", err)
		}
	}
	return nil
}

// EnqueueRecompute queues a recompute job in a transaction of its own.
func (s *Store) EnqueueRecompute(ctx context.Context, args RecomputeArgs) error {
	return s.eng.writeTx(ctx, func(tx *txn) error {
		return internal("queue the analytics recompute", s.queue.insertJobTx(ctx, tx, args, nil))
	})
}

// QueueMissingAnalytics queues, for every account with customers whose
// analytics were never computed (data imported before analytics existed, or
// while no worker recomputed), a job that computes them. It returns how many
// accounts it queued.
func (s *Store) QueueMissingAnalytics(ctx context.Context) (int, error) {
	var accounts []int64
	err := each(ctx, s.eng.read(), `SELECT DISTINCT c.account_id FROM customers c
		WHERE NOT EXISTS (SELECT 1 FROM customer_analytics ca WHERE ca.customer_id = c.id) ORDER BY c.account_id`, nil, func(r rows) error {
		var id int64
		err := r.Scan(&id)
		accounts = append(accounts, id)
		return err
	})
	if err != nil {
		return 0, internal("find customers without analytics", err)
	}
	for _, id := range accounts {
		if err := s.EnqueueRecompute(ctx, RecomputeArgs{AccountID: id, Missing: true}); err != nil {
			return 0, err
		}
	}
	return len(accounts), nil
}

// AnalyticsAccounts returns the ids of the accounts that have customers.
func (s *Store) AnalyticsAccounts(ctx context.Context) ([]int64, error) {
	var out []int64
	err := each(ctx, s.eng.read(), `SELECT a.id FROM accounts a WHERE EXISTS (SELECT 1 FROM customers c WHERE c.account_id = a.id) ORDER BY a.id`, nil, func(r rows) error {
		var id int64
		err := r.Scan(&id)
		out = append(out, id)
		return err
	})
	return out, internal("list accounts", err)
}

// RecomputeTargets returns, in id order, up to limit ids above after of the
// customers an account-wide or plan-wide job names (see RecomputeArgs).
func (s *Store) RecomputeTargets(ctx context.Context, args RecomputeArgs, after int64, limit int) ([]int64, error) {
	var q string
	var qargs []any
	switch {
	case args.PlanID != 0:
		q, qargs = `SELECT DISTINCT customer_id FROM line_items WHERE plan_id = $1 AND customer_id > $2 ORDER BY customer_id LIMIT $3`, []any{args.PlanID, after, limit}
	case args.Missing:
		q, qargs = `SELECT c.id FROM customers c WHERE c.account_id = $1 AND c.id > $2
			AND NOT EXISTS (SELECT 1 FROM customer_analytics ca WHERE ca.customer_id = c.id) ORDER BY c.id LIMIT $3`, []any{args.AccountID, after, limit}
	default:
		q, qargs = `SELECT id FROM customers WHERE account_id = $1 AND id > $2 ORDER BY id LIMIT $3`, []any{args.AccountID, after, limit}
	}
	ids := make([]int64, 0, limit)
	err := each(ctx, s.eng.read(), q, qargs, func(r rows) error {
		var id int64
		err := r.Scan(&id)
		ids = append(ids, id)
		return err
	})
	return ids, internal("list customers to recompute", err)
}

// Churn recognition settings, with the values ChartMogul's account API
// uses.
const (
	ChurnAtCancellation = "churn_at_time_of_cancelation"
	ChurnAtPeriodEnd    = "churn_at_period_end"
)

// AnalyticsSettings are the settings of an account that change how its
// analytics are derived.
type AnalyticsSettings struct {
	// Currency is the base currency every amount is converted to.
	Currency string
	// TimeZone decides the day a movement belongs to.
	TimeZone string
	// WeekStartOn is "sunday" or "monday".
	WeekStartOn string
	// ChurnRecognition is ChurnAtCancellation or ChurnAtPeriodEnd.
	ChurnRecognition string
	// ChurnWhenZeroMRR makes a paying customer that drops to zero MRR
	// without cancelling churn instead of contract.
	ChurnWhenZeroMRR bool
}

// Validate checks the settings, naming the first wrong one.
func (a *AnalyticsSettings) Validate() error {
	c, ok := chartmogul.NormalizeCurrency(a.Currency)
	if !ok {
		return chartmogul.Errorf(chartmogul.EINVALID, "currency must be an ISO 4217 code such as USD or EUR; got %s", chartmogul.Quote(a.Currency))
	}
	a.Currency = c
	if _, err := location(a.TimeZone); err != nil {
		return chartmogul.Errorf(chartmogul.EINVALID, "time zone must be an IANA name such as UTC or Europe/Berlin; got %s", chartmogul.Quote(a.TimeZone))
	}
	if a.WeekStartOn != "sunday" && a.WeekStartOn != "monday" {
		return chartmogul.Errorf(chartmogul.EINVALID, "week start must be sunday or monday; got %s", chartmogul.Quote(a.WeekStartOn))
	}
	if a.ChurnRecognition != ChurnAtCancellation && a.ChurnRecognition != ChurnAtPeriodEnd {
		return chartmogul.Errorf(chartmogul.EINVALID, "churn recognition must be %s or %s; got %s", ChurnAtCancellation, ChurnAtPeriodEnd, chartmogul.Quote(a.ChurnRecognition))
	}
	return nil
}

// Settings returns the analytics.Settings of these account settings, as of
// asOf.
func (a *AnalyticsSettings) Settings(asOf time.Time) (analytics.Settings, error) {
	loc, err := location(a.TimeZone)
	if err != nil {
		return analytics.Settings{}, fmt.Errorf("the account's time zone %s is unknown: %w", chartmogul.Quote(a.TimeZone), err)
	}
	s := analytics.Settings{BaseCurrency: a.Currency, Location: loc, AsOf: asOf}
	if a.ChurnRecognition == ChurnAtPeriodEnd {
		s.ChurnRecognition = analytics.ChurnAtPeriodEnd
	}
	if a.ChurnWhenZeroMRR {
		s.FreeCustomerHandling = analytics.FreeIsChurn
	}
	return s, nil
}

var locations sync.Map // name → *time.Location

// location loads a time zone once.
func location(name string) (*time.Location, error) {
	if l, ok := locations.Load(name); ok {
		return l.(*time.Location), nil
	}
	l, err := time.LoadLocation(name)
	if err != nil {
		return nil, err
	}
	locations.Store(name, l)
	return l, nil
}

const analyticsSettingsColumns = `currency, time_zone, week_start_on, churn_recognition, churn_when_zero_mrr`

func scanAnalyticsSettings(r row, extra ...any) (*AnalyticsSettings, error) {
	var a AnalyticsSettings
	if err := r.Scan(append(extra, &a.Currency, &a.TimeZone, &a.WeekStartOn, &a.ChurnRecognition, &a.ChurnWhenZeroMRR)...); err != nil {
		return nil, err
	}
	return &a, nil
}

// AnalyticsSettings returns an account's analytics settings, or ENOTFOUND.
func (s *Store) AnalyticsSettings(ctx context.Context, accountID int64) (*AnalyticsSettings, error) {
	a, err := scanAnalyticsSettings(s.eng.read().queryRow(ctx, `SELECT `+analyticsSettingsColumns+` FROM accounts WHERE id = $1`, accountID))
	if isNoRows(err) {
		return nil, chartmogul.NotFound("Account")
	}
	return a, internal("read analytics settings", err)
}

// UpdateAnalyticsSettings changes an account's settings with change, checks
// them (EINVALID naming the wrong one), stores them and, when they changed,
// queues the recompute of every customer of the account in the same
// transaction. It returns the settings as stored.
func (s *Store) UpdateAnalyticsSettings(ctx context.Context, accountID int64, change func(a *AnalyticsSettings) error) (*AnalyticsSettings, error) {
	var out *AnalyticsSettings
	err := s.eng.writeTx(ctx, func(tx *txn) error {
		old, err := scanAnalyticsSettings(tx.queryRow(ctx, `SELECT `+analyticsSettingsColumns+` FROM accounts WHERE id = $1`, accountID))
		if isNoRows(err) {
			return chartmogul.NotFound("Account")
		}
		if err != nil {
			return internal("read analytics settings", err)
		}
		a := *old
		if err := change(&a); err != nil {
			return err
		}
		if err := a.Validate(); err != nil {
			return err
		}
		out = &a
		if a == *old {
			return nil
		}
		_, err = tx.exec(ctx, `UPDATE accounts SET currency = $1, time_zone = $2, week_start_on = $3, churn_recognition = $4, churn_when_zero_mrr = $5 WHERE id = $6`,
			a.Currency, a.TimeZone, a.WeekStartOn, a.ChurnRecognition, a.ChurnWhenZeroMRR, accountID)
		if err != nil {
			return internal("update analytics settings", err)
		}
		return internal("queue the analytics recompute", s.queue.insertJobTx(ctx, tx, RecomputeArgs{AccountID: accountID, All: true}, nil))
	})
	return out, err
}

// RateBooks caches a RateBook per base currency across recomputes: each
// book reloads itself when the stored rates change. It is safe for
// concurrent use; the zero value is ready.
type RateBooks struct {
	mu    sync.Mutex
	books map[string]*RateBook
}

// book returns the book converting into base from the stored rates of
// version, replacing one of an older version.
func (r *RateBooks) book(base string, version int64) *RateBook {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.books == nil {
		r.books = map[string]*RateBook{}
	}
	b := r.books[base]
	if b == nil || b.version != version {
		b = NewRateBook(base, version)
		r.books[base] = b
	}
	return b
}

// RecomputeBatch is what one recompute transaction read for the customers
// of one account: the settings, everything recorded about each customer,
// and the rates into the account currency (prepared for the currencies the
// line items use).
type RecomputeBatch struct {
	AccountID int64
	Settings  analytics.Settings
	Inputs    []analytics.CustomerInput
	Rates     *RateBook
}

// CustomerOutcome is what computing one input of a RecomputeBatch gave:
// the result, or a Problem (a sentence naming what is missing or wrong,
// such as the currency and day of a missing exchange rate).
type CustomerOutcome struct {
	Result  analytics.CustomerResult
	Problem string
}

// RecomputeCustomers recomputes the analytics of customers in one write
// transaction; it is RecomputeBatches with one batch.
func (s *Store) RecomputeCustomers(ctx context.Context, ids []int64, asOf time.Time, books *RateBooks, compute func(b *RecomputeBatch) []CustomerOutcome) (int, error) {
	return s.RecomputeBatches(ctx, [][]int64{ids}, asOf, books, compute)
}

// RecomputeBatches recomputes the analytics of batches of customers in one
// write transaction. It takes the sequence number of each account concerned
// (serialising recomputes per account), then, batch after batch, reads
// everything recorded about the batch's customers with one query per table,
// hands each account's part to compute, which returns one outcome per input
// in order, and replaces the customers' derived rows with the outcomes.
// The next batch is read while the previous one is computed and written.
//
// Customers merged into another (across data sources) are computed as part
// of the customer they were merged into, which holds the derived rows of
// the whole group. Customers that no longer exist lose what is left of
// theirs. It returns how many customers' rows it wrote or confirmed.
func (s *Store) RecomputeBatches(ctx context.Context, batches [][]int64, asOf time.Time, books *RateBooks, compute func(b *RecomputeBatch) []CustomerOutcome) (int, error) {
	var all []int64
	for _, b := range batches {
		all = append(all, b...)
	}
	if len(all) == 0 {
		return 0, nil
	}
	written := 0
	err := s.eng.writeTx(ctx, func(tx *txn) error {
		if tx.eng == Postgres {
			if _, err := tx.exec(ctx, pgRecomputeSettings); err != nil {
				return internal("set up the recompute", err)
			}
		}
		accounts, err := (&loader{ctx: ctx, tx: tx}).accounts(all)
		if err != nil {
			return err
		}
		if len(accounts) == 0 {
			return (&loader{ctx: ctx, tx: tx}).write(all, nil, nil) // they are all gone
		}
		type account struct {
			seq      int64
			settings analytics.Settings
			rates    *RateBook
		}
		version, err := ratesVersion(ctx, tx)
		if err != nil {
			return err
		}
		accts := make(map[int64]*account, len(accounts))
		for _, id := range accounts {
			var seq int64
			a, err := scanAnalyticsSettings(tx.queryRow(ctx, `UPDATE accounts SET analytics_seq = analytics_seq + 1 WHERE id = $1
				RETURNING analytics_seq, `+analyticsSettingsColumns, id), &seq)
			if err != nil {
				return internal("take the analytics sequence", err)
			}
			set, err := a.Settings(asOf)
			if err != nil {
				return err
			}
			accts[id] = &account{seq: seq, settings: set, rates: books.book(a.Currency, version)}
		}
		seqs := make(map[int64]int64, len(accts))
		for id, a := range accts {
			seqs[id] = a.seq
		}
		// The readers see what this transaction sees: on SQLite, the
		// read-only connections (this transaction holds the only write
		// lock); on PostgreSQL, transactions on the snapshot exported now
		// that the sequences are taken.
		var readers func(ctx context.Context, n int) ([]querier, func(), error)
		switch e := s.eng.(type) {
		case *sqliteEngine:
			readers = func(ctx context.Context, n int) ([]querier, func(), error) {
				qs := make([]querier, n)
				for i := range qs {
					qs[i] = e.read()
				}
				return qs, func() {}, nil
			}
		case *postgresEngine:
			var snapshot string
			if err := tx.queryRow(ctx, `SELECT pg_export_snapshot()`).Scan(&snapshot); err != nil {
				return internal("export the recompute's snapshot", err)
			}
			readers = func(ctx context.Context, n int) ([]querier, func(), error) {
				return snapshotReaders(ctx, e, snapshot, min(n, pgReaders))
			}
		}

		// Read batch after batch in the background, one batch ahead.
		lctx, cancel := context.WithCancel(ctx)
		loaded := make(chan *loader, 1)
		var wg sync.WaitGroup
		wg.Go(func() {
			defer close(loaded)
			for _, ids := range batches {
				ld := &loader{ctx: lctx, tx: tx, readers: readers}
				ld.err = ld.load(ids)
				ld.requested = ids
				select {
				case loaded <- ld:
				case <-lctx.Done():
					return
				}
				if ld.err != nil {
					return
				}
			}
		})
		defer func() {
			cancel()
			for range loaded { // let the reader finish
			}
			wg.Wait()
		}()
		for ld := range loaded {
			if ld.err != nil {
				return ld.err
			}
			outcomes := map[int64]*CustomerOutcome{}
			for _, id := range accounts {
				a := accts[id]
				b := &RecomputeBatch{AccountID: id, Settings: a.settings, Rates: a.rates}
				var currencies []string
				for _, g := range ld.groups {
					if g.account == id {
						b.Inputs = append(b.Inputs, g.in)
						currencies = append(currencies, g.currencies...)
					}
				}
				if len(b.Inputs) == 0 {
					continue
				}
				slices.Sort(currencies)
				if err := b.Rates.prepare(ctx, tx, tx.eng, slices.Compact(currencies)); err != nil {
					return err
				}
				out := compute(b)
				if len(out) != len(b.Inputs) {
					return fmt.Errorf("store: recompute returned %d outcomes for %d customers", len(out), len(b.Inputs))
				}
				for i := range out {
					outcomes[b.Inputs[i].CustomerID] = &out[i]
				}
			}
			written += len(ld.members)
			ld.ctx = ctx
			if err := ld.write(ld.requested, seqs, outcomes); err != nil {
				return err
			}
		}
		return nil
	})
	return written, err
}

// group is one analytics customer: a customer with the customers merged
// into it.
type group struct {
	account    int64
	in         analytics.CustomerInput
	currencies []string
	// subs maps the group's import-side subscriptions to their row ids.
	subs map[subRef]int64
}

type subRef struct {
	ds  int64
	ext string
}

// loader reads a recompute batch and writes its outcome inside the batch's
// write transaction.
//
// The reads run in parallel on other connections that see exactly what the
// transaction sees. On SQLite they go through the read-only connections:
// the batch's transaction holds SQLite's only write lock, so no record can
// change while it runs. On PostgreSQL they go through read-only
// transactions on the snapshot the batch's transaction exports right after
// taking its accounts' locks. Reading in parallel uses the second core (and,
// on PostgreSQL, a second server process); the line items, the largest
// read by far, are split in two.
type loader struct {
	ctx context.Context
	// tx is the batch's transaction: it writes, and reads only the
	// customers' accounts before the readers exist.
	tx *txn
	// readers opens n connections that see what tx sees, and the function
	// that releases them.
	readers func(ctx context.Context, n int) ([]querier, func(), error)
	// requested are the customer ids the batch was asked for; err is what
	// reading it failed with.
	requested []int64
	err       error
	// members are every customer whose rows the batch replaces, with the
	// group (root customer id) each belongs to.
	members   map[int64]int64
	memberIDs []int64
	groups    map[int64]*group
	// digests are the stored digests of the members' derived rows.
	digests map[int64]int64
}

func (ld *loader) list(ids []int64) any { return listArg(ld.tx.eng, ids) }

func (ld *loader) in(col string, n int) string { return inList(ld.tx.eng, col, n) }

// accounts returns the accounts of the customers, ascending: the order in
// which their sequences are taken, so concurrent recomputes never wait on
// each other in a cycle.
func (ld *loader) accounts(ids []int64) ([]int64, error) {
	var out []int64
	err := each(ld.ctx, ld.tx, `SELECT DISTINCT account_id FROM customers WHERE `+ld.in("id", 1)+` ORDER BY account_id`, []any{ld.list(ids)}, func(r rows) error {
		var id int64
		err := r.Scan(&id)
		out = append(out, id)
		return err
	})
	return out, internal("find the customers' accounts", err)
}

// parallel runs read functions at once on connections from qs, as many at
// a time as there are connections, and returns the errors joined.
func parallel(qs []querier, fns ...func(q querier) error) error {
	work := make(chan func(q querier) error, len(fns))
	for _, fn := range fns {
		work <- fn
	}
	close(work)
	errs := make([]error, len(qs))
	var wg sync.WaitGroup
	for i, q := range qs {
		wg.Go(func() {
			var list []error
			for fn := range work {
				list = append(list, fn(q))
			}
			errs[i] = errors.Join(list...)
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// pgRecomputeSettings are the planner settings of a recompute's
// transactions on PostgreSQL. Every statement of a recompute finds rows by
// a list of ids through an index, and a plan that scans a whole table is
// always wrong for it; but the planner chooses one when the statistics are
// stale (right after a large import, before autovacuum analyses the tables,
// or never when autovacuum is off), or for the generic plan of a statement
// run again and again, which cannot see how short the lists are. So
// sequential scans are priced out (measured: 40 ms against 1.5 ms for one
// batch's line items on an unanalysed table).
const pgRecomputeSettings = `SET LOCAL enable_seqscan = off`

// pgReaders is how many connections a PostgreSQL recompute reads through
// at once, beside its transaction's.
const pgReaders = 2

// snapshotReaders opens n read-only transactions on the snapshot a
// recompute's transaction exported: they see exactly what it sees.
func snapshotReaders(ctx context.Context, e *postgresEngine, snapshot string, n int) ([]querier, func(), error) {
	var txs []pgx.Tx
	release := func() {
		for _, tx := range txs {
			tx.Rollback(context.WithoutCancel(ctx))
		}
	}
	qs := make([]querier, 0, n)
	for range n {
		tx, err := e.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
		if err != nil {
			release()
			return nil, nil, internal("begin a read", err)
		}
		txs = append(txs, tx)
		if _, err := tx.Exec(ctx, `SET TRANSACTION SNAPSHOT '`+snapshot+`'; `+pgRecomputeSettings); err != nil {
			release()
			return nil, nil, internal("share the recompute's snapshot", err)
		}
		qs = append(qs, pgQuerier{tx})
	}
	return qs, release, nil
}

// Rows as read, before they are assigned to their groups.
type (
	itemRow struct {
		cust, sub, plan int64
		ext             string
		inv             invoiceRow
		it              analytics.LineItem
	}
	invoiceRow struct {
		currency string
		date     int64
		ext      string
	}
	subscriptionRow struct {
		id, cust, ds  int64
		ext, set      string
		cancellations []time.Time
	}
	transactionRow struct {
		cust int64
		t    analytics.Transaction
	}
	eventRow struct {
		cust int64
		ev   analytics.SubscriptionEvent
	}
)

// load reads the customers, their groups and every record analytics needs.
func (ld *loader) load(ids []int64) error {
	ctx := ld.ctx
	conns, release, err := ld.readers(ctx, 8)
	if err != nil {
		return err
	}
	defer release()
	tx := conns[0]
	// The groups the customers belong to: a customer merged into another
	// (across data sources) is computed with it. One query reads the
	// customers asked for, the ones they were merged into, and every
	// customer merged into either.
	type member struct {
		id, account int64
		country     string
		into        sql.NullInt64
	}
	requested := make(map[int64]bool, len(ids))
	for _, id := range ids {
		requested[id] = true
	}
	const cols = `SELECT id, account_id, country, merged_into_id FROM customers WHERE `
	var all []member
	seenIDs := map[int64]bool{}
	err = each(ctx, tx, cols+ld.in("id", 1)+
		` UNION `+cols+`id IN (SELECT merged_into_id FROM customers WHERE `+ld.in("id", 1)+`)`+
		` UNION `+cols+`merged_into_id IN (SELECT COALESCE(merged_into_id, id) FROM customers WHERE `+ld.in("id", 1)+`)`,
		[]any{ld.list(ids)}, func(r rows) error {
			var m member
			if err := r.Scan(&m.id, &m.account, &m.country, &m.into); err != nil {
				return err
			}
			if !seenIDs[m.id] {
				seenIDs[m.id] = true
				all = append(all, m)
			}
			return nil
		})
	if err != nil {
		return internal("load customers", err)
	}
	roots := map[int64]bool{}
	for _, m := range all {
		if requested[m.id] {
			if m.into.Valid {
				roots[m.into.Int64] = true
			} else {
				roots[m.id] = true
			}
		}
	}
	ld.members, ld.groups = map[int64]int64{}, map[int64]*group{}
	accounts := map[int64]bool{}
	for _, m := range all {
		root := m.id
		if m.into.Valid && roots[m.into.Int64] {
			root = m.into.Int64
		} else if !roots[m.id] {
			continue // the customer a requested one was merged into is not a root
		}
		ld.members[m.id] = root
		if root == m.id {
			ld.groups[root] = &group{account: m.account, in: analytics.CustomerInput{CustomerID: root, Country: strings.ToUpper(m.country)}, subs: map[subRef]int64{}}
			accounts[m.account] = true
		}
	}
	for id, root := range ld.members {
		if ld.groups[root] == nil { // the root no longer exists
			delete(ld.members, id)
		}
	}
	ld.memberIDs = slices.Sorted(mapKeys(ld.members))
	if len(ld.memberIDs) == 0 {
		return nil
	}
	members := ld.list(ld.memberIDs)
	half := ld.memberIDs[:len(ld.memberIDs)/2]
	rest := ld.memberIDs[len(ld.memberIDs)/2:]

	var items [2][]itemRow
	var subs []subscriptionRow
	var txs []transactionRow
	var events []eventRow
	plans := map[int64]analytics.Plan{}
	ld.digests = map[int64]int64{}
	readItems := func(part []int64, dst *[]itemRow) func(q querier) error {
		return func(q querier) error {
			if len(part) == 0 {
				return nil
			}
			// Subscription and trial line items: only what MRR depends on
			// is read, since this is the largest read of a recompute.
			// (Discounts are already in the amount; the invoice date and
			// status change nothing under the settings Recur offers.) Their
			// invoices are read on their own rather than joined row by row.
			err := each(ctx, q, `SELECT id, customer_id, invoice_id, COALESCE(external_id, ''), type, data_source_id, COALESCE(subscription_id, 0),
					COALESCE(plan_id, 0), service_period_start, service_period_end, amount_in_cents, tax_amount_in_cents, quantity,
					prorated, proration_type, cancelled_at, event_order
				FROM line_items WHERE `+ld.in("customer_id", 1)+` AND type IN ('subscription', 'trial') AND NOT disabled`,
				[]any{ld.list(part)}, func(r rows) error {
					var x itemRow
					it := &x.it
					var start, end, cancelled, order sql.NullInt64
					err := r.Scan(&it.ID, &x.cust, &it.InvoiceID, &x.ext, &it.Type, &it.DataSourceID, &x.sub, &x.plan,
						&start, &end, &it.AmountInCents, &it.TaxAmountInCents, &it.Quantity, &it.Prorated, &it.ProrationType, &cancelled, &order)
					if err != nil {
						return err
					}
					if start.Valid {
						it.ServicePeriodStart = fromMicros(start.Int64)
					}
					if end.Valid {
						it.ServicePeriodEnd = fromMicros(end.Int64)
					}
					it.CancelledAt, it.EventOrder = optTime(cancelled), optInt(order)
					*dst = append(*dst, x)
					return nil
				})
			return internal("load line items", err)
		}
	}
	invoices := map[int64]invoiceRow{}
	connections := map[int64]int64{} // subscription → group
	err = parallel(conns, readItems(half, &items[0]), readItems(rest, &items[1]),
		func(q querier) error {
			// The enabled invoices: their currency, and what orders their
			// items.
			err := each(ctx, q, `SELECT id, currency, date, external_id FROM invoices WHERE `+ld.in("customer_id", 1)+` AND NOT disabled`, []any{members}, func(r rows) error {
				var id int64
				var inv invoiceRow
				err := r.Scan(&id, &inv.currency, &inv.date, &inv.ext)
				invoices[id] = inv
				return err
			})
			return internal("load invoices", err)
		},
		func(q querier) error {
			// Import-side subscriptions: row ids, external and set ids,
			// cancellation dates.
			err := each(ctx, q, `SELECT id, customer_id, data_source_id, external_id, set_external_id, cancellation_dates FROM subscriptions WHERE `+ld.in("customer_id", 1),
				[]any{members}, func(r rows) error {
					var x subscriptionRow
					var dates string
					if err := r.Scan(&x.id, &x.cust, &x.ds, &x.ext, &x.set, &dates); err != nil {
						return err
					}
					if dates != "" && dates != "[]" {
						var err error
						if x.cancellations, err = parseCancellationDates(dates); err != nil {
							return fmt.Errorf("subscription %d has unreadable cancellation dates: %w", x.id, err)
						}
					}
					subs = append(subs, x)
					return nil
				})
			return internal("load subscriptions", err)
		},
		func(q querier) error {
			// The plans of the accounts: few, and read once rather than
			// joined to every line item.
			err := each(ctx, q, `SELECT id, external_id, interval_count, interval_unit FROM plans WHERE `+ld.in("account_id", 1),
				[]any{ld.list(slices.Sorted(mapKeys(accounts)))}, func(r rows) error {
					var p analytics.Plan
					var unit string
					var count int64
					if err := r.Scan(&p.ID, &p.ExternalID, &count, &unit); err != nil {
						return err
					}
					p.IntervalCount, p.IntervalUnit = int(count), analytics.IntervalUnit(unit)
					plans[p.ID] = p
					return nil
				})
			return internal("load plans", err)
		},
		func(q querier) error {
			// Payments of invoices with a failed payment: the only
			// transactions that change anything (a subscription is past due
			// when the invoice of its latest item has a failed payment and
			// no successful one). A partial index holds the failed ones;
			// the invoices are listed first, in two plain indexed reads
			// rather than a semi-join a planner can get wrong.
			var failed []int64
			err := each(ctx, q, `SELECT DISTINCT invoice_id FROM transactions WHERE `+ld.in("customer_id", 1)+` AND result = 'failed' AND NOT disabled`,
				[]any{members}, func(r rows) error {
					var id int64
					err := r.Scan(&id)
					failed = append(failed, id)
					return err
				})
			if err == nil && len(failed) > 0 {
				err = each(ctx, q, `SELECT customer_id, invoice_id, type, result, date, amount_in_cents FROM transactions
					WHERE `+ld.in("invoice_id", 1)+` AND type = 'payment' AND NOT disabled`,
					[]any{ld.list(failed)}, func(r rows) error {
						var x transactionRow
						var date int64
						var amount sql.NullInt64
						if err := r.Scan(&x.cust, &x.t.InvoiceID, &x.t.Type, &x.t.Result, &date, &amount); err != nil {
							return err
						}
						x.t.Date, x.t.AmountInCents = fromMicros(date), optInt(amount)
						txs = append(txs, x)
						return nil
					})
			}
			if err != nil {
				return internal("load transactions", err)
			}
			return nil
		},
		func(q querier) error {
			// Cancellation events and the retractions that may withdraw
			// them.
			err := each(ctx, q, `SELECT e.id, e.customer_id, COALESCE(e.external_id, ''), e.event_type, e.event_date, e.effective_date, e.data_source_id,
					e.subscription_external_id, e.subscription_set_external_id, e.retracted_event_id, e.retracts_event_id
				FROM subscription_events e WHERE `+ld.in("e.customer_id", 1)+` AND NOT e.disabled
					AND e.event_type IN ('subscription_cancelled', 'subscription_event_retracted')`, []any{members}, func(r rows) error {
				var x eventRow
				ev := &x.ev
				var date, effective int64
				var retracts sql.NullInt64
				err := r.Scan(&ev.ID, &x.cust, &ev.ExternalID, &ev.EventType, &date, &effective, &ev.DataSourceID,
					&ev.SubscriptionExternalID, &ev.SubscriptionSetExternalID, &ev.RetractedEventID, &retracts)
				if err != nil {
					return err
				}
				ev.EventDate, ev.EffectiveDate = fromMicros(date), fromMicros(effective)
				if retracts.Valid {
					// The retraction was resolved to its event when it was
					// written.
					ev.RetractedEventID = strconv.FormatInt(retracts.Int64, 10)
				}
				events = append(events, x)
				return nil
			})
			if err != nil {
				return internal("load subscription events", err)
			}
			return nil
		},
		func(q querier) error {
			// Connected subscriptions.
			err := each(ctx, q, `SELECT sc.subscription_id, sc.group_id FROM subscription_connections sc JOIN subscriptions s ON s.id = sc.subscription_id
				WHERE `+ld.in("s.customer_id", 1), []any{members}, func(r rows) error {
				var sub, group int64
				err := r.Scan(&sub, &group)
				connections[sub] = group
				return err
			})
			return internal("load connected subscriptions", err)
		},
		func(q querier) error {
			// The digests of the rows stored now.
			err := each(ctx, q, `SELECT customer_id, digest FROM customer_analytics WHERE `+ld.in("customer_id", 1), []any{members}, func(r rows) error {
				var id, digest int64
				err := r.Scan(&id, &digest)
				ld.digests[id] = digest
				return err
			})
			return internal("load analytics digests", err)
		})
	if err != nil {
		return err
	}

	// Assign the rows to their groups.
	groupOf := func(customerID int64) *group { return ld.groups[ld.members[customerID]] }
	subsByID := make(map[int64]*subscriptionRow, len(subs))
	subsByRef := make(map[subRef]*subscriptionRow, len(subs))
	for i := range subs {
		x := &subs[i]
		subsByID[x.id], subsByRef[subRef{x.ds, x.ext}] = x, x
	}
	carried := connect(connections, subsByID, items)
	for i := range subs {
		x := &subs[i]
		g := groupOf(x.cust)
		g.subs[subRef{x.ds, x.ext}] = x.id
		if carried[x.id] != nil {
			continue // a connected subscription another carries on
		}
		for _, t := range x.cancellations {
			g.in.Cancellations = append(g.in.Cancellations, analytics.Cancellation{DataSourceID: x.ds, SubscriptionExternalID: x.ext, CancelledAt: t})
		}
	}
	byGroup := map[*group][]*itemRow{}
	for _, part := range items {
		for i := range part {
			x := &part[i]
			inv, ok := invoices[x.it.InvoiceID]
			if !ok {
				continue // its invoice is disabled
			}
			x.inv, x.it.Currency = inv, inv.currency
			if sr := subsByID[x.sub]; sr != nil {
				x.it.SubscriptionExternalID, x.it.SubscriptionSetExternalID = sr.ext, sr.set
			}
			if p := carried[x.sub]; p != nil {
				// Computed as part of the subscription that carries it on;
				// only that one's cancellations end the group.
				x.it.DataSourceID, x.it.SubscriptionExternalID, x.it.SubscriptionSetExternalID = p.ds, p.ext, p.set
				x.it.CancelledAt = nil
			}
			x.it.Plan = plans[x.plan]
			g := groupOf(x.cust)
			byGroup[g] = append(byGroup[g], x)
		}
	}
	for g, list := range byGroup {
		// Items of a subscription starting at the same instant are
		// processed in order of event_order, then of "creation" (metrics.md
		// §2.3). Creation is taken as the billing system's own order — the
		// invoice's date and external id, then the item's external id and
		// content — never the order in which the records reached Recur, so
		// that the result does not depend on how they were imported.
		slices.SortFunc(list, compareItemRows)
		seen := map[string]bool{}
		g.in.LineItems = make([]analytics.LineItem, len(list))
		for i, x := range list {
			x.it.CreatedSeq = int64(i + 1)
			g.in.LineItems[i] = x.it
			if cur := x.it.Currency; !seen[cur] {
				seen[cur] = true
				g.currencies = append(g.currencies, cur)
			}
		}
	}
	for _, x := range txs {
		g := groupOf(x.cust)
		g.in.Transactions = append(g.in.Transactions, x.t)
	}
	for _, x := range events {
		if sr := subsByRef[subRef{x.ev.DataSourceID, x.ev.SubscriptionExternalID}]; sr != nil && carried[sr.id] != nil &&
			x.ev.EventType == analytics.EventSubscriptionCancelled {
			continue // the cancellation of a subscription another carries on
		}
		g := groupOf(x.cust)
		g.in.Events = append(g.in.Events, x.ev)
	}
	return nil
}

// connect returns, for each connected subscription that another carries
// on, the one that does: in each group of connected subscriptions present,
// the one whose first item starts last (ties: the larger external id, then
// the larger row id).
func connect(connections map[int64]int64, subs map[int64]*subscriptionRow, items [2][]itemRow) map[int64]*subscriptionRow {
	if len(connections) == 0 {
		return nil
	}
	first := map[int64]time.Time{}
	for _, part := range items {
		for i := range part {
			x := &part[i]
			if _, ok := connections[x.sub]; !ok {
				continue
			}
			if t, ok := first[x.sub]; !ok || x.it.ServicePeriodStart.Before(t) {
				first[x.sub] = x.it.ServicePeriodStart
			}
		}
	}
	groups := map[int64][]*subscriptionRow{}
	for sub, g := range connections {
		if sr := subs[sub]; sr != nil {
			groups[g] = append(groups[g], sr)
		}
	}
	out := map[int64]*subscriptionRow{}
	for _, list := range groups {
		if len(list) < 2 {
			continue
		}
		lead := slices.MaxFunc(list, func(a, b *subscriptionRow) int {
			if c := first[a.id].Compare(first[b.id]); c != 0 {
				return c
			}
			if c := strings.Compare(a.ext, b.ext); c != 0 {
				return c
			}
			return cmp.Compare(a.id, b.id)
		})
		for _, sr := range list {
			if sr != lead {
				out[sr.id] = lead
			}
		}
	}
	return out
}

// compareItemRows orders a customer's line items by what the billing
// system says about them, never by their row ids.
func compareItemRows(a, b *itemRow) int {
	if c := cmp.Compare(a.inv.date, b.inv.date); c != 0 {
		return c
	}
	if c := strings.Compare(a.inv.ext, b.inv.ext); c != 0 {
		return c
	}
	if c := strings.Compare(a.ext, b.ext); c != 0 {
		return c
	}
	x, y := &a.it, &b.it
	if c := x.ServicePeriodStart.Compare(y.ServicePeriodStart); c != 0 {
		return c
	}
	if c := x.ServicePeriodEnd.Compare(y.ServicePeriodEnd); c != 0 {
		return c
	}
	if c := cmp.Or(cmp.Compare(x.AmountInCents, y.AmountInCents), cmp.Compare(x.TaxAmountInCents, y.TaxAmountInCents),
		cmp.Compare(x.Quantity, y.Quantity), strings.Compare(x.Type, y.Type), strings.Compare(x.ProrationType, y.ProrationType),
		strings.Compare(x.Plan.ExternalID, y.Plan.ExternalID), strings.Compare(x.SubscriptionExternalID, y.SubscriptionExternalID)); c != 0 {
		return c
	}
	switch {
	case x.Prorated == y.Prorated:
		return 0
	case x.Prorated:
		return 1
	}
	return -1
}

// parseCancellationDates reads a subscription's stored cancellation_dates:
// a JSON list of timestamps (any form chartmogul.ParseTime reads) or of
// microseconds since the epoch.
func parseCancellationDates(s string) ([]time.Time, error) {
	var raw []any
	if err := json.Unmarshal([]byte(s), &raw); err != nil {
		return nil, err
	}
	out := make([]time.Time, 0, len(raw))
	for _, v := range raw {
		switch x := v.(type) {
		case string:
			t, err := chartmogul.ParseTime(x)
			if err != nil {
				return nil, err
			}
			out = append(out, t)
		case float64:
			out = append(out, fromMicros(int64(x)))
		default:
			return nil, fmt.Errorf("a cancellation date is %v", v)
		}
	}
	return out, nil
}

// write replaces the members' derived rows with the outcomes. A member
// whose rows would come out the same as stored (same digest) is left
// alone: a recompute that changes nothing writes nothing, and the metrics
// readers have nothing new to load.
//
// The subscriptions and activities of the requested customers that no
// longer exist are deleted too (they have no foreign key to go with them).
func (ld *loader) write(requested []int64, seqs map[int64]int64, outcomes map[int64]*CustomerOutcome) error {
	ctx, tx := ld.ctx, ld.tx
	var gone []int64
	for _, id := range requested {
		if _, ok := ld.members[id]; !ok {
			gone = append(gone, id)
		}
	}
	if len(gone) > 0 {
		for _, t := range []string{"analytics_activities", "analytics_subscriptions"} {
			if _, err := tx.exec(ctx, `DELETE FROM `+t+` WHERE `+ld.in("customer_id", 1), ld.list(gone)); err != nil {
				return internal("delete derived rows", err)
			}
		}
	}
	if len(ld.memberIDs) == 0 {
		return nil
	}
	type custRow struct {
		id, account, seq int64
		status           string
		mrr              int64
		since            any
		problem          string
		contribution     []byte
	}
	type subRow struct {
		cust, account, subID int64
		pos                  int
		s                    *analytics.Subscription
	}
	type actRow struct {
		cust, account int64
		pos           int
		m             *analytics.Movement
	}
	var crows []custRow
	var srows []subRow
	var arows []actRow
	var changed []int64
	h := fnv.New64a()
	var buf []byte
	for _, id := range ld.memberIDs {
		root := ld.members[id]
		g := ld.groups[root]
		row := custRow{id: id, account: g.account, seq: seqs[g.account]}
		var subs []analytics.Subscription
		var moves []analytics.Movement
		if out := outcomes[root]; id == root && out != nil {
			if out.Problem != "" {
				row.problem = out.Problem
			} else {
				res := &out.Result
				if len(res.Subscriptions) > 0 && res.Status != analytics.StatusLead {
					row.status = string(res.Status)
				}
				row.mrr = res.MRRInCents
				if !res.CustomerSince.IsZero() {
					row.since = micros(res.CustomerSince)
				}
				row.contribution = encodeContribution(&res.Contribution)
				subs, moves = res.Subscriptions, res.Movements
			}
		} // else a merged customer: its group's root holds its analytics.

		// The digest covers every value the rows store.
		buf = buf[:0]
		buf = fmt.Appendf(buf, "%s|%d|%v|%s|%x|", row.status, row.mrr, row.since, row.problem, row.contribution)
		for i := range subs {
			sub := &subs[i]
			buf = fmt.Appendf(buf, "s%d|%d|%s|%s|%d|%d|%s|%d|%s|%d|%d|%d|%t|%t|", g.subs[subRef{sub.DataSourceID, sub.ExternalID}], sub.DataSourceID,
				sub.ExternalID, sub.SetExternalID, sub.Plan.ID, sub.Quantity, sub.Status, sub.MRRInCents, sub.Currency, sub.StartedAt.UnixMicro(),
				sub.EndsAt.UnixMicro(), sub.CancelledAt.UnixMicro(), sub.Free, sub.Trial)
		}
		for i := range moves {
			m := &moves[i]
			buf = fmt.Appendf(buf, "m%d|%s|%d|%d|%d|%s|%s|%d|%d|", m.At.UnixMicro(), m.Type, m.AmountInCents, m.CustomerMRRInCents, m.DataSourceID,
				m.SubscriptionExternalID, m.SetExternalID, m.PlanID, m.PreviousPlanID)
		}
		h.Reset()
		h.Write(buf)
		digest := int64(h.Sum64())
		if old, ok := ld.digests[id]; ok && old == digest {
			continue
		}
		changed = append(changed, id)
		crows = append(crows, row)
		ld.digests[id] = digest
		for i := range subs {
			s := &subs[i]
			srows = append(srows, subRow{cust: id, account: g.account, subID: g.subs[subRef{s.DataSourceID, s.ExternalID}], pos: i, s: s})
		}
		for i := range moves {
			arows = append(arows, actRow{cust: id, account: g.account, pos: i, m: &moves[i]})
		}
	}
	if len(changed) == 0 {
		return nil
	}
	arg := []any{ld.list(changed)}
	for _, t := range []string{"analytics_activities", "analytics_subscriptions", "customer_analytics"} {
		if _, err := tx.exec(ctx, `DELETE FROM `+t+` WHERE `+ld.in("customer_id", 1), arg...); err != nil {
			return internal("replace derived rows", err)
		}
	}
	err := tx.bulk(ctx, "customer_analytics", []string{"customer_id", "account_id", "seq", "status", "mrr", "customer_since", "error", "contribution", "digest"}, len(crows),
		func(i int, dst []any) []any {
			r := &crows[i]
			var contribution any
			if r.contribution != nil {
				contribution = r.contribution
			}
			return append(dst, r.id, r.account, r.seq, r.status, r.mrr, r.since, r.problem, contribution, ld.digests[r.id])
		})
	if err != nil {
		return internal("write customer analytics", err)
	}
	err = tx.bulk(ctx, "analytics_subscriptions", []string{"customer_id", "position", "account_id", "subscription_id", "data_source_id", "external_id",
		"set_external_id", "plan_id", "quantity", "status", "mrr", "currency", "started_at", "ends_at", "cancelled_at", "free", "trial"}, len(srows),
		func(i int, dst []any) []any {
			r := &srows[i]
			s := r.s
			var cancelled any
			if !s.CancelledAt.IsZero() {
				cancelled = micros(s.CancelledAt)
			}
			return append(dst, r.cust, r.pos, r.account, idOrNil(r.subID), s.DataSourceID, s.ExternalID, s.SetExternalID, idOrNil(s.Plan.ID),
				s.Quantity, string(s.Status), s.MRRInCents, s.Currency, micros(s.StartedAt), micros(s.EndsAt), cancelled, s.Free, s.Trial)
		})
	if err != nil {
		return internal("write derived subscriptions", err)
	}
	err = tx.bulk(ctx, "analytics_activities", []string{"account_id", "customer_id", "position", "at", "type", "amount", "customer_mrr", "data_source_id",
		"subscription_external_id", "set_external_id", "plan_id", "previous_plan_id"}, len(arows),
		func(i int, dst []any) []any {
			r := &arows[i]
			m := r.m
			return append(dst, r.account, r.cust, r.pos, micros(m.At), string(m.Type), m.AmountInCents, m.CustomerMRRInCents, m.DataSourceID,
				m.SubscriptionExternalID, m.SetExternalID, idOrNil(m.PlanID), idOrNil(m.PreviousPlanID))
		})
	return internal("write activities", err)
}

// Contributions are stored in a compact binary form: a version byte, then
// varints, days as deltas. A contribution of five years of monthly
// billing takes about a hundred bytes, and decoding 100,000 of them takes a
// few tens of milliseconds, which bounds how long a process takes to load
// an account's metrics the first time.
const contributionFormat = 1

func encodeContribution(c *analytics.Contribution) []byte {
	b := make([]byte, 0, 16+len(c.Country)+8*len(c.Flows)+6*len(c.Spans)+10*len(c.PlanFlows)+16*len(c.PlanSwitches)+8*len(c.PlanSpans))
	b = append(b, contributionFormat)
	b = binary.AppendUvarint(b, uint64(len(c.Country)))
	b = append(b, c.Country...)
	day := func(b []byte, prev *analytics.Day, d analytics.Day) []byte {
		b = binary.AppendVarint(b, int64(d-*prev))
		*prev = d
		return b
	}
	end := func(b []byte, start, e analytics.Day) []byte {
		if e == analytics.OpenEnd {
			return binary.AppendUvarint(b, 0)
		}
		return binary.AppendUvarint(b, uint64(e-start)+1)
	}
	var prev analytics.Day
	b = binary.AppendUvarint(b, uint64(len(c.Flows)))
	for _, f := range c.Flows {
		b = day(b, &prev, f.Day)
		b = append(b, byte(f.Kind))
		b = binary.AppendVarint(b, f.AmountInCents)
	}
	prev = 0
	b = binary.AppendUvarint(b, uint64(len(c.Spans)))
	for _, s := range c.Spans {
		b = day(b, &prev, s.Start)
		b = end(b, s.Start, s.End)
	}
	prev = 0
	b = binary.AppendUvarint(b, uint64(len(c.PlanFlows)))
	for _, f := range c.PlanFlows {
		b = day(b, &prev, f.Day)
		b = binary.AppendVarint(b, f.PlanID)
		b = append(b, byte(f.Kind))
		b = binary.AppendVarint(b, f.AmountInCents)
	}
	prev = 0
	b = binary.AppendUvarint(b, uint64(len(c.PlanSwitches)))
	for _, s := range c.PlanSwitches {
		b = day(b, &prev, s.Day)
		b = append(b, byte(s.Kind))
		b = binary.AppendVarint(b, s.FromPlanID)
		b = binary.AppendVarint(b, s.ToPlanID)
		b = binary.AppendVarint(b, s.FromMRRInCents)
		b = binary.AppendVarint(b, s.ToMRRInCents)
	}
	prev = 0
	b = binary.AppendUvarint(b, uint64(len(c.PlanSpans)))
	for _, s := range c.PlanSpans {
		b = binary.AppendVarint(b, s.PlanID)
		b = day(b, &prev, s.Start)
		b = end(b, s.Start, s.End)
	}
	return b
}

var errBadContribution = errors.New("store: unreadable contribution")

// contributionReader decodes what encodeContribution wrote.
type contributionReader struct {
	b   []byte
	err error
}

func (r *contributionReader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err, r.b = errBadContribution, nil
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *contributionReader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err, r.b = errBadContribution, nil
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *contributionReader) byte() byte {
	if len(r.b) == 0 {
		r.err = errBadContribution
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

// count reads a slice length, bounded by what is left to read.
func (r *contributionReader) count() int {
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.err, r.b = errBadContribution, nil
		return 0
	}
	return int(n)
}

func decodeContribution(customerID int64, data []byte) (analytics.Contribution, error) {
	c := analytics.Contribution{CustomerID: customerID}
	if len(data) == 0 || data[0] != contributionFormat {
		return c, errBadContribution
	}
	r := &contributionReader{b: data[1:]}
	n := r.count()
	if r.err == nil {
		c.Country = string(r.b[:n])
		r.b = r.b[n:]
	}
	var prev analytics.Day
	day := func() analytics.Day {
		prev += analytics.Day(r.varint())
		return prev
	}
	end := func(start analytics.Day) analytics.Day {
		v := r.uvarint()
		if v == 0 {
			return analytics.OpenEnd
		}
		return start + analytics.Day(v-1)
	}
	if n := r.count(); n > 0 {
		c.Flows = make([]analytics.DayFlow, n)
		for i := range c.Flows {
			c.Flows[i] = analytics.DayFlow{Day: day(), Kind: analytics.FlowKind(r.byte()), AmountInCents: r.varint()}
		}
	}
	prev = 0
	if n := r.count(); n > 0 {
		c.Spans = make([]analytics.DaySpan, n)
		for i := range c.Spans {
			s := day()
			c.Spans[i] = analytics.DaySpan{Start: s, End: end(s)}
		}
	}
	prev = 0
	if n := r.count(); n > 0 {
		c.PlanFlows = make([]analytics.PlanFlow, n)
		for i := range c.PlanFlows {
			d := day()
			c.PlanFlows[i] = analytics.PlanFlow{Day: d, PlanID: r.varint(), Kind: analytics.FlowKind(r.byte()), AmountInCents: r.varint()}
		}
	}
	prev = 0
	if n := r.count(); n > 0 {
		c.PlanSwitches = make([]analytics.PlanSwitch, n)
		for i := range c.PlanSwitches {
			d := day()
			c.PlanSwitches[i] = analytics.PlanSwitch{Day: d, Kind: analytics.FlowKind(r.byte()), FromPlanID: r.varint(), ToPlanID: r.varint(),
				FromMRRInCents: r.varint(), ToMRRInCents: r.varint()}
		}
	}
	prev = 0
	if n := r.count(); n > 0 {
		c.PlanSpans = make([]analytics.PlanSpan, n)
		for i := range c.PlanSpans {
			p := r.varint()
			s := day()
			c.PlanSpans[i] = analytics.PlanSpan{PlanID: p, Start: s, End: end(s)}
		}
	}
	if r.err != nil || len(r.b) != 0 {
		return c, errBadContribution
	}
	return c, nil
}

// analyticsCache holds, per account, the metrics aggregate this process has
// loaded and how far it has read. The zero value is ready.
type analyticsCache struct {
	mu       sync.Mutex
	accounts map[int64]*accountAnalytics
}

// accountAnalytics is one account's loaded analytics.
type accountAnalytics struct {
	// mu serialises refreshes; the aggregate has its own lock for readers.
	mu  sync.Mutex
	agg *analytics.Aggregate
	// seq is the highest sequence number loaded; ids are the customers
	// with a row (to notice rows removed by a cascade), problems those
	// whose analytics could not be computed, with why.
	seq      int64
	ids      map[int64]struct{}
	problems map[int64]string
}

func (c *analyticsCache) account(id int64) *accountAnalytics {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.accounts == nil {
		c.accounts = map[int64]*accountAnalytics{}
	}
	a := c.accounts[id]
	if a == nil {
		a = &accountAnalytics{agg: analytics.NewAggregate(), ids: map[int64]struct{}{}, problems: map[int64]string{}}
		c.accounts[id] = a
	}
	return a
}

// AnalyticsProblem is a customer whose analytics could not be computed,
// and why.
type AnalyticsProblem struct {
	CustomerID int64
	Message    string
}

// Metrics returns the account's metrics aggregate, brought up to date with
// every recompute committed before the call, and the customers left out of
// it because their analytics could not be computed (a missing exchange
// rate, named in the message), ordered by customer id. The aggregate is
// shared: callers only query it.
func (s *Store) Metrics(ctx context.Context, accountID int64) (*analytics.Aggregate, []AnalyticsProblem, error) {
	a := s.analytics.account(accountID)
	a.mu.Lock()
	defer a.mu.Unlock()
	q := s.eng.read()
	var count, maxSeq int64
	if err := q.queryRow(ctx, `SELECT COUNT(*), COALESCE(MAX(seq), 0) FROM customer_analytics WHERE account_id = $1`, accountID).Scan(&count, &maxSeq); err != nil {
		return nil, nil, internal("check analytics", err)
	}
	if maxSeq > a.seq {
		// a.seq moves only once every row is applied: rows come in no
		// order, and a failure halfway must not skip any next time.
		seen := a.seq
		err := each(ctx, q, `SELECT customer_id, seq, error, contribution FROM customer_analytics WHERE account_id = $1 AND seq > $2`, []any{accountID, a.seq}, func(r rows) error {
			var id, seq int64
			var problem string
			var data []byte
			if err := r.Scan(&id, &seq, &problem, &data); err != nil {
				return err
			}
			seen = max(seen, seq)
			a.ids[id] = struct{}{}
			if problem != "" {
				a.problems[id] = problem
			} else {
				delete(a.problems, id)
			}
			if len(data) == 0 {
				a.agg.Delete(id)
				return nil
			}
			c, err := decodeContribution(id, data)
			if err != nil {
				return fmt.Errorf("the contribution of customer %d: %w", id, err)
			}
			a.agg.Set(c)
			return nil
		})
		if err != nil {
			return nil, nil, internal("load analytics", err)
		}
		a.seq = seen
	}
	if count < int64(len(a.ids)) {
		// Rows went with their customers (a delete, a data source
		// deleted): drop what is no longer there.
		present := make(map[int64]struct{}, count)
		err := each(ctx, q, `SELECT customer_id FROM customer_analytics WHERE account_id = $1`, []any{accountID}, func(r rows) error {
			var id int64
			err := r.Scan(&id)
			present[id] = struct{}{}
			return err
		})
		if err != nil {
			return nil, nil, internal("load analytics", err)
		}
		for id := range a.ids {
			if _, ok := present[id]; !ok {
				delete(a.ids, id)
				delete(a.problems, id)
				a.agg.Delete(id)
			}
		}
	}
	problems := make([]AnalyticsProblem, 0, len(a.problems))
	for id, m := range a.problems {
		problems = append(problems, AnalyticsProblem{CustomerID: id, Message: m})
	}
	slices.SortFunc(problems, func(x, y AnalyticsProblem) int { return int(x.CustomerID - y.CustomerID) })
	return a.agg, problems, nil
}

// ResolvePlans maps the plans a metrics filter names — by uuid, external id
// or name, in any of the account's data sources — to plan ids. A reference
// may match several plans (one name in two data sources); unknown lists the
// references that match none, in the order given.
func (s *Store) ResolvePlans(ctx context.Context, accountID int64, refs []string) (ids []int64, unknown []string, err error) {
	eng := s.Engine()
	found := map[string]bool{}
	set := map[int64]bool{}
	err = each(ctx, s.eng.read(), `SELECT id, uuid, external_id, name FROM plans WHERE account_id = $1 AND (`+
		inList(eng, "uuid", 2)+` OR `+inList(eng, "external_id", 3)+` OR `+inList(eng, "name", 4)+`)`,
		[]any{accountID, listArg(eng, refs), listArg(eng, refs), listArg(eng, refs)}, func(r rows) error {
			var id int64
			var uuid, ext, name string
			if err := r.Scan(&id, &uuid, &ext, &name); err != nil {
				return err
			}
			set[id] = true
			found[uuid], found[ext], found[name] = true, true, true
			return nil
		})
	if err != nil {
		return nil, nil, internal("find plans", err)
	}
	for _, ref := range refs {
		if !found[ref] {
			unknown = append(unknown, ref)
		}
	}
	ids = slices.Sorted(mapKeys(set))
	return ids, unknown, nil
}

// CustomerAnalytics locates a customer of the account for its analytics:
// its row id, and the reason its analytics could not be computed ("" when
// they were, or were never attempted). It returns ENOTFOUND for an unknown
// customer, or one merged into another.
func (s *Store) CustomerAnalytics(ctx context.Context, accountID int64, customerUUID string) (id int64, problem string, err error) {
	err = s.eng.read().queryRow(ctx, `SELECT c.id, COALESCE(ca.error, '') FROM customers c LEFT JOIN customer_analytics ca ON ca.customer_id = c.id
		WHERE c.uuid = $1 AND c.account_id = $2 AND c.merged_into_id IS NULL`, customerUUID, accountID).Scan(&id, &problem)
	if isNoRows(err) {
		return 0, "", chartmogul.NotFound("Customer")
	}
	return id, problem, internal("find customer", err)
}

// DerivedSubscription is a subscription as the analytics see it.
type DerivedSubscription struct {
	// Position orders a customer's subscriptions; it pages the list.
	Position int
	// ID and UUID are the import-side subscription's.
	ID             int64
	UUID           string
	DataSourceUUID string
	ExternalID     string
	SetExternalID  string
	PlanUUID       string
	PlanExternalID string
	PlanName       string
	IntervalCount  int64
	IntervalUnit   string
	Quantity       int64
	// Status is one of analytics.SubscriptionStatus.
	Status string
	// MRRInCents is in the account currency; Currency is the invoices'.
	MRRInCents  int64
	Currency    string
	StartedAt   time.Time
	EndsAt      time.Time
	CancelledAt *time.Time
	Free, Trial bool
}

// DerivedSubscriptions returns up to limit of a customer's derived
// subscriptions after position after (-1 for the first page), in the
// analytics' order (data source, then external id).
func (s *Store) DerivedSubscriptions(ctx context.Context, customerID int64, after, limit int) ([]DerivedSubscription, error) {
	out := []DerivedSubscription{}
	err := each(ctx, s.eng.read(), `SELECT a.position, COALESCE(sub.id, 0), COALESCE(sub.uuid, ''), d.uuid, a.external_id, a.set_external_id,
			COALESCE(p.uuid, ''), COALESCE(p.external_id, ''), COALESCE(p.name, ''), COALESCE(p.interval_count, 0), COALESCE(p.interval_unit, ''),
			a.quantity, a.status, a.mrr, a.currency, a.started_at, a.ends_at, a.cancelled_at, a.free, a.trial
		FROM analytics_subscriptions a JOIN data_sources d ON d.id = a.data_source_id
		LEFT JOIN subscriptions sub ON sub.id = a.subscription_id LEFT JOIN plans p ON p.id = a.plan_id
		WHERE a.customer_id = $1 AND a.position > $2 ORDER BY a.position LIMIT $3`, []any{customerID, after, limit}, func(r rows) error {
		var d DerivedSubscription
		var started, ends int64
		var cancelled sql.NullInt64
		err := r.Scan(&d.Position, &d.ID, &d.UUID, &d.DataSourceUUID, &d.ExternalID, &d.SetExternalID, &d.PlanUUID, &d.PlanExternalID, &d.PlanName,
			&d.IntervalCount, &d.IntervalUnit, &d.Quantity, &d.Status, &d.MRRInCents, &d.Currency, &started, &ends, &cancelled, &d.Free, &d.Trial)
		if err != nil {
			return err
		}
		d.StartedAt, d.EndsAt, d.CancelledAt = fromMicros(started), fromMicros(ends), optTime(cancelled)
		out = append(out, d)
		return nil
	})
	return out, internal("list subscriptions", err)
}

// Activity is one MRR movement with what the activity lists show of its
// customer and plans.
type Activity struct {
	// ID is customer id × 2^20 + position: stable while the customer's
	// history does not change.
	ID                 int64
	CustomerID         int64
	Position           int
	CustomerUUID       string
	CustomerExternalID string
	CustomerName       string
	DataSourceUUID     string
	At                 time.Time
	// Type is one of analytics.MovementType.
	Type string
	// AmountInCents and CustomerMRRInCents are in the account currency.
	AmountInCents          int64
	CustomerMRRInCents     int64
	SubscriptionExternalID string
	SetExternalID          string
	PlanExternalID         string
	PlanName               string
	PreviousPlanName       string
}

// ActivityCursor is the position of an activity in the lists' order: time,
// customer, position within the customer.
type ActivityCursor struct {
	At         int64 // microseconds
	CustomerID int64
	Position   int
}

// ActivityFilter narrows ListActivities.
type ActivityFilter struct {
	// CustomerID restricts to one customer (0: the whole account).
	CustomerID int64
	// From and Until bound the movement times: From ≤ at < Until; zero
	// times do not bound.
	From, Until time.Time
	// Type restricts to one movement type ("" for all).
	Type string
	// Descending lists the newest first.
	Descending bool
	// After continues after this position (nil for the first page).
	After *ActivityCursor
	Limit int
}

// ListActivities returns up to f.Limit of the account's activities in time
// order (customer, then position, breaking ties), as f narrows them.
func (s *Store) ListActivities(ctx context.Context, accountID int64, f ActivityFilter) ([]Activity, error) {
	w := &where{}
	w.add("a.account_id = $?", accountID)
	if f.CustomerID != 0 {
		w.add("a.customer_id = $?", f.CustomerID)
	}
	if !f.From.IsZero() {
		w.add("a.at >= $?", micros(f.From))
	}
	if !f.Until.IsZero() {
		w.add("a.at < $?", micros(f.Until))
	}
	if f.Type != "" {
		w.add("a.type = $?", f.Type)
	}
	dir, cmp := "ASC", ">"
	if f.Descending {
		dir, cmp = "DESC", "<"
	}
	if f.After != nil {
		n := len(w.args)
		w.args = append(w.args, f.After.At, f.After.CustomerID, f.After.Position)
		w.conds = append(w.conds, fmt.Sprintf("(a.at, a.customer_id, a.position) %s ($%d, $%d, $%d)", cmp, n+1, n+2, n+3))
	}
	w.args = append(w.args, f.Limit)
	q := `SELECT a.customer_id, a.position, c.uuid, c.external_id, c.name, d.uuid, a.at, a.type, a.amount, a.customer_mrr,
			a.subscription_external_id, a.set_external_id, COALESCE(p.external_id, ''), COALESCE(p.name, ''), COALESCE(pp.name, '')
		FROM analytics_activities a JOIN customers c ON c.id = a.customer_id JOIN data_sources d ON d.id = a.data_source_id
		LEFT JOIN plans p ON p.id = a.plan_id LEFT JOIN plans pp ON pp.id = a.previous_plan_id
		WHERE ` + strings.Join(w.conds, " AND ") + ` ORDER BY a.at ` + dir + `, a.customer_id ` + dir + `, a.position ` + dir + ` LIMIT $` + itoa(len(w.args))
	out := []Activity{}
	err := each(ctx, s.eng.read(), q, w.args, func(r rows) error {
		var a Activity
		var at int64
		err := r.Scan(&a.CustomerID, &a.Position, &a.CustomerUUID, &a.CustomerExternalID, &a.CustomerName, &a.DataSourceUUID, &at, &a.Type,
			&a.AmountInCents, &a.CustomerMRRInCents, &a.SubscriptionExternalID, &a.SetExternalID,
			&a.PlanExternalID, &a.PlanName, &a.PreviousPlanName)
		if err != nil {
			return err
		}
		a.At, a.ID = fromMicros(at), a.CustomerID<<20|int64(a.Position)
		out = append(out, a)
		return nil
	})
	return out, internal("list activities", err)
}

// AnalyticsPending returns how many analytics recompute jobs are queued or
// running: 0 means every committed write's analytics are in place.
func (s *Store) AnalyticsPending(ctx context.Context) (int, error) {
	var n int
	err := s.eng.read().queryRow(ctx, `SELECT (SELECT COUNT(*) FROM river_job WHERE kind IN ($1, $2) AND state NOT IN ('completed', 'cancelled', 'discarded'))
		+ (SELECT COUNT(*) FROM analytics_dirty)`, RecomputeArgs{}.Kind(), RecomputeDirtyArgs{}.Kind()).Scan(&n)
	return n, internal("count analytics jobs", err)
}
