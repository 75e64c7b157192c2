package activities

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/recurhq/recur/chartmogul"
	"github.com/recurhq/recur/workflows"
)

// Submit sends one part of a customer's payload. Parts of different
// customers that are ready at about the same moment share one request
// (Submitter); the part's customer is in no other unfinished import, since
// its workflow sends its next part only after this one finished.
//
// A retried Submit never imports twice: before anything is posted, the
// request (its external id and the parts it carries) is committed to the
// state database; a retry finds the part already assigned and asks
// ChartMogul for the import by its external id, posting it again (with the
// same external id and body) only when ChartMogul does not have it.
func (a *Activities) Submit(ctx context.Context, in workflows.SubmitInput) (workflows.SubmitResult, error) {
	return a.Submitter.Submit(ctx, in.Settings.DataSource, in.PartID)
}

// Submitter packs the parts that are ready at about the same moment into
// shared requests: up to MaxBytes and MaxCustomers. A request goes once no
// other part arrived for Linger, or MaxLinger after its first part: a
// steady stream of customers fills requests of hundreds, a lone customer
// waits only Linger. One per worker process.
type Submitter struct {
	State  *State
	Client *chartmogul.Client
	Log    *slog.Logger
	// Linger is how long a request waits for another part after the last
	// one arrived; MaxLinger bounds the wait of its first part.
	Linger    time.Duration
	MaxLinger time.Duration
	// MaxCustomers bounds the parts of one request (ChartMogul suggests
	// 100 to 1,000 customers per request).
	MaxCustomers int
	// MaxBytes bounds a request's body.
	MaxBytes int
	// Budget, when set, is held back after a 429 for every worker.
	Budget  *Budget
	Metrics *Metrics

	mu     sync.Mutex
	queues map[string]*packQueue
	flight singleflight.Group
	// sizes remembers the body size of the imports this process posted,
	// for the Poller's first wait.
	sizes sync.Map
}

// packQueue gathers the parts of one data source waiting for a request.
type packQueue struct {
	waiting []*submission
	bytes   int
	idle    *time.Timer // Linger after the last arrival
	oldest  *time.Timer // MaxLinger after the first
}

// submission is one part waiting for its request.
type submission struct {
	part *partRow
	done chan struct{}
	res  workflows.SubmitResult
	err  error
}

// Submit sends a part, alone or with others, and returns the import that
// carries it.
func (s *Submitter) Submit(ctx context.Context, dataSource string, partID int64) (workflows.SubmitResult, error) {
	part, err := s.State.part(ctx, partID)
	if err != nil {
		return workflows.SubmitResult{}, err
	}
	if part.ImportID != nil {
		// A previous attempt assigned the part: find out what became of
		// that request before anything is sent again.
		return s.reconcile(ctx, dataSource, *part.ImportID, partID)
	}
	sub := &submission{part: part, done: make(chan struct{})}
	s.enqueue(dataSource, sub)
	select {
	case <-sub.done:
		return sub.res, sub.err
	case <-ctx.Done():
		// The request goes on without this attempt; the next attempt finds
		// the part assigned and reconciles.
		return workflows.SubmitResult{}, ctx.Err()
	}
}

// enqueue adds a part to its data source's queue, sending the queue when
// the part would not fit or the queue is full, or after Linger.
func (s *Submitter) enqueue(dataSource string, sub *submission) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.queues == nil {
		s.queues = map[string]*packQueue{}
	}
	q := s.queues[dataSource]
	if q == nil {
		q = &packQueue{}
		s.queues[dataSource] = q
	}
	room := s.maxBytes() - requestOverhead
	if len(q.waiting) > 0 && q.bytes+sub.part.Bytes > room {
		s.flushLocked(dataSource, q)
		// The flushed queue is on its way: this part starts a new one.
		q = &packQueue{}
		s.queues[dataSource] = q
	}
	q.waiting = append(q.waiting, sub)
	q.bytes += sub.part.Bytes
	if s.Linger <= 0 || len(q.waiting) >= s.maxCustomers() || q.bytes >= room {
		s.flushLocked(dataSource, q)
		return
	}
	flush := func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.queues[dataSource] == q && len(q.waiting) > 0 {
			s.flushLocked(dataSource, q)
		}
	}
	if q.idle == nil {
		q.idle = time.AfterFunc(s.Linger, flush)
		q.oldest = time.AfterFunc(max(s.MaxLinger, s.Linger), flush)
	} else {
		q.idle.Reset(s.Linger)
	}
}

