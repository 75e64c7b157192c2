package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/recurhq/recur/sandbox/gen"
	"github.com/recurhq/recur/sandbox/store/storetest"
)

// faultProxy forwards TCP connections to a database server until it is cut:
// then it drops every open connection and refuses new ones, as a server
// that went away does, until it is restored.
type faultProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	down   bool
	conns  map[net.Conn]bool
}

func startFaultProxy(t *testing.T, target string) *faultProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &faultProxy{ln: ln, target: target, conns: map[net.Conn]bool{}}
	t.Cleanup(func() { ln.Close(); p.cut() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			if p.down {
				p.mu.Unlock()
				c.Close()
				continue
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				p.mu.Unlock()
				c.Close()
				continue
			}
			p.conns[c], p.conns[up] = true, true
			p.mu.Unlock()
			go func() { io.Copy(up, c); up.Close() }()
			go func() { io.Copy(c, up); c.Close() }()
		}
	}()
	return p
}

// cut drops every connection and refuses new ones.
func (p *faultProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for c := range p.conns {
		c.Close()
	}
	p.conns = map[net.Conn]bool{}
}

// restore accepts connections again.
func (p *faultProxy) restore() {
	p.mu.Lock()
	p.down = false
	p.mu.Unlock()
}

// TestDatabaseOutageMidImport makes the database unavailable while an import
// is being applied — on PostgreSQL by cutting every connection to the
// server, on SQLite by another process holding the file's write lock — and
// brings it back. What was acknowledged must be applied exactly once; a
// request made during the outage must get a 503 that says to try again (no
// 500, nothing half-stored), and succeed when retried.
func TestDatabaseOutageMidImport(t *testing.T) {
	if testing.Short() {
		t.Skip("the outage test waits for River's retries; -short skips it")
	}
	payload, stats, err := gen.Payload(gen.Options{Customers: 1000, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	second, stats2, err := gen.Payload(gen.Options{Customers: 50, FirstCustomer: 5000, Seed: 8})
	if err != nil {
		t.Fatal(err)
	}

	t.Run("postgres", func(t *testing.T) {
		db := storetest.Postgres(t)
		u, err := url.Parse(db.URL)
		if err != nil {
			t.Fatal(err)
		}
		proxy := startFaultProxy(t, u.Host)
		u.Host = proxy.ln.Addr().String()
		c := startE2EServer(t, u.String())
		ds := c.createDataSource(t, "outage")
		imp := c.submitImport(t, ds, payload)
		// Cut the database as soon as the worker picks the import up.
		waitStatus(t, c, ds, imp.ID, "processing", "completed")
		proxy.cut()
		r, err := c.send(http.MethodPost, e2eImportsPath(ds), second)
		if err != nil {
			t.Fatal(err)
		}
		checkOutageAnswer(t, r)
		time.Sleep(3 * time.Second)
		proxy.restore()
		checkAppliedOnce(t, c, ds, imp.ID, second, stats, stats2)
	})

	t.Run("sqlite", func(t *testing.T) {
		db := storetest.SQLite(t)
		c := startE2EServer(t, db.URL)
		ds := c.createDataSource(t, "outage")
		// Another connection takes SQLite's write lock and keeps it for
		// longer than the server's busy timeout (10 s): every write of the
		// server fails meanwhile.
		locker, err := sql.Open("sqlite", "file:"+strings.TrimPrefix(db.URL, "sqlite:")+"?_pragma=busy_timeout(30000)")
		if err != nil {
			t.Fatal(err)
		}
		defer locker.Close()
		conn, err := locker.Conn(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		imp := c.submitImport(t, ds, payload)
		if _, err := conn.ExecContext(context.Background(), "BEGIN EXCLUSIVE"); err != nil {
			t.Fatal(err)
		}
		r, err := c.send(http.MethodPost, e2eImportsPath(ds), second)
		if err != nil {
			t.Fatal(err)
		}
		checkOutageAnswer(t, r)
		time.Sleep(2 * time.Second)
		if _, err := conn.ExecContext(context.Background(), "ROLLBACK"); err != nil {
			t.Fatal(err)
		}
		checkAppliedOnce(t, c, ds, imp.ID, second, stats, stats2)
	})
}

// waitStatus waits until an import has one of the statuses.
func waitStatus(t *testing.T, c *e2eClient, ds, id string, statuses ...string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		r, err := c.send(http.MethodGet, e2eImportsPath(ds)+"/"+id, nil)
		if err == nil && r.status == http.StatusOK {
			var imp apiImport
			json.Unmarshal(r.body, &imp)
			for _, s := range statuses {
				if imp.Status == s {
					return
				}
			}
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("import %s never reached %v", id, statuses)
}

// checkOutageAnswer checks what a POST made during the outage got: a 503
// with ChartMogul's body and Retry-After, which both official clients retry.
func checkOutageAnswer(t *testing.T, r *e2eResponse) {
	t.Helper()
	if r.status != http.StatusServiceUnavailable {
		t.Fatalf("POST during the outage: %s, want 503", r)
	}
	var body codeBody
	if err := json.Unmarshal(r.body, &body); err != nil || body.Code != 503 || !strings.Contains(body.Message, "try again") {
		t.Errorf("POST during the outage: body %s", r.body)
	}
	if r.header.Get("Retry-After") == "" {
		t.Errorf("POST during the outage: no Retry-After")
	}
}

// checkAppliedOnce retries the refused POST as a client would, waits for both
// imports, and checks every record is stored exactly once.
func checkAppliedOnce(t *testing.T, c *e2eClient, ds, firstID string, second []byte, stats, stats2 gen.Stats) {
	t.Helper()
	var secondID string
	deadline := time.Now().Add(60 * time.Second)
	for secondID == "" {
		r, err := c.send(http.MethodPost, e2eImportsPath(ds), second)
		switch {
		case err == nil && r.status == http.StatusCreated:
			var imp apiImport
			json.Unmarshal(r.body, &imp)
			secondID = imp.ID
		case err == nil && r.status == http.StatusServiceUnavailable && time.Now().Before(deadline):
			time.Sleep(500 * time.Millisecond)
		default:
			t.Fatalf("retried POST after the outage: %v %v", r, errors.Join(err))
		}
	}
	for _, id := range []string{firstID, secondID} {
		imp := c.waitImportFor(t, ds, id, 3*time.Minute)
		if imp.Status != "completed" || len(imp.FailedRecords) > 0 {
			t.Fatalf("import %s: %s, failures %+v", id, imp.Status, imp.FailedRecords)
		}
	}
	customers := e2eListAll[json.RawMessage](t, c, "/v1/customers?data_source_uuid="+ds, "entries", 200)
	invoices := e2eListAll[struct {
		LineItems []json.RawMessage `json:"line_items"`
	}](t, c, "/v1/invoices?data_source_uuid="+ds, "invoices", 200)
	items := 0
	for _, inv := range invoices {
		items += len(inv.LineItems)
	}
	if len(customers) != stats.Customers+stats2.Customers || len(invoices) != stats.Invoices+stats2.Invoices || items != stats.LineItems+stats2.LineItems {
		t.Errorf("after the outage: %d customers, %d invoices, %d line items; want %d, %d, %d",
			len(customers), len(invoices), items, stats.Customers+stats2.Customers, stats.Invoices+stats2.Invoices, stats.LineItems+stats2.LineItems)
	}
}

// codeBody is ChartMogul's {"code","message","param"} error body.
type codeBody struct {
	Code    int     `json:"code"`
	Message string  `json:"message"`
	Param   *string `json:"param"`
}
