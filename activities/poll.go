package activities

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/go-json-experiment/json"

	"go.temporal.io/sdk/activity"

	"github.com/recurhq/recur/chartmogul"
	"github.com/recurhq/recur/workflows"
)

// Poll waits up to in.Window for the import carrying a part to finish; the
// customers of one import share the GETs (Poller). Once it finished, the
// records ChartMogul imported go into the ledger and the failed ones are
// reported, each with its customer, type, external id and message.
func (a *Activities) Poll(ctx context.Context, in workflows.PollInput) (workflows.PollResult, error) {
	st, err := a.Poller.Wait(ctx, in.Settings.DataSource, in.ImportID, in.Window)
	if err != nil {
		return workflows.PollResult{}, chartMogulError(err, "reading import "+in.ImportID, in.Settings.DataSource)
	}
	if st == nil {
		return workflows.PollResult{Status: "processing"}, nil
	}
	return a.outcome(ctx, in, st)
}

// WaitImport is Poll for an import that takes its time: it waits as long
// as ChartMogul takes, heartbeating every few seconds, and resumes where it
// was after a worker crash (the heartbeat's details count the waits).
func (a *Activities) WaitImport(ctx context.Context, in workflows.PollInput) (workflows.PollResult, error) {
	waits := 0
	if activity.HasHeartbeatDetails(ctx) {
		_ = activity.GetHeartbeatDetails(ctx, &waits)
	}
	for {
		st, err := a.Poller.Wait(ctx, in.Settings.DataSource, in.ImportID, 10*time.Second)
		if err != nil {
			return workflows.PollResult{}, chartMogulError(err, "reading import "+in.ImportID, in.Settings.DataSource)
		}
		if st != nil {
			return a.outcome(ctx, in, st)
		}
		waits++
		activity.RecordHeartbeat(ctx, waits)
		if ctx.Err() != nil {
			return workflows.PollResult{}, ctx.Err()
		}
	}
}

// outcome reads what ChartMogul made of a part, writes the ledger and the
// failures, and returns the part's result.
func (a *Activities) outcome(ctx context.Context, in workflows.PollInput, st *chartmogul.ImportState) (workflows.PollResult, error) {
	res := workflows.PollResult{Finished: true, Status: string(st.Status)}
	part, err := a.State.part(ctx, in.PartID)
	if err != nil {
		return res, err
	}
	var entries map[chartmogul.RecordType][]ledgerEntry
	if err := json.Unmarshal(part.Entries, &entries); err != nil {
		return res, fmt.Errorf("part %d in the state database has unreadable entries: %w", part.ID, err)
	}
	var offsets map[chartmogul.RecordType]int
	_ = json.Unmarshal(part.Offsets, &offsets)
	failed, failures, err := partFailures(in.Customer, st, entries, offsets)
	if err != nil {
		return res, err
	}
	var imported []ledgerEntry
	for t, list := range entries {
		for i, e := range list {
			if failed[t][i] {
				res.Failed.Inc(string(t), 1)
				continue
			}
			res.Imported.Inc(string(t), 1)
			imported = append(imported, e)
		}
	}
	for _, f := range failures {
		res.FailedRecords = appendListed(res.FailedRecords, &res.FailedMore, f)
	}
	if err := a.State.recordOutcome(ctx, in.Settings.DataSource, in.Customer, part.Workflow, st.ID, part.ImportID,
		string(st.Status), imported, failures); err != nil {
		return res, err
	}
	a.Metrics.outcome(res.Imported.Total(), res.Failed.Total())
	return res, nil
}