func (s *Submitter) maxBytes() int {
	if s.MaxBytes > 0 {
		return s.MaxBytes
	}
	return chartmogul.MaxPayload
}

func (s *Submitter) maxCustomers() int {
	if s.MaxCustomers > 0 {
		return s.MaxCustomers
	}
	return 1000
}

// flushLocked sends the queue's parts in one request, in the background.
func (s *Submitter) flushLocked(dataSource string, q *packQueue) {
	subs := q.waiting
	if q.idle != nil {
		q.idle.Stop()
		q.oldest.Stop()
	}
	delete(s.queues, dataSource)
	go s.send(dataSource, subs)
}

// sendTimeout bounds one request and its bookkeeping.
const sendTimeout = 2 * time.Minute

// send assigns the parts to a new import, posts it and tells each part's
// Submit the outcome.
func (s *Submitter) send(dataSource string, subs []*submission) {
	ctx, cancel := context.WithTimeout(context.Background(), sendTimeout)
	defer cancel()
	ids := make([]int64, len(subs))
	for i, sub := range subs {
		ids[i] = sub.part.ID
	}
	results := s.dispatch(ctx, dataSource, ids)
	for _, sub := range subs {
		r := results[sub.part.ID]
		sub.res, sub.err = r.res, r.err
		close(sub.done)
	}
}

// partOutcome is what became of one part's submission.
type partOutcome struct {
	res workflows.SubmitResult
	err error
}

// dispatch sends the parts (unassigned ones) as one new import. A request
// ChartMogul refuses as a whole (400, 413, 422) is split in halves and each
// sent again, down to single parts, so that one customer's bad payload does
// not sink the others, and the refusal names its customer.
func (s *Submitter) dispatch(ctx context.Context, dataSource string, ids []int64) map[int64]partOutcome {
	out := make(map[int64]partOutcome, len(ids))
	imp, assigned, err := s.assign(ctx, dataSource, ids)
	if err != nil {
		for _, id := range ids {
			out[id] = partOutcome{err: err}
		}
		return out
	}
	// Parts another attempt assigned meanwhile reconcile on their own.
	for _, id := range ids {
		if !slices.Contains(assigned, id) {
			p, err := s.State.part(ctx, id)
			if err == nil && p.ImportID != nil {
				res, err := s.reconcile(ctx, dataSource, *p.ImportID, id)
				out[id] = partOutcome{res: res, err: err}
			} else {
				out[id] = partOutcome{err: fmt.Errorf("part %d could not be assigned to a request; the next attempt sends it", id)}
			}
		}
	}
	if len(assigned) == 0 {
		return out
	}
	res, err := s.post(ctx, s.State.DB, dataSource, imp)
	var ce *chartmogul.Error
	if err != nil && errors.As(err, &ce) && isRefusal(ce) && len(assigned) > 1 {
		// Isolate the culprit: the customers that were fine go on.
		if uerr := s.unassign(ctx, imp, ce.Error()); uerr != nil {
			for _, id := range assigned {
				out[id] = partOutcome{err: uerr}
			}
			return out
		}
		s.Log.Info("a shared request was refused; sending its halves separately", "import", imp.ExternalID, "parts", len(assigned), "error", ce.Error())
		mid := len(assigned) / 2
		for _, half := range [][]int64{assigned[:mid], assigned[mid:]} {
			for id, o := range s.dispatch(ctx, dataSource, half) {
				out[id] = o
			}
		}
		return out
	}
	for _, id := range assigned {
		if err != nil {
			out[id] = partOutcome{err: s.submitError(err, imp, dataSource)}
		} else {
			out[id] = partOutcome{res: res}
		}
	}
	return out
}

// isRefusal reports whether ChartMogul refused a payload as such.
func isRefusal(e *chartmogul.Error) bool {
	return e.Code == chartmogul.EBADREQUEST || e.Code == chartmogul.EINVALID || e.Code == chartmogul.ETOOLARGE
}

// importRow is a request as the state database records it.
type importRow struct {
	ID           int64          `db:"id"`
	DataSource   string         `db:"data_source"`
	ExternalID   string         `db:"external_id"`
	ChartMogulID sql.NullString `db:"chartmogul_id"`
	Status       string         `db:"status"`
	Customers    pq.StringArray `db:"customers"`
	Reason       sql.NullString `db:"reason"`
	// body is the request, once built.
	body []byte
}

