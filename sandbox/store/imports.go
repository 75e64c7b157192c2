package store

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"time"

	"github.com/go-json-experiment/json"

	"github.com/klauspost/compress/zstd"
	"github.com/riverqueue/river"

	"github.com/recurhq/recur/chartmogul"
)

// Payloads are kept zstd-compressed: JSON shrinks about eighteen-fold at the
// fastest level, which costs ~1 ms per MB to compress and less to restore.
var (
	zstdEncoder = sync.OnceValue(func() *zstd.Encoder {
		// A 1 MB window compresses JSON payloads as well as the default 8 MB
		// and keeps an import's memory down.
		e, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1), zstd.WithWindowSize(1<<20))
		if err != nil {
			panic(err)
		}
		return e
	})
	zstdDecoder = sync.OnceValue(func() *zstd.Decoder {
		d, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(0))
		if err != nil {
			panic(err)
		}
		return d
	})
)

// Payload returns an import's payload as it was received.
func Payload(imp *chartmogul.Import) ([]byte, error) {
	b, err := zstdDecoder().DecodeAll(imp.Payload, make([]byte, 0, imp.PayloadSize))
	if err != nil {
		return nil, fmt.Errorf("the stored payload of import %s cannot be read back: %w", imp.UUID, err)
	}
	return b, nil
}

const importColumns = `i.id, i.uuid, i.account_id, i.data_source_id, d.uuid, i.external_id, i.status, i.payload_size, i.report, i.reason, i.created_at, i.updated_at, i.finished_at`

func scanImport(r row, withPayload bool) (*chartmogul.Import, error) {
	var imp chartmogul.Import
	var ext, report sql.NullString
	var status string
	var created, updated int64
	var finished sql.NullInt64
	dest := []any{&imp.ID, &imp.UUID, &imp.AccountID, &imp.DataSourceID, &imp.DataSourceUUID, &ext, &status, &imp.PayloadSize, &report, &imp.Reason, &created, &updated, &finished}
	if withPayload {
		dest = append(dest, &imp.Payload)
	}
	if err := r.Scan(dest...); err != nil {
		return nil, err
	}
	imp.ExternalID, imp.Status = ext.String, chartmogul.ImportStatus(status)
	imp.CreatedAt, imp.UpdatedAt, imp.FinishedAt = fromMicros(created), fromMicros(updated), optTime(finished)
	if report.Valid {
		var rep chartmogul.ImportReport
		if err := json.Unmarshal([]byte(report.String), &rep); err != nil {
			return nil, fmt.Errorf("the report of import %s is not readable: %w", imp.UUID, err)
		}
		imp.Report = &rep
	}
	return &imp, nil
}

