package main

import (
	"cmp"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/recurhq/recur/activities"
	"github.com/recurhq/recur/chartmogul"
)

// config is the worker's configuration: flags, with defaults from the
// environment. The ChartMogul API key comes from the environment only, never
// a flag, so that it is not visible in the process list.
type config struct {
	temporalAddress string
	namespace       string
	taskQueue       string
	devDB           string
	devPort         int
	uiPort          int
	devLogLevel     string
	// A Temporal cluster's or Temporal Cloud's credentials: an API key
	// (TEMPORAL_API_KEY, from the environment only) or a client
	// certificate, both over TLS.
	temporalAPIKey string
	tlsCert        string
	tlsKey         string
	tlsCA          string

	chartmogulURL string
	apiKey        string
	dataSource    string
	sandboxAddr   string
	sandboxDB     string

	billingDB    string
	stateDB      string
	sourceSchema string
	sourceQuery  map[string]string

	metricsAddr   string
	schedule      string
	timezone      string
	rateBudget    float64
	packLinger    time.Duration
	packMaxLinger time.Duration
	packCustomers int
	partBytes     int
	pollers       int
	activities    int
}

// defaultDatabase is the local PostgreSQL of a development machine.
const defaultDatabase = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// usageError is a mistake on the command line: exit code 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func exitCode(err error) int {
	var ue usageError
	if errors.As(err, &ue) || errors.Is(err, flag.ErrHelp) {
		return 2
	}
	return 1
}

// queryFlag collects --source-query NAME=SQL.
type queryFlag map[string]string

func (q queryFlag) String() string { return fmt.Sprint(map[string]string(q)) }

func (q queryFlag) Set(v string) error {
	name, sql, ok := strings.Cut(v, "=")
	name = strings.TrimSpace(name)
	if !ok || strings.TrimSpace(sql) == "" {
		return fmt.Errorf("want NAME=SELECT …, e.g. customers=SELECT id AS external_id, … FROM accounts; got %q", v)
	}
	switch name {
	case "customers", "plans", "invoices", "line_items", "transactions", "subscription_events":
	default:
		return fmt.Errorf("%q is not one of the six source relations (customers, plans, invoices, line_items, transactions, subscription_events)", name)
	}
	q[name] = sql
	return nil
}