// assign records a new request and assigns the parts that no other attempt
// has assigned, in one transaction, before anything is sent.
func (s *Submitter) assign(ctx context.Context, dataSource string, ids []int64) (*importRow, []int64, error) {
	tx, err := s.State.DB.BeginTxx(ctx, nil)
	if err != nil {
		return nil, nil, stateError("cannot record a request", err)
	}
	defer tx.Rollback()
	imp := &importRow{DataSource: dataSource, ExternalID: "recur-" + uuid.NewString(), Status: "packed"}
	if err := tx.GetContext(ctx, &imp.ID, `INSERT INTO recur.imports (data_source, external_id, customers, records, bytes) VALUES ($1, $2, '{}', 0, 0) RETURNING id`,
		dataSource, imp.ExternalID); err != nil {
		return nil, nil, stateError("cannot record a request", err)
	}
	var assigned []int64
	if err := tx.SelectContext(ctx, &assigned, `UPDATE recur.parts SET import_id = $1 WHERE id = ANY($2) AND import_id IS NULL RETURNING id`,
		imp.ID, pq.Array(ids)); err != nil {
		return nil, nil, stateError("cannot assign parts to a request", err)
	}
	slices.Sort(assigned)
	if len(assigned) == 0 {
		return imp, nil, nil
	}
	// The offsets say where each part's records sit in the request's
	// arrays: failed_records name a record by its index there.
	body, offsets, customers, records, err := buildRequest(ctx, tx, imp)
	if err != nil {
		return nil, nil, err
	}
	partIDs := make([]int64, 0, len(offsets))
	places := make([]string, 0, len(offsets))
	for id, off := range offsets {
		raw, _ := json.Marshal(off)
		partIDs, places = append(partIDs, id), append(places, string(raw))
	}
	if _, err := tx.ExecContext(ctx, `
WITH places AS (
	UPDATE recur.parts p SET offsets = x.o::jsonb FROM unnest($5::bigint[], $6::text[]) AS x(id, o) WHERE p.id = x.id
)
UPDATE recur.imports SET customers = $2, records = $3, bytes = $4 WHERE id = $1`,
		imp.ID, pq.Array(customers), records, len(body), pq.Array(partIDs), pq.Array(places)); err != nil {
		return nil, nil, stateError("cannot record a request", err)
	}
	imp.Customers = customers
	imp.body = body
	return imp, assigned, stateError("cannot record a request", tx.Commit())
}

// buildRequest reads the parts assigned to an import, in id order, and
// joins them into one bulk payload with the import's external id.
func buildRequest(ctx context.Context, q sqlx.QueryerContext, imp *importRow) (body []byte, offsets map[int64]map[chartmogul.RecordType]int, customers []string, records int, err error) {
	var parts []partRow
	if err := sqlx.SelectContext(ctx, q, &parts, `SELECT * FROM recur.parts WHERE import_id = $1 ORDER BY id`, imp.ID); err != nil {
		return nil, nil, nil, 0, stateError("cannot read the parts of a request", err)
	}
	if len(parts) == 0 {
		return nil, nil, nil, 0, fmt.Errorf("request %s carries no parts any more; the next attempt sends them anew", imp.ExternalID)
	}
	arrays := map[chartmogul.RecordType][]jsontext.Value{}
	offsets = map[int64]map[chartmogul.RecordType]int{}
	for _, p := range parts {
		var doc map[chartmogul.RecordType][]jsontext.Value
		if err := json.Unmarshal(p.Body, &doc); err != nil {
			return nil, nil, nil, 0, fmt.Errorf("part %d in the state database is not JSON: %w", p.ID, err)
		}
		off := map[chartmogul.RecordType]int{}
		for _, t := range chartmogul.RecordTypes {
			off[t] = len(arrays[t])
			arrays[t] = append(arrays[t], doc[t]...)
		}
		offsets[p.ID] = off
		customers = append(customers, p.Customer)
		records += p.Records
	}
	var b bytes.Buffer
	b.WriteString(`{"external_id":`)
	quoted, _ := json.Marshal(imp.ExternalID)
	b.Write(quoted)
	for _, t := range chartmogul.RecordTypes {
		if len(arrays[t]) == 0 {
			continue
		}
		fmt.Fprintf(&b, ",%q:[", t)
		for i, v := range arrays[t] {
			if i > 0 {
				b.WriteByte(',')
			}
			b.Write(v)
		}
		b.WriteByte(']')
	}
	b.WriteByte('}')
	return b.Bytes(), offsets, customers, records, nil
}

