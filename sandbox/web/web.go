// Package web serves Recur's dashboard: one HTML page at / and the
// stylesheet, scripts and icon it needs under /assets/, all embedded in the
// binary, so the dashboard works on a machine with no route to the internet
// and no CDN can change what it runs.
//
// The dashboard is a client of the public API and nothing more: the page
// asks for an API key, keeps it in the tab's sessionStorage (never in a
// cookie, so no other site can make the browser use it), and calls the same
// /v1 routes with HTTP Basic authentication that the official clients call.
// It never reaches the store, so it can show nothing a client could not
// read, and every account boundary, validation and error message of the API
// applies to it unchanged. The server renders only the shell (header,
// navigation, the place the views go); the views are plain ES modules that
// fetch JSON and build the DOM, with the charts drawn as hand-written SVG.
//
// Every answer carries a Content-Security-Policy that allows scripts,
// styles, images and connections from this origin only: nothing the page
// shows can load code or send data elsewhere.
package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"
)

//go:embed assets
var embedded embed.FS

// AssetPrefix is the URL path under which the dashboard's static files are
// served.
const AssetPrefix = "/assets/"

// contentSecurityPolicy confines the page to its own origin. Inline styles
// and scripts are refused too: the views build the DOM with createElement
// and set text with textContent, so data from the API can never become
// markup.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Dashboard is the dashboard's HTTP handler set: the shell at / and the
// assets under AssetPrefix.
type Dashboard struct {
	shell  []byte
	etag   string
	assets map[string]asset
}

// asset is one embedded static file, ready to serve.
type asset struct {
	body        []byte
	contentType string
	etag        string
}

// New loads the embedded assets and renders the shell. It fails only when
// the embedded files are broken, which the package's tests rule out.
func New() (*Dashboard, error) {
	static, err := fs.Sub(embedded, "assets/static")
	if err != nil {
		return nil, err
	}
	d := &Dashboard{assets: map[string]asset{}}
	err = fs.WalkDir(static, ".", func(name string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		b, err := fs.ReadFile(static, name)
		if err != nil {
			return err
		}
		ct := mime.TypeByExtension(path.Ext(name))
		if ct == "" {
			ct = "application/octet-stream"
		}
		d.assets[name] = asset{body: b, contentType: ct, etag: etagOf(b)}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, name := range []string{"style.css", "app.js", "favicon.svg"} {
		if _, ok := d.assets[name]; !ok {
			return nil, fmt.Errorf("web: the asset %s the shell needs is missing", name)
		}
	}
	tmpl, err := template.ParseFS(embedded, "assets/index.html")
	if err != nil {
		return nil, err
	}
	// The entry script and the stylesheet are named with their content's
	// hash, so a browser that cached an older version never runs it against
	// a newer server; the modules they import are revalidated by ETag.
	var buf bytes.Buffer
	err = tmpl.Execute(&buf, struct{ Style, Script, Icon string }{
		Style:  d.versioned("style.css"),
		Script: d.versioned("app.js"),
		Icon:   d.versioned("favicon.svg"),
	})
	if err != nil {
		return nil, err
	}
	d.shell, d.etag = buf.Bytes(), etagOf(buf.Bytes())
	return d, nil
}

// Must is New for callers that cannot go on without the dashboard: the
// assets are compiled in, so an error is a bug in this package.
func Must() *Dashboard {
	d, err := New()
	if err != nil {
		panic("web: the embedded dashboard is broken: " + err.Error())
	}
	return d
}

// versioned is an asset's URL with its content hash as the query.
func (d *Dashboard) versioned(name string) string {
	return AssetPrefix + name + "?v=" + strings.Trim(d.assets[name].etag, `"`)
}

func etagOf(b []byte) string {
	sum := sha256.Sum256(b)
	return `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`
}

// Assets returns the dashboard's embedded files: index.html, the template
// of the shell, and static/, the files served under AssetPrefix.
func Assets() fs.FS {
	sub, err := fs.Sub(embedded, "assets")
	if err != nil {
		panic(err) // "assets" is a valid path, embedded above
	}
	return sub
}

// shared is the dashboard Register serves, built once per process.
var shared = sync.OnceValue(Must)

// Register adds the embedded dashboard's routes to mux: GET / and GET
// /assets/{name...} (see (*Dashboard).Register).
func Register(mux *http.ServeMux) { shared().Register(mux) }

// Register adds the dashboard's routes to mux: GET / (exactly, so that
// unknown paths keep the API's JSON 404) and GET /assets/{name...}.
func (d *Dashboard) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /{$}", d.serveShell)
	mux.HandleFunc("GET "+AssetPrefix+"{name...}", d.serveAsset)
}

// Handler returns the dashboard's routes on a mux of their own, for serving
// it apart from the API.
func (d *Dashboard) Handler() http.Handler {
	mux := http.NewServeMux()
	d.Register(mux)
	return mux
}

// zeroTime makes http.ServeContent rely on the ETag alone: embedded files
// have no modification time.
var zeroTime time.Time

func (d *Dashboard) serveShell(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	securityHeaders(h)
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", d.etag)
	http.ServeContent(w, r, "index.html", zeroTime, bytes.NewReader(d.shell))
}

func (d *Dashboard) serveAsset(w http.ResponseWriter, r *http.Request) {
	a, ok := d.assets[r.PathValue("name")]
	if !ok {
		notFound(w, r)
		return
	}
	h := w.Header()
	securityHeaders(h)
	h.Set("Content-Type", a.contentType)
	// no-cache means "revalidate", not "do not store": the browser keeps
	// the file and asks with If-None-Match, and the answer is a bodiless
	// 304 until the binary changes.
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", a.etag)
	http.ServeContent(w, r, "", zeroTime, bytes.NewReader(a.body))
}

func securityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
}

// notFound answers an unknown asset the way the API answers an unknown
// route: JSON with the code and a sentence naming the path.
func notFound(w http.ResponseWriter, r *http.Request) {
	b, _ := json.Marshal(struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Param   any    `json:"param"`
	}{http.StatusNotFound, "There is no dashboard file " + r.URL.Path + "; the dashboard is at /.", nil})
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusNotFound)
	w.Write(b)
}
