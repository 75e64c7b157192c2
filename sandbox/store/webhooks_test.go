package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/recurhq/recur/chartmogul"
	"github.com/recurhq/recur/sandbox/store"
)

// Completion webhooks in the store: settings, the job queued with the
// commit that finishes an import, and the record of delivery attempts.

// webhookJobs counts the webhook delivery jobs waiting for a worker.
func webhookJobs(t *testing.T, s *store.Store) int64 {
	t.Helper()
	depth, err := s.QueueDepth(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, q := range depth {
		if q.Queue == store.QueueWebhooks {
			n += q.Jobs
		}
	}
	return n
}

func wantInvalid(t *testing.T, err error, field, message string) {
	t.Helper()
	var e *chartmogul.Error
	if !errors.As(err, &e) || e.Code != chartmogul.EINVALID || e.Fields[field] != message {
		t.Fatalf("err = %v, want EINVALID with %s: %q", err, field, message)
	}
}

func TestValidateWebhookURL(t *testing.T) {
	for _, ok := range []string{"https://example.com/hooks/recur", "http://127.0.0.1:8080/h?x=1", "HTTPS://Example.com", "https://user:pw@example.com/"} {
		if err := store.ValidateWebhookURL(ok); err != nil {
			t.Errorf("ValidateWebhookURL(%q) = %v, want nil", ok, err)
		}
	}
	const want = "webhook_url must be an absolute http:// or https:// URL, such as https://example.com/hooks/recur; got "
	for _, bad := range []string{"", "example.com/hooks", "/hooks", "ftp://example.com/x", "https://", "https:///path", "mailto:ops@example.com",
		" https://example.com", "https://exa mple.com", "javascript:alert(1)", "http:example.com"} {
		wantInvalid(t, store.ValidateWebhookURL(bad), "webhook_url", want+chartmogul.Quote(bad)+".")
	}
	wantInvalid(t, store.ValidateWebhookURL("https://example.com/"+strings.Repeat("a", 2048)), "webhook_url", "webhook_url must be at most 2048 characters long.")
}

func TestWebhookSettings(t *testing.T) {
	engines(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		f := newFixture(t, s, "acme")
		other := newFixture(t, s, "other")

		ds, secret, err := s.ChangeWebhook(ctx, f.account.ID, f.ds.UUID, store.WebhookChange{SetURL: true, URL: "https://example.com/a"})
		if err != nil || ds.WebhookURL != "https://example.com/a" || !strings.HasPrefix(secret, "whsec_") || len(secret) != 6+64 {
			t.Fatalf("set: %+v, %q, %v", ds, secret, err)
		}
		if got, err := s.DataSource(ctx, f.account.ID, f.ds.UUID); err != nil || got.WebhookURL != "https://example.com/a" {
			t.Fatalf("DataSource after set: %+v, %v", got, err)
		}
		if tg, err := s.WebhookTarget(ctx, f.ds.ID); err != nil || tg != (store.WebhookTarget{URL: "https://example.com/a", Secret: secret}) {
			t.Fatalf("target: %+v, %v", tg, err)
		}

		// Another URL keeps the secret, and shows none.
		ds, again, err := s.ChangeWebhook(ctx, f.account.ID, f.ds.UUID, store.WebhookChange{SetURL: true, URL: "https://example.com/b"})
		if err != nil || again != "" || ds.WebhookURL != "https://example.com/b" {
			t.Fatalf("change URL: %+v, %q, %v", ds, again, err)
		}
		if tg, _ := s.WebhookTarget(ctx, f.ds.ID); tg.Secret != secret {
			t.Fatalf("changing the URL changed the secret")
		}

		// Rotation makes a new one.
		_, rotated, err := s.ChangeWebhook(ctx, f.account.ID, f.ds.UUID, store.WebhookChange{RotateSecret: true})
		if err != nil || rotated == "" || rotated == secret {
			t.Fatalf("rotate: %q, %v", rotated, err)
		}
		if tg, _ := s.WebhookTarget(ctx, f.ds.ID); tg.Secret != rotated || tg.URL != "https://example.com/b" {
			t.Fatalf("after rotation: %+v", tg)
		}

		// Clearing drops the secret too; rotating then has nothing to sign for.
		ds, none, err := s.ChangeWebhook(ctx, f.account.ID, f.ds.UUID, store.WebhookChange{SetURL: true, URL: ""})
		if err != nil || none != "" || ds.WebhookURL != "" {
			t.Fatalf("clear: %+v, %q, %v", ds, none, err)
		}
		if tg, _ := s.WebhookTarget(ctx, f.ds.ID); tg != (store.WebhookTarget{}) {
			t.Fatalf("after clearing: %+v", tg)
		}
		_, _, err = s.ChangeWebhook(ctx, f.account.ID, f.ds.UUID, store.WebhookChange{RotateSecret: true})
		wantInvalid(t, err, "rotate_webhook_secret", "The data source has no webhook_url to sign for; set webhook_url first (a new secret comes with it).")

		_, _, err = s.ChangeWebhook(ctx, f.account.ID, f.ds.UUID, store.WebhookChange{SetURL: true, URL: "example.com"})
		wantInvalid(t, err, "webhook_url", `webhook_url must be an absolute http:// or https:// URL, such as https://example.com/hooks/recur; got "example.com".`)
		if _, _, err := s.ChangeWebhook(ctx, other.account.ID, f.ds.UUID, store.WebhookChange{SetURL: true, URL: "https://example.com/x"}); !chartmogul.IsNotFound(err) {
			t.Fatalf("another account's data source: %v, want ENOTFOUND", err)
		}
		if _, err := s.WebhookTarget(ctx, 1<<40); !chartmogul.IsNotFound(err) {
			t.Fatalf("target of a missing data source: %v, want ENOTFOUND", err)
		}
	})
}

