package web_test

// The dashboard's HTTP side, through the API's real handler on a real
// SQLite file: the shell at /, the assets with their caching and security
// headers, and the API's routes and JSON errors untouched around them. The
// page itself is tested in a real browser by cmd/recur's TestDashboard.

import (
	"context"
	"encoding/json"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/recurhq/recur/sandbox/api"
	"github.com/recurhq/recur/sandbox/store"
	"github.com/recurhq/recur/sandbox/store/storetest"
	"github.com/recurhq/recur/sandbox/web"
)

func newServer(t *testing.T) *httptest.Server {
	t.Helper()
	st, err := store.Open(context.Background(), storetest.SQLite(t).URL, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	srv := httptest.NewServer(api.New(st, slog.New(slog.DiscardHandler)).Handler())
	t.Cleanup(srv.Close)
	return srv
}

type answer struct {
	status int
	header http.Header
	body   string
}

func get(t *testing.T, method, url string, headers ...string) answer {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{res.StatusCode, res.Header, string(b)}
}

var assetRef = regexp.MustCompile(`(?:href|src)="(/assets/[^"]+)"`)

func TestShell(t *testing.T) {
	srv := newServer(t)
	a := get(t, http.MethodGet, srv.URL+"/")
	if a.status != http.StatusOK || !strings.HasPrefix(a.header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET / answered %d %s, want 200 text/html", a.status, a.header.Get("Content-Type"))
	}
	csp := a.header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("Content-Security-Policy %q lacks %q", csp, want)
		}
	}
	if a.header.Get("X-Content-Type-Options") != "nosniff" || a.header.Get("X-Frame-Options") != "DENY" {
		t.Errorf("security headers missing: %v", a.header)
	}
	// The shell names its assets with their content hash, and each one is
	// served.
	refs := assetRef.FindAllStringSubmatch(a.body, -1)
	if len(refs) < 3 {
		t.Fatalf("the shell references %d assets, want the stylesheet, the script and the icon:\n%s", len(refs), a.body)
	}
	for _, ref := range refs {
		if !strings.Contains(ref[1], "?v=") {
			t.Errorf("asset %s has no version", ref[1])
		}
		if r := get(t, http.MethodGet, srv.URL+ref[1]); r.status != http.StatusOK {
			t.Errorf("GET %s answered %d", ref[1], r.status)
		}
	}
	// A browser that has the shell revalidates it without a body.
	if r := get(t, http.MethodGet, srv.URL+"/", "If-None-Match", a.header.Get("ETag")); r.status != http.StatusNotModified || r.body != "" {
		t.Errorf("GET / with its ETag answered %d with %d bytes, want 304 and none", r.status, len(r.body))
	}
	if r := get(t, http.MethodHead, srv.URL+"/"); r.status != http.StatusOK || r.body != "" {
		t.Errorf("HEAD / answered %d with %d bytes", r.status, len(r.body))
	}
}

func TestAssets(t *testing.T) {
	srv := newServer(t)
	for _, c := range []struct{ name, ctype string }{
		{"app.js", "javascript"}, {"api.js", "javascript"}, {"charts.js", "javascript"},
		{"style.css", "text/css"}, {"favicon.svg", "image/svg+xml"},
	} {
		a := get(t, http.MethodGet, srv.URL+"/assets/"+c.name)
		if a.status != http.StatusOK || !strings.Contains(a.header.Get("Content-Type"), c.ctype) {
			t.Errorf("GET /assets/%s answered %d %q, want 200 %s", c.name, a.status, a.header.Get("Content-Type"), c.ctype)
			continue
		}
		etag := a.header.Get("ETag")
		if etag == "" || a.header.Get("Cache-Control") != "no-cache" {
			t.Errorf("GET /assets/%s: ETag %q, Cache-Control %q; want an ETag and no-cache", c.name, etag, a.header.Get("Cache-Control"))
		}
		if r := get(t, http.MethodGet, srv.URL+"/assets/"+c.name, "If-None-Match", etag); r.status != http.StatusNotModified {
			t.Errorf("GET /assets/%s with its ETag answered %d, want 304", c.name, r.status)
		}
	}
	// An unknown asset is a JSON 404 naming the path, like an unknown route.
	a := get(t, http.MethodGet, srv.URL+"/assets/nope.js")
	var body struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}
	if a.status != http.StatusNotFound || json.Unmarshal([]byte(a.body), &body) != nil || body.Code != 404 || !strings.Contains(body.Message, "/assets/nope.js") {
		t.Errorf("GET /assets/nope.js answered %d %s, want a JSON 404 naming the path", a.status, a.body)
	}
}

// TestAPIUntouched checks that mounting the dashboard at / left the API's
// own answers as they were: unknown paths and wrong methods are JSON
// errors, and /v1 still wants a key.
func TestAPIUntouched(t *testing.T) {
	srv := newServer(t)
	for _, c := range []struct {
		method, path string
		status       int
	}{
		{http.MethodGet, "/v1/ping", http.StatusUnauthorized},
		{http.MethodGet, "/nope", http.StatusNotFound},
		{http.MethodGet, "/index.html", http.StatusNotFound},
		{http.MethodPost, "/", http.StatusMethodNotAllowed},
		{http.MethodGet, "/healthz", http.StatusOK},
	} {
		a := get(t, c.method, srv.URL+c.path)
		if a.status != c.status || !strings.HasPrefix(a.header.Get("Content-Type"), "application/json") {
			t.Errorf("%s %s answered %d %q, want %d JSON", c.method, c.path, a.status, a.header.Get("Content-Type"), c.status)
		}
	}
}

// TestNoNetwork checks that nothing the dashboard ships loads from
// another origin: no CDN, no web font, no analytics.
func TestNoNetwork(t *testing.T) {
	fsys := web.Assets()
	url := regexp.MustCompile(`(?i)(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}`)
	err := fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return err
		}
		for _, m := range url.FindAllString(string(b), -1) {
			if m != "http://www.w3.org" { // the SVG namespace, a name and not a request
				t.Errorf("%s refers to %s", name, m)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
