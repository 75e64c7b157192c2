// Package api serves ChartMogul's Import API over HTTP: the routes at /v1,
// HTTP Basic authentication with API keys, ChartMogul's JSON shapes and
// error bodies, cursor pagination and status codes. It reads and writes
// through package store and never writes SQL.
//
// Wire compatibility with the official clients shapes several choices:
// routes are served at the root (the Node client drops any path prefix),
// bodies on GET and DELETE are ignored, every answer is JSON (the Node client
// turns any other content type into an empty object), and success is only
// ever 200, 201, 202 or 204.
package api

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/recurhq/recur/sandbox/store"
	"github.com/recurhq/recur/sandbox/web"
)

// DefaultMaxPayload is the largest bulk import body accepted: 5 MB, as
// ChartMogul documents.
const DefaultMaxPayload = 5 << 20

// Server is the HTTP API.
type Server struct {
	Store *store.Store
	Log   *slog.Logger
	// MaxPayload bounds the body of a bulk import, in bytes.
	MaxPayload int64
	// MaxBody bounds every other body, in bytes.
	MaxBody int64
	// Now is the clock.
	Now func() time.Time
	// Metrics counts requests (and, through the importer's hook, imports);
	// it is served at /metrics. New makes one; nil serves no /metrics.
	Metrics *Metrics
	// RateLimit is the requests per second each account may make, and
	// RateBurst how many it may make at once (0: one second's worth).
	// 0 disables the limit, as in New; `recur serve` sets DefaultRateLimit.
	RateLimit float64
	RateBurst int
	// MaxQueuedImports bounds each account's unfinished imports; past it a
	// new import is answered 429. 0 disables the bound, as in New; `recur
	// serve` sets DefaultMaxQueuedImports.
	MaxQueuedImports int
	// Faults are injected into the answers of the API routes, for the
	// fault tests of clients (faults.go). The zero value, as in New,
	// injects none.
	Faults Faults

	limiter  *rateLimiter
	injector *injector
	// traffic counts every account's requests per second, for GET
	// /v1/recur/traffic (traffic.go).
	traffic *trafficRecord
	// routes are the patterns the route helper registered, for Routes.
	routes []string
}

// New returns a Server on s with the default limits.
func New(s *store.Store, log *slog.Logger) *Server {
	return &Server{Store: s, Log: log, MaxPayload: DefaultMaxPayload, MaxBody: 1 << 20, Now: time.Now, Metrics: NewMetrics(s)}
}

// router registers a handler for a ServeMux pattern, behind authentication.
type router func(pattern string, h func(w http.ResponseWriter, r *http.Request) error)

// Handler returns the API's routes.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	s.routes = nil
	if s.traffic == nil {
		s.traffic = newTrafficRecord()
	}
	if s.injector == nil {
		s.injector = newInjector(s.Faults)
	}
	route := func(pattern string, h func(w http.ResponseWriter, r *http.Request) error) {
		s.routes = append(s.routes, pattern)
		mux.Handle(pattern, s.authenticated(s.recorded(s.injected(s.limited(h)))))
	}
	registerOps(mux, s.Store, s.Metrics)
	// The dashboard (GET / and /assets/) is a client of the routes below,
	// served by the same process; it needs no key to load, only to read.
	web.Register(mux)
	mux.HandleFunc("GET /openapi.json", serveOpenAPI) // openapi.go
	route("GET /v1/ping", s.ping)
	route("GET /v1/account", s.account)
	// The traffic record is what a fault test measures the client with:
	// reading it must not change the measure, so it is neither recorded,
	// nor faulted, nor rate limited.
	s.routes = append(s.routes, trafficRoute)
	mux.Handle(trafficRoute, s.authenticated(s.getTraffic))

	s.dataSourceRoutes(route)
	s.webhookRoutes(route) // webhooks.go: PATCH /v1/data_sources/{ds}, …/webhook_deliveries

	route("POST /v1/data_sources/{ds}/json_imports", s.admitImport(s.createImport))
	route("GET /v1/data_sources/{ds}/json_imports", s.listImports)
	route("GET /v1/data_sources/{ds}/json_imports/{id}", s.getImport)

	s.customerRoutes(route)
	s.planRoutes(route)
	s.invoiceRoutes(route)
	s.eventRoutes(route)
	s.analyticsRoutes(route)

	return s.observe(jsonErrors(mux))
}