// parseConfig reads the flags and the environment.
func parseConfig(args []string, getenv func(string) string, stderr io.Writer) (*config, error) {
	c := &config{sourceQuery: map[string]string{}}
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	fs.SetOutput(stderr)
	env := func(name, def string) string { return cmp.Or(getenv(name), def) }
	fs.StringVar(&c.temporalAddress, "temporal-address", getenv("TEMPORAL_ADDRESS"), "host:port of a Temporal frontend (TEMPORAL_ADDRESS); empty starts an embedded dev server with its Web UI")
	fs.StringVar(&c.namespace, "namespace", env("TEMPORAL_NAMESPACE", "default"), "Temporal namespace (TEMPORAL_NAMESPACE)")
	fs.StringVar(&c.taskQueue, "task-queue", env("RECUR_TASK_QUEUE", "recur"), "task queue of Recur's workflows and activities (RECUR_TASK_QUEUE)")
	fs.StringVar(&c.devDB, "dev-db", env("RECUR_DEV_DB", "recur-temporal.db"), "SQLite file of the embedded dev server: syncs survive a restart")
	fs.StringVar(&c.tlsCert, "temporal-tls-cert", getenv("TEMPORAL_TLS_CERT"), "client certificate (PEM file) for a Temporal cluster or Temporal Cloud (TEMPORAL_TLS_CERT)")
	fs.StringVar(&c.tlsKey, "temporal-tls-key", getenv("TEMPORAL_TLS_KEY"), "its private key (PEM file) (TEMPORAL_TLS_KEY)")
	fs.StringVar(&c.tlsCA, "temporal-tls-ca", getenv("TEMPORAL_TLS_CA"), "CA certificate (PEM file) of the cluster, when not a public CA (TEMPORAL_TLS_CA)")
	fs.IntVar(&c.devPort, "dev-port", 7233, "port of the embedded dev server")
	fs.IntVar(&c.uiPort, "ui-port", 8233, "port of the embedded dev server's Web UI")
	fs.StringVar(&c.devLogLevel, "dev-log-level", "error", "log level of the embedded dev server")
	fs.StringVar(&c.chartmogulURL, "chartmogul-url", env("CHARTMOGUL_URL", chartmogul.DefaultURL), "ChartMogul's API (CHARTMOGUL_URL); used when CHARTMOGUL_API_KEY is set")
	fs.StringVar(&c.dataSource, "data-source", getenv("CHARTMOGUL_DATA_SOURCE"), "ChartMogul data source uuid a sync imports into by default (CHARTMOGUL_DATA_SOURCE)")
	fs.StringVar(&c.sandboxAddr, "sandbox-addr", env("RECUR_SANDBOX_ADDR", "127.0.0.1:8080"), "address of the local ChartMogul started when CHARTMOGUL_API_KEY is unset")
	fs.StringVar(&c.sandboxDB, "sandbox-database", env("RECUR_SANDBOX_DATABASE", "sqlite:recur-sandbox.db"), "database of the local ChartMogul")
	fs.StringVar(&c.billingDB, "billing-database", env("BILLING_DATABASE_URL", defaultDatabase), "the billing database, postgres://… (BILLING_DATABASE_URL)")
	fs.StringVar(&c.stateDB, "state-database", getenv("STATE_DATABASE_URL"), "Recur's state database, postgres://… (STATE_DATABASE_URL; default: the billing database, schema recur)")
	fs.StringVar(&c.sourceSchema, "source-schema", env("RECUR_SOURCE_SCHEMA", activities.DefaultSourceSchema), "schema of the six source relations (RECUR_SOURCE_SCHEMA)")
	fs.Var(queryFlag(c.sourceQuery), "source-query", "NAME=SELECT …: read a source relation from a query of your own instead (repeatable)")
	fs.StringVar(&c.metricsAddr, "metrics-addr", getenv("RECUR_METRICS_ADDR"), "serve Prometheus metrics (Temporal SDK's and Recur's) on this address, e.g. 127.0.0.1:9090 (RECUR_METRICS_ADDR)")
	fs.StringVar(&c.schedule, "schedule", getenv("RECUR_SCHEDULE"), "ensure the nightly schedule exists with this cron expression, e.g. \"0 2 * * *\" (RECUR_SCHEDULE)")
	fs.StringVar(&c.timezone, "timezone", env("RECUR_TIMEZONE", "UTC"), "time zone of --schedule (RECUR_TIMEZONE)")
	budget, err := floatEnv(getenv, "RECUR_RATE_BUDGET", activities.DefaultRateBudget)
	if err != nil {
		return nil, err
	}
	fs.Float64Var(&c.rateBudget, "rate-budget", budget, "requests per second to ChartMogul, every worker together (RECUR_RATE_BUDGET); 0 turns the budget off")
	fs.DurationVar(&c.packLinger, "pack-linger", 250*time.Millisecond, "a request goes when no other customer's submit came for this long; 0 sends each customer alone")
	fs.DurationVar(&c.packMaxLinger, "pack-max-linger", 2*time.Second, "…or this long after its first customer's submit, whichever comes first")
	fs.IntVar(&c.packCustomers, "pack-customers", 1000, "most customers one request carries")
	fs.IntVar(&c.partBytes, "part-bytes", chartmogul.MaxPayload, "largest request body; a customer's payload above it is sent in parts")
	fs.IntVar(&c.pollers, "workflow-pollers", 16, "workflow task pollers of this worker")
	fs.IntVar(&c.activities, "max-activities", 200, "activities this worker runs at once (local ones included)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return nil, usageError{fmt.Sprintf("unexpected argument %q: the worker takes flags only (see --help)", fs.Arg(0))}
	}
	c.apiKey = getenv("CHARTMOGUL_API_KEY")
	c.temporalAPIKey = getenv("TEMPORAL_API_KEY")
	if (c.tlsCert == "") != (c.tlsKey == "") {
		return nil, usageError{"--temporal-tls-cert and --temporal-tls-key go together: give both, or neither"}
	}
	if c.stateDB == "" {
		c.stateDB = c.billingDB
	}
	if c.partBytes < 64<<10 || c.partBytes > chartmogul.MaxPayload {
		return nil, usageError{fmt.Sprintf("--part-bytes must be between 65536 and %d (ChartMogul's 5 MB); got %d", chartmogul.MaxPayload, c.partBytes)}
	}
	if c.rateBudget < 0 || c.packCustomers < 1 || c.pollers < 1 || c.activities < 1 {
		return nil, usageError{"--rate-budget must not be negative, and --pack-customers, --workflow-pollers and --max-activities must be at least 1"}
	}
	return c, nil
}

// floatEnv reads a number from the environment.
func floatEnv(getenv func(string) string, name string, def float64) (float64, error) {
	v := getenv(name)
	if v == "" {
		return def, nil
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return 0, usageError{fmt.Sprintf("%s must be a number; got %q", name, v)}
	}
	return f, nil
}

// redactURL hides the password of a database URL before it is printed.
func redactURL(u string) string {
	at := strings.LastIndex(u, "@")
	scheme := strings.Index(u, "://")
	if at < 0 || scheme < 0 || at < scheme {
		return u
	}
	if user, _, ok := strings.Cut(u[scheme+3:at], ":"); ok {
		return u[:scheme+3] + user + ":***" + u[at:]
	}
	return u
}