// post sends a recorded request and records ChartMogul's id of it, through
// db: the database, or the transaction that holds the request's row.
func (s *Submitter) post(ctx context.Context, db sqlx.ExtContext, dataSource string, imp *importRow) (workflows.SubmitResult, error) {
	body := imp.body
	if body == nil {
		var err error
		if body, _, _, _, err = buildRequest(ctx, db, imp); err != nil {
			return workflows.SubmitResult{}, err
		}
	}
	state, _, err := s.Client.CreateImport(ctx, dataSource, body)
	if err != nil {
		if ce := (*chartmogul.Error)(nil); errors.As(err, &ce) && ce.Code == chartmogul.ERATELIMIT {
			_ = s.Budget.Hold(ctx, max(ce.RetryAfter, minRetryDelay))
		}
		if ce := (*chartmogul.Error)(nil); errors.As(err, &ce) && isRefusal(ce) {
			_, _ = db.ExecContext(ctx, `UPDATE recur.imports SET status = 'refused', reason = $2 WHERE id = $1`, imp.ID, ce.Error())
		}
		return workflows.SubmitResult{}, err
	}
	s.Metrics.imports(len(imp.Customers))
	s.sizes.Store(state.ID, len(body))
	if _, err := db.ExecContext(ctx, `UPDATE recur.imports SET chartmogul_id = $2, status = 'submitted', submitted_at = now() WHERE id = $1`,
		imp.ID, state.ID); err != nil {
		return workflows.SubmitResult{}, stateError("cannot record the import ChartMogul created", err)
	}
	return workflows.SubmitResult{ImportID: state.ID, ExternalID: imp.ExternalID, Customers: len(imp.Customers)}, nil
}

