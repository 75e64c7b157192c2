package importer_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/recurhq/recur/chartmogul"
	"github.com/recurhq/recur/sandbox/importer"
	"github.com/recurhq/recur/sandbox/store"
	"github.com/recurhq/recur/sandbox/store/storetest"
)

// The delivery of one webhook attempt, against receivers that fail in the
// ways real ones do. The whole path (enqueue, River retries, the API's
// list) is tested through HTTP in api/webhooks_test.go.

func TestDefaultWebhookBackoff(t *testing.T) {
	for attempt, want := range map[int]time.Duration{0: 10 * time.Second, 1: 10 * time.Second, 2: 20 * time.Second, 3: 40 * time.Second,
		9: 2560 * time.Second, 10: time.Hour, 64: time.Hour} {
		if got := importer.DefaultWebhookBackoff(attempt); got != want {
			t.Errorf("DefaultWebhookBackoff(%d) = %v, want %v", attempt, got, want)
		}
	}
}

func TestSignWebhook(t *testing.T) {
	// Computed independently: HMAC-SHA256 keyed "whsec_test" over
	// `1700000000.{"id":"x"}`.
	const want = "sha256=80e8d098018f757aa814ab1abb924f35d304affa1d93d29611a54696207eb7c3"
	if got := importer.SignWebhook("whsec_test", 1700000000, []byte(`{"id":"x"}`)); got != want {
		t.Fatalf("SignWebhook = %s, want %s", got, want)
	}
}

func TestDeliverWebhookFailures(t *testing.T) {
	for _, db := range storetest.Databases(t) {
		t.Run(db.Engine, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			st, err := store.Open(ctx, db.URL, store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			a, err := st.EnsureAccount(ctx, "acme")
			if err != nil {
				t.Fatal(err)
			}
			ds, err := st.CreateDataSource(ctx, a.ID, "Billing", "")
			if err != nil {
				t.Fatal(err)
			}
			imp, _, err := st.CreateImport(ctx, ds, "x", []byte(`{"customers":[]}`))
			if err != nil {
				t.Fatal(err)
			}
			im := importer.New(st, slog.New(slog.NewTextHandler(io.Discard, nil)))
			im.Webhooks.Render = func(imp *chartmogul.Import) []byte { return []byte(`{"id":"` + imp.UUID + `"}`) }
			args := store.WebhookArgs{ImportID: imp.ID, DataSourceID: ds.ID, Event: store.WebhookImportFailed, DeliveryID: "d1"}
			hook := func(url string) {
				t.Helper()
				if _, _, err := st.ChangeWebhook(ctx, a.ID, ds.UUID, store.WebhookChange{SetURL: true, URL: url}); err != nil {
					t.Fatal(err)
				}
			}
			last := func(attempt int) store.WebhookDelivery {
				t.Helper()
				list, err := st.ListWebhookDeliveries(ctx, imp, 0, 1)
				if err != nil || len(list) == 0 || list[0].Attempt != attempt {
					t.Fatalf("the latest attempt is not number %d: %+v, %v", attempt, list, err)
				}
				return list[0]
			}

			// Nobody listening: no status, the transport's error.
			down := httptest.NewServer(http.NotFoundHandler())
			down.Close()
			hook(down.URL)
			if err := im.DeliverWebhook(ctx, args, 1); err == nil {
				t.Fatal("delivery to a closed port succeeded")
			}
			if d := last(1); d.StatusCode != 0 || !strings.Contains(d.Error, "refused") || d.Succeeded() || d.URL != down.URL {
				t.Fatalf("attempt to a closed port: %+v", d)
			}

			// A redirect is an answer, not followed: POST bodies do not
			// survive redirects, and the receiver should name its URL.
			var followed atomic.Int32
			moved := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/elsewhere" {
					followed.Add(1)
					w.WriteHeader(http.StatusNoContent)
					return
				}
				http.Redirect(w, r, "/elsewhere", http.StatusFound)
			}))
			defer moved.Close()
			hook(moved.URL + "/hook")
			if err := im.DeliverWebhook(ctx, args, 2); err == nil {
				t.Fatal("a redirected delivery succeeded")
			}
			if d := last(2); d.StatusCode != http.StatusFound || d.Succeeded() || followed.Load() != 0 || !strings.Contains(d.Error, "302") {
				t.Fatalf("redirected attempt: %+v (followed %d)", d, followed.Load())
			}

			// A receiver slower than the timeout: cut off, recorded.
			if testing.Short() {
				t.Skip("the timeout case takes 10 s")
			}
			release := make(chan struct{})
			slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body)
				select {
				case <-r.Context().Done():
				case <-release:
				}
			}))
			defer slow.Close()
			defer close(release) // before Close, which waits for the handler
			hook(slow.URL)
			start := time.Now()
			if err := im.DeliverWebhook(ctx, args, 3); err == nil {
				t.Fatal("a delivery to a receiver that never answers succeeded")
			}
			if took := time.Since(start); took < importer.WebhookTimeout || took > importer.WebhookTimeout+5*time.Second {
				t.Fatalf("the attempt took %v, want about %v", took, importer.WebhookTimeout)
			}
			if d := last(3); d.StatusCode != 0 || d.Error == "" || d.Duration < importer.WebhookTimeout {
				t.Fatalf("timed-out attempt: %+v", d)
			}

			// Without a renderer the attempt fails, saying why.
			ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) }))
			defer ok.Close()
			hook(ok.URL)
			im.Webhooks.Render = nil
			if err := im.DeliverWebhook(ctx, args, 4); err == nil || !strings.Contains(last(4).Error, "Render is not set") {
				t.Fatalf("without a renderer: %v, %+v", err, last(4))
			}

			// A cleared webhook or a deleted import leave nothing to do and
			// record nothing.
			if _, _, err := st.ChangeWebhook(ctx, a.ID, ds.UUID, store.WebhookChange{SetURL: true}); err != nil {
				t.Fatal(err)
			}
			if err := im.DeliverWebhook(ctx, args, 5); err == nil || !strings.Contains(err.Error(), "no longer has a webhook") {
				t.Fatalf("cleared webhook: %v", err)
			}
			last(4)
			if err := im.DeliverWebhook(ctx, store.WebhookArgs{ImportID: 1 << 40}, 1); !chartmogul.IsNotFound(err) {
				t.Fatalf("missing import: %v, want ENOTFOUND", err)
			}
		})
	}
}
