// Package importer applies bulk imports. It holds the River workers that the
// store's jobs name: a job applies every unfinished import of its data source
// up to its own, oldest first, so that imports of one data source apply in
// the order they arrived whichever worker, on whichever machine, picks up
// which job.
package importer

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"github.com/recurhq/recur/chartmogul"
	"github.com/recurhq/recur/sandbox/bulk"
	"github.com/recurhq/recur/sandbox/store"
)

// Importer applies imports from the store.
type Importer struct {
	Store *store.Store
	Log   *slog.Logger
	// Now is the clock that "in the future" is measured against.
	Now func() time.Time
	// Finished, when set, hears of every import this process finishes, with
	// its final status and report (nil when the payload could not be read):
	// the hook through which the metrics count imports.
	Finished func(imp *chartmogul.Import, status chartmogul.ImportStatus, report *chartmogul.ImportReport)
	// Webhooks configures the delivery of completion webhooks (webhooks.go).
	Webhooks Webhooks
}

// New returns an Importer on s that logs to log.
func New(s *store.Store, log *slog.Logger) *Importer {
	return &Importer{Store: s, Log: log, Now: time.Now}
}

// StalledAfter is how long an unfinished import may go without progress
// before the periodic sweep gives it a spare job.
const StalledAfter = 30 * time.Second

// Workers registers the importer's River workers.
func (im *Importer) Workers() *river.Workers {
	w := river.NewWorkers()
	river.AddWorker(w, &applyWorker{im: im})
	river.AddWorker(w, &resumeWorker{im: im})
	river.AddWorker(w, &recomputeWorker{im: im})
	river.AddWorker(w, &recomputeDirtyWorker{im: im})
	river.AddWorker(w, &webhookWorker{im: im})
	return w
}

// PeriodicJobs returns the importer's periodic jobs: the sweep that resumes
// stalled imports, every ten seconds, on the leader.
func (im *Importer) PeriodicJobs() []*river.PeriodicJob {
	return []*river.PeriodicJob{river.NewPeriodicJob(river.PeriodicInterval(10*time.Second),
		func() (river.JobArgs, *river.InsertOpts) { return store.ResumeStalledArgs{}, nil },
		&river.PeriodicJobOpts{ID: "resume_stalled_imports"}), analyticsRefresh()}
}

type resumeWorker struct {
	river.WorkerDefaults[store.ResumeStalledArgs]
	im *Importer
}

// Work enqueues spare jobs for stalled imports.
func (w *resumeWorker) Work(ctx context.Context, job *river.Job[store.ResumeStalledArgs]) error {
	n, err := w.im.Store.ResumeStalledImports(ctx, StalledAfter)
	if n > 0 {
		w.im.Log.Warn("resumed stalled imports", "imports", n)
	}
	return err
}

type applyWorker struct {
	river.WorkerDefaults[store.ApplyImportArgs]
	im *Importer
}

// Work applies the job's data source's imports up to the job's import.
func (w *applyWorker) Work(ctx context.Context, job *river.Job[store.ApplyImportArgs]) error {
	return w.im.ApplyThrough(ctx, job.Args.DataSourceID, job.Args.ImportID)
}

// ApplyThrough applies, oldest first, every unfinished import of a data
// source whose id is at most upTo. Imports already finished are skipped, so
// any number of calls for the same imports apply each exactly once. It
// returns an error only when the database fails; River then retries the job.
func (im *Importer) ApplyThrough(ctx context.Context, dataSourceID, upTo int64) error {
	for {
		imp, err := im.Store.NextImport(ctx, dataSourceID, upTo)
		if chartmogul.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := im.apply(ctx, imp); err != nil {
			if errors.Is(err, store.ErrNotNext) {
				continue
			}
			return err
		}
	}
}

func (im *Importer) apply(ctx context.Context, imp *chartmogul.Import) error {
	start := time.Now()
	if imp.Status == chartmogul.ImportQueued {
		if err := im.Store.MarkImportProcessing(ctx, imp.ID); err != nil {
			return err
		}
	}
	body, err := store.Payload(imp)
	if err != nil {
		return im.fail(ctx, imp, err.Error())
	}
	batch, err := chartmogul.Decode(body, im.Now())
	body = nil
	if err != nil {
		// The API checked the payload before accepting it, so this is a
		// payload stored by an older version with other rules.
		return im.fail(ctx, imp, "the payload cannot be read: "+err.Error())
	}
	report, applied, err := im.Store.ApplyImport(ctx, imp, bulk.Keys(batch), bulk.Resolver(batch))
	if err != nil || !applied {
		return err
	}
	if im.Finished != nil {
		status, _ := report.Result()
		im.Finished(imp, status, report)
	}
	if err := im.Store.RefreshStats(ctx, report.Imported()); err != nil {
		im.Log.Warn("the planner's statistics could not be refreshed", "error", err)
	}
	im.Log.Info("import applied", "import", imp.UUID, "data_source", imp.DataSourceUUID, "records", report.Received(),
		"imported", report.Imported(), "failed", len(report.Failures), "duration_ms", time.Since(start).Milliseconds())
	return nil
}

// fail finishes an import as failed with a reason, and tells Finished.
func (im *Importer) fail(ctx context.Context, imp *chartmogul.Import, reason string) error {
	if err := im.Store.FailImport(ctx, imp.ID, reason, nil); err != nil {
		return err
	}
	if im.Finished != nil {
		im.Finished(imp, chartmogul.ImportFailed, nil)
	}
	return nil
}

// Resume enqueues a job for every unfinished import: after a crash, jobs
// that were running are stuck until River rescues them, and an import must
// not wait that long. A spare job finds its imports finished and does
// nothing.
func (im *Importer) Resume(ctx context.Context) (int, error) {
	imps, err := im.Store.UnfinishedImports(ctx)
	if err != nil {
		return 0, err
	}
	for i := range imps {
		if err := im.Store.EnqueueImport(ctx, &imps[i]); err != nil {
			return i, err
		}
	}
	return len(imps), nil
}