// CreateImport stores a bulk import and its job in one transaction, so that
// once it returns, the import will be applied whatever process dies. When the
// data source already has an import with the same external id, it stores
// nothing and returns that import with existing set: both official clients
// retry POSTs, and a retry must land on the import it repeats.
func (s *Store) CreateImport(ctx context.Context, ds *chartmogul.DataSource, externalID string, body []byte) (imp *chartmogul.Import, existing bool, err error) {
	now := s.now()
	imp = &chartmogul.Import{UUID: chartmogul.NewUUID(), AccountID: ds.AccountID, DataSourceID: ds.ID, DataSourceUUID: ds.UUID,
		ExternalID: externalID, Status: chartmogul.ImportQueued, PayloadSize: int64(len(body)), CreatedAt: now, UpdatedAt: now}
	imp.Payload = zstdEncoder().EncodeAll(body, make([]byte, 0, len(body)/8))
	err = s.eng.writeTx(ctx, func(tx *txn) error {
		if externalID != "" {
			old, err := importByExternalID(ctx, tx, ds.ID, externalID)
			if err == nil {
				imp, existing = old, true
				return nil
			}
			if !chartmogul.IsNotFound(err) {
				return err
			}
		}
		err := tx.queryRow(ctx, `INSERT INTO imports (uuid, account_id, data_source_id, external_id, status, payload, payload_size, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
			imp.UUID, imp.AccountID, imp.DataSourceID, strOrNil(externalID), string(imp.Status), imp.Payload, imp.PayloadSize, micros(now), micros(now)).Scan(&imp.ID)
		if err != nil {
			return err
		}
		return s.queue.insertJobTx(ctx, tx, ApplyImportArgs{ImportID: imp.ID, DataSourceID: ds.ID}, nil)
	})
	if isUniqueViolation(err) && externalID != "" {
		// Two requests with the same external id raced; the other one won.
		imp, err = importByExternalID(ctx, s.eng.read(), ds.ID, externalID)
		return imp, true, err
	}
	if err != nil {
		return nil, false, internal("store import", err)
	}
	imp.Payload = nil
	return imp, existing, nil
}

func importByExternalID(ctx context.Context, q querier, dsID int64, externalID string) (*chartmogul.Import, error) {
	imp, err := scanImport(q.queryRow(ctx, `SELECT `+importColumns+` FROM imports i JOIN data_sources d ON d.id = i.data_source_id
		WHERE i.data_source_id = $1 AND i.external_id = $2`, dsID, externalID), false)
	if isNoRows(err) {
		return nil, chartmogul.NotFound("Import")
	}
	return imp, internal("find import", err)
}

// Import returns an import of a data source by its id or, failing that, by
// its external id (ChartMogul's documentation uses the latter, its clients
// the former). It returns ENOTFOUND when the data source has neither.
func (s *Store) Import(ctx context.Context, ds *chartmogul.DataSource, idOrExternalID string) (*chartmogul.Import, error) {
	q := s.eng.read()
	imp, err := scanImport(q.queryRow(ctx, `SELECT `+importColumns+` FROM imports i JOIN data_sources d ON d.id = i.data_source_id
		WHERE i.uuid = $1 AND i.data_source_id = $2`, idOrExternalID, ds.ID), false)
	if isNoRows(err) {
		return importByExternalID(ctx, q, ds.ID, idOrExternalID)
	}
	return imp, internal("find import", err)
}

// ListImports returns up to limit imports of a data source, newest first,
// starting after the import with id beforeID (0 for the first page). It
// returns one more than limit when there are more, so the caller can say so.
func (s *Store) ListImports(ctx context.Context, ds *chartmogul.DataSource, beforeID int64, limit int) ([]chartmogul.Import, error) {
	if beforeID <= 0 {
		beforeID = 1<<63 - 1
	}
	r, err := s.eng.read().query(ctx, `SELECT `+importColumns+` FROM imports i JOIN data_sources d ON d.id = i.data_source_id
		WHERE i.data_source_id = $1 AND i.id < $2 ORDER BY i.id DESC LIMIT $3`, ds.ID, beforeID, limit+1)
	if err != nil {
		return nil, internal("list imports", err)
	}
	defer r.Close()
	out := []chartmogul.Import{}
	for r.Next() {
		imp, err := scanImport(r, false)
		if err != nil {
			return nil, internal("list imports", err)
		}
		out = append(out, *imp)
	}
	return out, internal("list imports", r.Err())
}

// NextImport returns, with its payload, the oldest unfinished import of a
// data source whose id is at most upTo: the next one to apply. It returns
// ENOTFOUND when every such import has finished.
func (s *Store) NextImport(ctx context.Context, dataSourceID, upTo int64) (*chartmogul.Import, error) {
	imp, err := scanImport(s.eng.read().queryRow(ctx, `SELECT `+importColumns+`, i.payload FROM imports i JOIN data_sources d ON d.id = i.data_source_id
		WHERE i.data_source_id = $1 AND i.id <= $2 AND i.status IN ('queued', 'processing') ORDER BY i.id LIMIT 1`, dataSourceID, upTo), true)
	if isNoRows(err) {
		return nil, chartmogul.NotFound("Import")
	}
	return imp, internal("find the next import", err)
}

// UnfinishedImports returns the ids and data sources of imports not yet
// finished, oldest first, without payloads.
func (s *Store) UnfinishedImports(ctx context.Context) ([]chartmogul.Import, error) {
	r, err := s.eng.read().query(ctx, `SELECT `+importColumns+` FROM imports i JOIN data_sources d ON d.id = i.data_source_id
		WHERE i.status IN ('queued', 'processing') ORDER BY i.id`)
	if err != nil {
		return nil, internal("list unfinished imports", err)
	}
	defer r.Close()
	var out []chartmogul.Import
	for r.Next() {
		imp, err := scanImport(r, false)
		if err != nil {
			return nil, internal("list unfinished imports", err)
		}
		out = append(out, *imp)
	}
	return out, internal("list unfinished imports", r.Err())
}

// EnqueueImport inserts another job for an unfinished import: the way to
// resume imports whose job was lost with the process that ran it. Applying
// is idempotent, so a spare job finds the import finished and does nothing.
func (s *Store) EnqueueImport(ctx context.Context, imp *chartmogul.Import) error {
	return s.eng.writeTx(ctx, func(tx *txn) error {
		return internal("enqueue import", s.queue.insertJobTx(ctx, tx, ApplyImportArgs{ImportID: imp.ID, DataSourceID: imp.DataSourceID}, nil))
	})
}

// MarkImportProcessing records that a worker started on an import, so that
// people watching it see it move.
func (s *Store) MarkImportProcessing(ctx context.Context, id int64) error {
	return s.eng.writeTx(ctx, func(tx *txn) error {
		_, err := tx.exec(ctx, `UPDATE imports SET status = 'processing', updated_at = $1 WHERE id = $2 AND status = 'queued'`, micros(s.now()), id)
		return internal("mark import processing", err)
	})
}

// FailImport finishes an import as failed with a reason, when its payload
// cannot be applied at all.
func (s *Store) FailImport(ctx context.Context, id int64, reason string, report *chartmogul.ImportReport) error {
	return s.eng.writeTx(ctx, func(tx *txn) error {
		if err := finishImport(ctx, tx, id, chartmogul.ImportFailed, reason, report, s.now()); err != nil {
			return err
		}
		return s.enqueueWebhook(ctx, tx, id, chartmogul.ImportFailed) // webhooks.go
	})
}

func finishImport(ctx context.Context, tx *txn, id int64, status chartmogul.ImportStatus, reason string, report *chartmogul.ImportReport, now time.Time) error {
	var text any
	if report != nil {
		b, err := json.Marshal(report)
		if err != nil {
			return internal("encode import report", err)
		}
		text = string(b)
	}
	_, err := tx.exec(ctx, `UPDATE imports SET status = $1, reason = $2, report = $3, updated_at = $4, finished_at = $4 WHERE id = $5`,
		string(status), reason, text, micros(now), id)
	return internal("finish import", err)
}

// ResumeStalledArgs is the periodic River job that re-enqueues imports whose
// job was lost: a worker process killed while applying one leaves its job
// "running" until River rescues it, and the import should not wait that
// long.
type ResumeStalledArgs struct{}

// Kind names the job for River.
func (ResumeStalledArgs) Kind() string { return "recur.resume_stalled_imports" }

// InsertOpts puts the job on the imports queue.
func (ResumeStalledArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueImports, MaxAttempts: 1}
}

// ResumeStalledImports enqueues a spare job for every unfinished import that
// has not moved for olderThan and that no worker is applying now, and returns
// how many it enqueued. On PostgreSQL a worker applying an import holds its
// data source's row lock, which SKIP LOCKED passes over; on SQLite the one
// process that applies imports is this one, and a spare job is harmless:
// applying is idempotent.
func (s *Store) ResumeStalledImports(ctx context.Context, olderThan time.Duration) (int, error) {
	cutoff := micros(s.now().Add(-olderThan))
	n := 0
	err := s.eng.writeTx(ctx, func(tx *txn) error {
		q := `SELECT i.id, i.data_source_id FROM imports i JOIN data_sources d ON d.id = i.data_source_id
			WHERE i.status IN ('queued', 'processing') AND i.updated_at < $1 ORDER BY i.id`
		if tx.eng == Postgres {
			q += ` FOR UPDATE OF d SKIP LOCKED`
		}
		var stalled [][2]int64
		err := each(ctx, tx, q, []any{cutoff}, func(r rows) error {
			var id, ds int64
			err := r.Scan(&id, &ds)
			stalled = append(stalled, [2]int64{id, ds})
			return err
		})
		if err != nil {
			return internal("find stalled imports", err)
		}
		for _, st := range stalled {
			if err := s.queue.insertJobTx(ctx, tx, ApplyImportArgs{ImportID: st[0], DataSourceID: st[1]}, nil); err != nil {
				return internal("enqueue stalled import", err)
			}
			// Touch the import so that the next sweep waits another
			// olderThan before enqueueing yet another job for it.
			if _, err := tx.exec(ctx, `UPDATE imports SET updated_at = $1 WHERE id = $2`, micros(s.now()), st[0]); err != nil {
				return internal("touch stalled import", err)
			}
			n++
		}
		return nil
	})
	return n, err
}