func TestWebhookQueuedWithTheFinish(t *testing.T) {
	engines(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		hooked := newFixture(t, s, "acme")
		plain := newFixture(t, s, "other")
		if _, _, err := s.ChangeWebhook(ctx, hooked.account.ID, hooked.ds.UUID, store.WebhookChange{SetURL: true, URL: "https://example.com/h"}); err != nil {
			t.Fatal(err)
		}

		// A data source without a URL queues nothing.
		if _, _, err := s.CreateImport(ctx, plain.ds, "p1", seed(t)); err != nil {
			t.Fatal(err)
		}
		applyAll(t, s, plain)
		if n := webhookJobs(t, s); n != 0 {
			t.Fatalf("an import of a data source without a webhook queued %d deliveries", n)
		}

		// Queueing an import queues no delivery; finishing it does, once.
		imp, _, err := s.CreateImport(ctx, hooked.ds, "h1", seed(t))
		if err != nil {
			t.Fatal(err)
		}
		if n := webhookJobs(t, s); n != 0 {
			t.Fatalf("a queued import queued %d deliveries", n)
		}
		applyAll(t, s, hooked)
		if n := webhookJobs(t, s); n != 1 {
			t.Fatalf("after the import finished: %d deliveries queued, want 1", n)
		}
		got, err := s.ImportByID(ctx, imp.ID)
		if err != nil || got.UUID != imp.UUID || got.Status != chartmogul.ImportCompleted || got.AccountID != hooked.account.ID {
			t.Fatalf("ImportByID: %+v, %v", got, err)
		}
		if _, err := s.ImportByID(ctx, 1<<40); !chartmogul.IsNotFound(err) {
			t.Fatalf("ImportByID(missing): %v, want ENOTFOUND", err)
		}

		// A failed import queues one too, and failing it twice (two
		// workers on one unreadable payload) still queues one.
		bad, _, err := s.CreateImport(ctx, hooked.ds, "h2", []byte(`{"customers":[]}`))
		if err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if err := s.FailImport(ctx, bad.ID, "the payload cannot be read", nil); err != nil {
				t.Fatal(err)
			}
		}
		if n := webhookJobs(t, s); n != 2 {
			t.Fatalf("after a failed import: %d deliveries queued, want 2", n)
		}
		if store.WebhookEvent(chartmogul.ImportFailed) != "import.failed" || store.WebhookEvent(chartmogul.ImportCompleted) != "import.completed" {
			t.Fatal("event names")
		}
	})
}