// unassign frees the parts of a refused request, to be sent again in
// smaller requests.
func (s *Submitter) unassign(ctx context.Context, imp *importRow, reason string) error {
	tx, err := s.State.DB.BeginTxx(ctx, nil)
	if err != nil {
		return stateError("cannot split a refused request", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `UPDATE recur.parts SET import_id = NULL, offsets = NULL WHERE import_id = $1`, imp.ID); err != nil {
		return stateError("cannot split a refused request", err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE recur.imports SET status = 'split', reason = $2 WHERE id = $1`, imp.ID, reason); err != nil {
		return stateError("cannot split a refused request", err)
	}
	return stateError("cannot split a refused request", tx.Commit())
}

// reconcile finds out what became of a request an earlier attempt
// recorded: ChartMogul's id when it was acknowledged; otherwise ChartMogul
// is asked for the import by its external id, and only when it has none is
// the same request (same external id, same body) posted again. The row
// lock makes the parts of one request reconcile one at a time.
//
// The parts of one request reconcile once per process: the first asks, the
// others share its answer instead of each holding a database connection
// while they wait for the row lock (which starved the pool that the rate
// budget draws on, and stalled every submit until they timed out).
func (s *Submitter) reconcile(ctx context.Context, dataSource string, importID, partID int64) (workflows.SubmitResult, error) {
	v, err, _ := s.flight.Do(strconv.FormatInt(importID, 10), func() (any, error) {
		return s.reconcileImport(ctx, dataSource, importID)
	})
	if errors.Is(err, errSplit) {
		// The request was refused as a whole and split: this part goes
		// again, alone or with others.
		p, perr := s.State.part(ctx, partID)
		if perr != nil {
			return workflows.SubmitResult{}, perr
		}
		if p.ImportID != nil && *p.ImportID != importID {
			return s.reconcile(ctx, dataSource, *p.ImportID, partID)
		}
		o := s.dispatch(ctx, dataSource, []int64{partID})[partID]
		return o.res, o.err
	}
	if err != nil {
		return workflows.SubmitResult{}, err
	}
	return v.(workflows.SubmitResult), nil
}

// errSplit says that a request was refused as a whole and its parts freed,
// to be sent again in smaller requests.
var errSplit = errors.New("the request was refused as a whole and split; its parts are sent again")

// reconcileImport finds out what became of one recorded request, under a
// row lock that serialises the workers that ask at the same time.
func (s *Submitter) reconcileImport(ctx context.Context, dataSource string, importID int64) (workflows.SubmitResult, error) {
	tx, err := s.State.DB.BeginTxx(ctx, nil)
	if err != nil {
		return workflows.SubmitResult{}, stateError("cannot read a request", err)
	}
	defer tx.Rollback()
	var imp importRow
	if err := tx.GetContext(ctx, &imp, `SELECT id, data_source, external_id, chartmogul_id, status, customers, reason FROM recur.imports WHERE id = $1 FOR UPDATE`, importID); err != nil {
		return workflows.SubmitResult{}, stateError("cannot read a request", err)
	}
	result := func(id string) workflows.SubmitResult {
		return workflows.SubmitResult{ImportID: id, ExternalID: imp.ExternalID, Customers: len(imp.Customers)}
	}
	switch {
	case imp.ChartMogulID.Valid:
		return result(imp.ChartMogulID.String), nil
	case imp.Status == "refused":
		return workflows.SubmitResult{}, refusedError("ChartMogul refused the payload of %s: %s", customersLabel(imp.Customers), imp.Reason.String)
	case imp.Status == "split":
		return workflows.SubmitResult{}, errSplit
	}
	existing, err := s.Client.Import(ctx, dataSource, imp.ExternalID)
	if err == nil && existing.ID != "" {
		s.Log.Info("a request whose answer was lost had reached ChartMogul; it is not sent again", "import", existing.ID, "external_id", imp.ExternalID)
		if _, err := tx.ExecContext(ctx, `UPDATE recur.imports SET chartmogul_id = $2, status = 'submitted', submitted_at = coalesce(submitted_at, now()) WHERE id = $1`,
			imp.ID, existing.ID); err != nil {
			return workflows.SubmitResult{}, stateError("cannot record the import ChartMogul created", err)
		}
		return result(existing.ID), stateError("cannot record the import ChartMogul created", tx.Commit())
	}
	var ce *chartmogul.Error
	if err != nil && !(errors.As(err, &ce) && ce.Code == chartmogul.ENOTFOUND) {
		return workflows.SubmitResult{}, chartMogulError(err, "looking up request "+imp.ExternalID, dataSource)
	}
	// ChartMogul never got it: post the very same request, still holding
	// the lock so that the other parts wait for its answer.
	res, err := s.post(ctx, tx, dataSource, &imp)
	if err != nil {
		if errors.As(err, &ce) && isRefusal(ce) && len(imp.Customers) > 1 {
			if _, uerr := tx.ExecContext(ctx, `UPDATE recur.parts SET import_id = NULL, offsets = NULL WHERE import_id = $1`, imp.ID); uerr != nil {
				return workflows.SubmitResult{}, stateError("cannot split a refused request", uerr)
			}
			if _, uerr := tx.ExecContext(ctx, `UPDATE recur.imports SET status = 'split', reason = $2 WHERE id = $1`, imp.ID, ce.Error()); uerr != nil {
				return workflows.SubmitResult{}, stateError("cannot split a refused request", uerr)
			}
			if cerr := tx.Commit(); cerr != nil {
				return workflows.SubmitResult{}, stateError("cannot split a refused request", cerr)
			}
			return workflows.SubmitResult{}, errSplit
		}
		if errors.As(err, &ce) && isRefusal(ce) {
			// Keep the refusal recorded: a later attempt answers with it.
			_ = tx.Commit()
		}
		return workflows.SubmitResult{}, s.submitError(err, &imp, dataSource)
	}
	return res, stateError("cannot record a request", tx.Commit())
}

// customersLabel names the customers of a request for messages.
func customersLabel(customers []string) string {
	if len(customers) == 1 {
		return partLabel(customers[0])
	}
	return "customers " + fmt.Sprint(customers)
}

// submitError explains a failed submission.
func (s *Submitter) submitError(err error, imp *importRow, dataSource string) error {
	var ce *chartmogul.Error
	if errors.As(err, &ce) && isRefusal(ce) {
		return refusedError("ChartMogul refused the payload of %s (%d): %s", customersLabel(imp.Customers), ce.Status, ce.Error())
	}
	return chartMogulError(err, "submitting request "+imp.ExternalID, dataSource)
}

// ImportSize returns the body size of an import this process posted, or 0.
func (s *Submitter) ImportSize(importID string) int {
	if v, ok := s.sizes.Load(importID); ok {
		return v.(int)
	}
	return 0
}
