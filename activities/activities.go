// Package activities holds the steps of a sync, the activities the
// workflows of package workflows run: reading the billing database
// (Source), the state database (State: the ledger of what ChartMogul holds,
// claim checks, imports), and the calls to ChartMogul (package chartmogul's
// client, held to the account's rate budget, with the Submits of customers
// ready at the same moment packed into shared requests and the polls of one
// import shared).
//
// Activities are methods of Activities, whose dependencies are injected by
// the worker. They return small results (ids, counts, outcomes); rows and
// payloads stay in the state database. Failures are classified in one place
// (errors.go): what a person must fix is not retried, what is transient is.
package activities

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/go-json-experiment/json"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"

	"github.com/recurhq/recur/chartmogul"
	"github.com/recurhq/recur/workflows"
)

// Config is what the worker was configured with.
type Config struct {
	// DataSource is the ChartMogul data source a sync imports into when its
	// input names none.
	DataSource string
	// SearchAttributes is true when the namespace has Recur's search
	// attributes.
	SearchAttributes bool
	// PartBytes is the largest request body (ChartMogul's 5 MB).
	PartBytes int
}

// Activities are the steps of a sync.
type Activities struct {
	Config     Config
	Source     *Source
	State      *State
	ChartMogul *chartmogul.Client
	Submitter  *Submitter
	Poller     *Poller
	// Temporal lets WaitWorkflow wait for another workflow.
	Temporal client.Client
	Log      *slog.Logger
	Metrics  *Metrics
	// Now is the clock validation measures "in the future" against.
	Now func() time.Time
}

func (a *Activities) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

// Configure returns the worker's settings, with dataSource when given.
func (a *Activities) Configure(ctx context.Context, in workflows.ConfigureInput) (workflows.Settings, error) {
	s := workflows.Settings{DataSource: a.Config.DataSource, SearchAttributes: a.Config.SearchAttributes, PartBytes: a.Config.PartBytes}
	if in.DataSource != "" {
		s.DataSource = in.DataSource
	}
	if s.DataSource == "" {
		return s, configError("no ChartMogul data source is configured: start the worker with CHARTMOGUL_DATA_SOURCE (or --data-source), or give the sync {\"data_source\": \"ds_…\"}")
	}
	if s.PartBytes <= 0 {
		s.PartBytes = chartmogul.MaxPayload
	}
	return s, nil
}

// CheckSetup checks, before a sync reads any customer, that the six source
// relations can be read, and reports the source's rows that belong to no
// customer. It asks nothing of ChartMogul: a sync with nothing to send
// sends no request at all, and a refused key or an unknown data source
// stops the sync at its first request with a configuration error.
func (a *Activities) CheckSetup(ctx context.Context, in workflows.CheckSetupInput) (workflows.CheckSetupResult, error) {
	var res workflows.CheckSetupResult
	if err := a.Source.Check(ctx); err != nil {
		return res, err
	}
	n, err := a.Source.CountCustomers(ctx)
	if err != nil {
		return res, err
	}
	res.SourceCustomers = n
	res.Orphans, res.OrphansTotal, err = a.Source.Orphans(ctx, workflows.MaxListed)
	return res, err
}

// ListCustomers returns the next batch of customers after a cursor: all of
// them for a full sync, otherwise only those whose rows changed since their
// last import (one content hash per customer, computed in SQL for the whole
// batch and compared with the ledger's).
func (a *Activities) ListCustomers(ctx context.Context, in workflows.ListCustomersInput) (workflows.ListCustomersResult, error) {
	var res workflows.ListCustomersResult
	ids, err := a.Source.CustomerIDs(ctx, in.After, in.Limit, in.Only)
	if err != nil {
		return res, err
	}
	res.Scanned = len(ids)
	res.Done = len(ids) < in.Limit
	if len(ids) > 0 {
		res.Next = ids[len(ids)-1]
	}
	if len(ids) == 0 {
		return res, nil
	}
	hashes, err := a.Source.Hashes(ctx, ids)
	if err != nil {
		return res, err
	}
	res.Hashes = map[string]string{}
	if in.Full {
		res.Customers = ids
		for _, id := range ids {
			res.Hashes[id] = hashes[id]
		}
		return res, nil
	}
	synced, err := a.State.customerHashes(ctx, in.Settings.DataSource, ids)
	if err != nil {
		return res, err
	}
	for _, id := range ids {
		if h, ok := synced[id]; ok && h == hashes[id] {
			res.Unchanged++
			continue
		}
		res.Customers = append(res.Customers, id)
		res.Hashes[id] = hashes[id]
	}
	return res, nil
}