func TestWebhookDeliveryRecords(t *testing.T) {
	engines(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		f := newFixture(t, s, "acme")
		imp, _, err := s.CreateImport(ctx, f.ds, "i1", seed(t))
		if err != nil {
			t.Fatal(err)
		}
		other, _, err := s.CreateImport(ctx, f.ds, "i2", seed(t))
		if err != nil {
			t.Fatal(err)
		}
		at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		for i := 1; i <= 3; i++ {
			d := &store.WebhookDelivery{AccountID: f.account.ID, DataSourceID: f.ds.ID, ImportID: imp.ID, DeliveryID: "d1", Event: store.WebhookImportCompleted,
				URL: "https://example.com/h", Attempt: i, StatusCode: 500, Error: "the receiver answered 500", Response: "no\x00t yet \xff",
				Duration: 1500 * time.Microsecond, CreatedAt: at.Add(time.Duration(i) * time.Second)}
			if i == 3 {
				d.StatusCode, d.Error, d.Response = 204, "", "x"+strings.Repeat("é", 600)
			}
			if err := s.RecordWebhookDelivery(ctx, d); err != nil || d.ID == 0 {
				t.Fatalf("record attempt %d: %v", i, err)
			}
		}
		if err := s.RecordWebhookDelivery(ctx, &store.WebhookDelivery{AccountID: f.account.ID, DataSourceID: f.ds.ID, ImportID: other.ID,
			DeliveryID: "d2", Event: store.WebhookImportCompleted, URL: "https://example.com/h", Attempt: 1, Error: "connection refused"}); err != nil {
			t.Fatal(err)
		}

		page, err := s.ListWebhookDeliveries(ctx, imp, 0, 2)
		if err != nil || len(page) != 3 {
			t.Fatalf("first page: %d rows (want 2 and one more), %v", len(page), err)
		}
		last := page[0]
		if last.Attempt != 3 || page[1].Attempt != 2 || !last.Succeeded() || page[1].Succeeded() || last.StatusCode != 204 || last.Error != "" {
			t.Fatalf("newest first: %+v", page)
		}
		if len(last.Response) > store.MaxWebhookResponse || !strings.HasPrefix(last.Response, "xéé") || strings.ContainsRune(last.Response, '\uFFFD') {
			t.Fatalf("long response kept as %d bytes: %q…", len(last.Response), last.Response[:10])
		}
		if page[1].Response != "not yet " || page[1].Duration != 1500*time.Microsecond || !page[1].CreatedAt.Equal(at.Add(2*time.Second)) ||
			page[1].DeliveryID != "d1" || page[1].URL != "https://example.com/h" || page[1].Event != "import.completed" {
			t.Fatalf("attempt 2 read back as %+v", page[1])
		}
		rest, err := s.ListWebhookDeliveries(ctx, imp, page[1].ID, 2)
		if err != nil || len(rest) != 1 || rest[0].Attempt != 1 {
			t.Fatalf("second page: %+v, %v", rest, err)
		}
		if o, err := s.ListWebhookDeliveries(ctx, other, 0, 10); err != nil || len(o) != 1 || o[0].StatusCode != 0 || o[0].Succeeded() {
			t.Fatalf("the other import's attempts: %+v, %v", o, err)
		}

		// The attempts go with their data source.
		if err := s.DeleteDataSource(ctx, f.account.ID, f.ds.UUID); err != nil {
			t.Fatal(err)
		}
		if got, err := s.ListWebhookDeliveries(ctx, imp, 0, 10); err != nil || len(got) != 0 {
			t.Fatalf("attempts after deleting the data source: %+v, %v", got, err)
		}
	})
}