// partFailures tells which of a part's records failed, and why. The local
// ChartMogul names each failed record by its index in the request's arrays
// (failed_records); ChartMogul itself says only, per customer and record
// type, whether they were imported (status_details), so every record of a
// type it did not report imported counts as failed, and is sent again once
// the source changes. A customer missing from status_details is never
// taken for imported.
func partFailures(customer string, st *chartmogul.ImportState, entries map[chartmogul.RecordType][]ledgerEntry,
	offsets map[chartmogul.RecordType]int) (map[chartmogul.RecordType]map[int]bool, []workflows.RecordFailure, error) {
	failed := map[chartmogul.RecordType]map[int]bool{}
	var failures []workflows.RecordFailure
	mark := func(t chartmogul.RecordType, i int, f workflows.RecordFailure) {
		if failed[t] == nil {
			failed[t] = map[int]bool{}
		}
		if !failed[t][i] {
			failed[t][i] = true
			failures = append(failures, f)
		}
	}
	if st.Counts != nil && offsets != nil {
		// The local ChartMogul's failed_records name every record.
		for _, f := range st.FailedRecords {
			list := entries[f.Type]
			start, ok := offsets[f.Type]
			if !ok || f.Index < start || f.Index >= start+len(list) {
				continue // another customer's record
			}
			i := f.Index - start
			mark(f.Type, i, workflows.RecordFailure{Customer: customer, Type: string(f.Type), ExternalID: f.ExternalID,
				Field: f.Field, Message: f.Message, Import: st.ID})
		}
		if st.Status == chartmogul.ImportFailed && len(failures) == 0 {
			for t, list := range entries {
				for i, e := range list {
					mark(t, i, workflows.RecordFailure{Customer: customer, Type: string(t), ExternalID: e.Key,
						Message: "ChartMogul failed the import: " + st.Reason, Import: st.ID})
				}
			}
		}
		return failed, failures, nil
	}
	details, err := st.Details()
	if err != nil {
		return nil, nil, err
	}
	key := customer
	if key == "" {
		key = "plans"
	}
	d, ok := details[key]
	for t, list := range entries {
		status := ""
		if ok {
			status = d.Types[t]
			if t == chartmogul.RecordPlans && key == "plans" {
				status = d.Status
			}
		}
		if status == string(chartmogul.OutcomeImported) {
			continue
		}
		msg := fmt.Sprintf("ChartMogul reported this customer's %s as %q in import %s; its invalid records are listed by GET /v1/invoices?validation_type=invalid", t, status, st.ID)
		if !ok {
			msg = fmt.Sprintf("ChartMogul's status_details of import %s has no entry for %s, so these records are not taken for imported", st.ID, partLabel(customer))
		}
		for i, e := range list {
			mark(t, i, workflows.RecordFailure{Customer: customer, Type: string(t), ExternalID: e.Key, Message: msg, Import: st.ID})
		}
	}
	return failed, failures, nil
}

// Poller shares the polling of an import among every customer it carries,
// in one worker process: one GET at a time per import, fast at first (the
// local ChartMogul finishes in milliseconds), backing off to seconds.
type Poller struct {
	Client *chartmogul.Client
	// MinInterval and MaxInterval bound the wait between two GETs of one
	// import.
	MinInterval, MaxInterval time.Duration
	// Size, when set, tells the body size of an import (0 when unknown):
	// the first GET waits about as long as ChartMogul takes for that much,
	// so that a large import is not asked after again and again.
	Size func(importID string) int

	mu      sync.Mutex
	watches map[string]*importWatch
}

// importWatch is the shared poll of one import.
type importWatch struct {
	subscribers int
	done        chan struct{}
	state       *chartmogul.ImportState
	err         error
}

// Wait returns the import once it finished, or nil after window.
func (p *Poller) Wait(ctx context.Context, dataSource, importID string, window time.Duration) (*chartmogul.ImportState, error) {
	key := dataSource + "/" + importID
	p.mu.Lock()
	if p.watches == nil {
		p.watches = map[string]*importWatch{}
	}
	w := p.watches[key]
	if w == nil {
		w = &importWatch{done: make(chan struct{})}
		p.watches[key] = w
		go p.watch(key, w, dataSource, importID)
	}
	w.subscribers++
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		w.subscribers--
		p.mu.Unlock()
	}()
	t := time.NewTimer(window)
	defer t.Stop()
	select {
	case <-w.done:
		return w.state, w.err
	case <-t.C:
		return nil, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// watch polls one import until it finished, failed for good, or nobody
// waits for it any more.
func (p *Poller) watch(key string, w *importWatch, dataSource, importID string) {
	minI, maxI := p.MinInterval, p.MaxInterval
	if minI <= 0 {
		minI = 10 * time.Millisecond
	}
	if maxI <= 0 {
		maxI = 2 * time.Second
	}
	interval := minI
	if p.Size != nil {
		// The local ChartMogul takes about 60 ms for any import (its queue
		// is polled every 20 ms, an import is one transaction) and 200 ms
		// more for 5 MB: asking before that only costs requests.
		interval = min(max(minI, 60*time.Millisecond+time.Duration(p.Size(importID))*time.Second/(25<<20)), maxI)
		time.Sleep(interval)
	}
	finish := func(st *chartmogul.ImportState, err error) {
		p.mu.Lock()
		delete(p.watches, key)
		p.mu.Unlock()
		w.state, w.err = st, err
		close(w.done)
	}
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		st, err := p.Client.Import(ctx, dataSource, importID)
		cancel()
		switch {
		case err != nil && !chartmogul.Retryable(err):
			finish(nil, err)
			return
		case err == nil && st.Status.Finished():
			finish(st, nil)
			return
		}
		if d := chartmogul.RetryAfter(err); d > interval {
			interval = d
		}
		time.Sleep(interval)
		interval = min(interval*2, maxI)
		p.mu.Lock()
		idle := w.subscribers == 0
		if idle {
			delete(p.watches, key)
		}
		p.mu.Unlock()
		if idle {
			return
		}
	}
}