// Extract reads one customer's rows (or the plans) from the billing
// database into a claim check in the state database.
func (a *Activities) Extract(ctx context.Context, in workflows.ExtractInput) (workflows.ExtractResult, error) {
	var res workflows.ExtractResult
	ex, hash, err := a.Source.Extract(ctx, in.Customer, in.Hash == "")
	if err != nil {
		return res, err
	}
	for t, recs := range ex.Records {
		res.Counts.Inc(string(t), len(recs))
	}
	if in.Customer != "" && len(ex.Records[chartmogul.RecordCustomers]) == 0 {
		res.Missing = true
	}
	body, err := json.Marshal(ex.Records)
	if err != nil {
		return res, err
	}
	res.Hash = hash
	if in.Hash != "" {
		res.Hash = in.Hash
	}
	res.ExtractID, err = a.State.saveExtract(ctx, in.Settings.DataSource, in.Customer, in.Workflow, body, hash)
	return res, err
}

// Finish ends a customer's import: when complete, it records the content
// hash the next sync compares against; it always removes the claim checks.
func (a *Activities) Finish(ctx context.Context, in workflows.FinishInput) error {
	hash := ""
	if in.Complete && !in.DryRun && in.Customer != "" {
		hash = in.Hash
	}
	return a.State.finishCustomer(ctx, in.Settings.DataSource, in.ExtractID, in.Workflow, in.Customer, hash)
}

// WaitWorkflow waits until the workflow with the given id (its latest run)
// has closed, heartbeating meanwhile: the sync then starts its own import
// of the customer.
func (a *Activities) WaitWorkflow(ctx context.Context, in workflows.WaitWorkflowInput) error {
	done := make(chan error, 1)
	go func() {
		run := a.Temporal.GetWorkflow(ctx, in.WorkflowID, "")
		err := run.Get(ctx, nil)
		done <- err
	}()
	tick := time.NewTicker(10 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-done:
			// However it ended, it has ended: the caller starts a new run.
			return nil
		case <-tick.C:
			activity.RecordHeartbeat(ctx, "waiting for "+in.WorkflowID)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// FindRemoved lists the customers Recur imported into the data source that
// the source no longer has. Recur never deletes them: it reports them.
func (a *Activities) FindRemoved(ctx context.Context, in workflows.FindRemovedInput) (workflows.FindRemovedResult, error) {
	var res workflows.FindRemovedResult
	synced, err := a.State.syncedCustomers(ctx, in.Settings.DataSource)
	if err != nil || len(synced) == 0 {
		return res, err
	}
	present := map[string]bool{}
	after := ""
	for {
		ids, err := a.Source.CustomerIDs(ctx, after, 10000, nil)
		if err != nil {
			return res, err
		}
		for _, id := range ids {
			present[id] = true
		}
		if len(ids) < 10000 {
			break
		}
		after = ids[len(ids)-1]
	}
	for _, id := range synced {
		if !present[id] {
			res.Count++
			if len(res.Customers) < workflows.MaxListed {
				res.Customers = append(res.Customers, id)
			}
		}
	}
	return res, nil
}

// partLabel names a customer's part in messages.
func partLabel(customer string) string {
	if customer == "" {
		return "the plans"
	}
	return fmt.Sprintf("customer %q", customer)
}
