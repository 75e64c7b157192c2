// Package demo creates a realistic demo billing database for Recur: the
// tables a small SaaS company's own billing application might keep
// (accounts, prices, subscriptions, invoices, invoice lines, payments),
// filled with deterministic generated history, and the six views over them
// that Recur reads (customers, plans, invoices, line_items, transactions,
// subscription_events), whose columns carry ChartMogul's field names.
//
// It serves three purposes: a database to try Recur on without one's own
// billing data, a worked example of the views a user writes over their own
// schema (Views), and test data whose every record is valid by Recur's rules.
package demo

import (
	"context"
	"database/sql"
	_ "embed"
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/lib/pq"
)

// Defaults of Options.
const (
	DefaultSchema       = "billing_demo"
	DefaultSourceSchema = "chartmogul"
)

// LargeCustomerID is the external id (account code) of the customer that
// Options.LargeCustomerInvoices adds.
const LargeCustomerID = "cus_large"

// DefaultNow is the end of the generated history when Options.Now is zero.
// It is a fixed date, not the clock, so that the same seed gives the same
// data on every day.
var DefaultNow = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)

// Options says what Create generates.
type Options struct {
	// Customers is the number of billing accounts (customers) to generate;
	// it must be greater than 0. Each has about 20 records on average.
	Customers int
	// Schema is the billing schema, DefaultSchema when empty. Create drops
	// it (with whatever depends on it) and recreates it, so it must be a
	// schema of its own: Create refuses public, system schemas, and a
	// schema that holds tables other than its own.
	Schema string
	// SourceSchema is the schema of the six views, DefaultSourceSchema when
	// empty. It is created when missing; of what it holds, only the six
	// views are replaced (and whatever depends on them).
	SourceSchema string
	// Seed selects the data: the same seed and options give the same rows,
	// byte for byte.
	Seed int64
	// Now is the end of the generated history: every date is at or before
	// it. Zero means DefaultNow (not the clock: the data must not depend on
	// the day it is made).
	Now time.Time
	// LargeCustomerInvoices, when greater than 0, adds one more customer,
	// LargeCustomerID, with that many monthly invoices (each with one line
	// and one successful payment) over as many subscriptions as it takes to
	// keep every date within ten years: 20,000 invoices make its records
	// weigh about 15 MB as JSON, for tests of customers over 5 MB.
	LargeCustomerInvoices int
}

// Stats counts what Create wrote, per ChartMogul record type as the views
// show it.
type Stats struct {
	Customers, Plans, Invoices, LineItems, Transactions, SubscriptionEvents int
}

// Records returns the number of records of all types.
func (s Stats) Records() int {
	return s.Customers + s.Plans + s.Invoices + s.LineItems + s.Transactions + s.SubscriptionEvents
}

// sourceViews are the relations Recur reads, in the order Views creates
// them.
var sourceViews = []string{"customers", "plans", "invoices", "line_items", "transactions", "subscription_events"}

// billingTables are the tables of schema.sql, in the order they are filled.
var billingTables = []string{"accounts", "products", "prices", "subscriptions", "invoices", "invoice_lines", "payments"}

//go:embed schema.sql
var schemaSQL string

// Create drops and recreates the billing schema opt.Schema, fills it with
// generated data, and creates (or replaces) the six views in
// opt.SourceSchema, all in one transaction: an error leaves the database as
// it was. db must have been opened with github.com/lib/pq (driver
// "postgres"), whose COPY support Create writes through.
//
// It returns what the views show, counted per record type, and an error
// that says what could not be done and, where the server refused for want
// of a privilege, what to do about it.
func Create(ctx context.Context, db *sql.DB, opt Options) (Stats, error) {
	opt, err := opt.normalize()
	if err != nil {
		return Stats{}, err
	}
	if _, ok := db.Driver().(*pq.Driver); !ok {
		return Stats{}, fmt.Errorf("the database must be opened with github.com/lib/pq (sql.Open(\"postgres\", …)): Create writes with COPY through it; got driver %T", db.Driver())
	}
	// Generating first keeps the transaction, and the locks it holds on
	// the view schema, as short as the writing.
	g := generate(opt)

	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return Stats{}, fmt.Errorf("cannot begin a transaction: %w", err)
	}
	defer tx.Rollback()
	if err := prepareSchemas(ctx, tx, opt); err != nil {
		return Stats{}, err
	}
	tables, keys, _ := strings.Cut(schemaSQL, "\n-- keys\n")
	if _, err := tx.ExecContext(ctx, tables); err != nil {
		return Stats{}, fmt.Errorf("cannot create the tables of schema %s: %w", opt.Schema, err)
	}
	for _, t := range g.tables() {
		if err := copyTable(ctx, tx, opt.Schema, t); err != nil {
			return Stats{}, fmt.Errorf("cannot copy the rows of %s.%s: %w", opt.Schema, t.name, err)
		}
	}
	if _, err := tx.ExecContext(ctx, keys); err != nil {
		return Stats{}, fmt.Errorf("cannot add the keys and indexes of schema %s: %w", opt.Schema, err)
	}
	if _, err := tx.ExecContext(ctx, Views(opt.Schema, opt.SourceSchema)); err != nil {
		return Stats{}, failed(fmt.Sprintf("create the views in schema %s", opt.SourceSchema), err,
			fmt.Sprintf("connect as a user that may create views in schema %s (GRANT CREATE ON SCHEMA %s TO …) and owns the views of these names already there", opt.SourceSchema, quote(opt.SourceSchema)))
	}
	if err := tx.Commit(); err != nil {
		return Stats{}, fmt.Errorf("cannot commit the demo database: %w", err)
	}
	return g.stats(), nil
}

// normalize applies the defaults and checks opt.
func (opt Options) normalize() (Options, error) {
	if opt.Schema == "" {
		opt.Schema = DefaultSchema
	}
	if opt.SourceSchema == "" {
		opt.SourceSchema = DefaultSourceSchema
	}
	if opt.Now.IsZero() {
		opt.Now = DefaultNow
	}
	// Whole seconds: a timestamp read back must equal the one generated.
	opt.Now = opt.Now.UTC().Truncate(time.Second)
	switch {
	case opt.Customers <= 0:
		return opt, fmt.Errorf("the number of customers to generate must be at least 1; got %d", opt.Customers)
	case opt.LargeCustomerInvoices < 0:
		return opt, fmt.Errorf("the number of invoices of the large customer must be 0 (no large customer) or more; got %d", opt.LargeCustomerInvoices)
	case opt.Schema == opt.SourceSchema:
		return opt, fmt.Errorf("the billing schema and the view schema must differ: both are %s, and the billing table invoices would collide with the view invoices", opt.Schema)
	case strings.HasPrefix(opt.Schema, "pg_") || opt.Schema == "information_schema" || opt.Schema == "public":
		return opt, fmt.Errorf("the billing schema %s is dropped and recreated, so it cannot be a system schema or public; choose a schema of its own such as %s", opt.Schema, DefaultSchema)
	case opt.Now.Year() < 2000 || opt.Now.Year() > 2900:
		return opt, fmt.Errorf("the end of the history must be between the years 2000 and 2900; got %s", opt.Now.Format(time.RFC3339))
	}
	return opt, nil
}

// prepareSchemas checks that Create may replace what it replaces, then drops
// and recreates the billing schema, creates the view schema when missing,
// and points search_path at the billing schema for schema.sql.
func prepareSchemas(ctx context.Context, tx *sql.Tx, opt Options) error {
	var other string
	err := tx.QueryRowContext(ctx, `
		SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		 WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND c.relname <> ALL ($2)
		 ORDER BY c.relname LIMIT 1`, opt.Schema, pq.Array(billingTables)).Scan(&other)
	switch {
	case err == nil:
		return fmt.Errorf("schema %s holds %s, which is not a table of the demo: the demo drops and recreates its schema, so choose a schema of its own, or drop %s yourself", opt.Schema, other, opt.Schema)
	case !errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("cannot look into schema %s: %w", opt.Schema, err)
	}
	var name, kind string
	err = tx.QueryRowContext(ctx, `
		SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		 WHERE n.nspname = $1 AND c.relname = ANY ($2) AND c.relkind <> 'v'
		 ORDER BY c.relname LIMIT 1`, opt.SourceSchema, pq.Array(sourceViews)).Scan(&name, &kind)
	switch {
	case err == nil:
		return fmt.Errorf("cannot replace %s.%s with a view: it is %s; drop it, or choose another view schema", opt.SourceSchema, name, relkindName(kind))
	case !errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("cannot look into schema %s: %w", opt.SourceSchema, err)
	}

	schema := quote(opt.Schema)
	if _, err := tx.ExecContext(ctx, "DROP SCHEMA IF EXISTS "+schema+" CASCADE"); err != nil {
		return failed("drop schema "+opt.Schema, err, "connect as the owner of schema "+opt.Schema+", or choose another billing schema")
	}
	if _, err := tx.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		return failed("create schema "+opt.Schema, err, "connect as a user that may create schemas (GRANT CREATE ON DATABASE … TO …)")
	}
	var exists bool
	if err := tx.QueryRowContext(ctx, "SELECT EXISTS (SELECT FROM pg_namespace WHERE nspname = $1)", opt.SourceSchema).Scan(&exists); err != nil {
		return fmt.Errorf("cannot look for schema %s: %w", opt.SourceSchema, err)
	}
	if !exists {
		if _, err := tx.ExecContext(ctx, "CREATE SCHEMA "+quote(opt.SourceSchema)); err != nil {
			return failed("create schema "+opt.SourceSchema, err, "connect as a user that may create schemas (GRANT CREATE ON DATABASE … TO …), or create it beforehand")
		}
	}
	if _, err := tx.ExecContext(ctx, "SELECT set_config('search_path', $1, true)", schema); err != nil {
		return fmt.Errorf("cannot set search_path to %s: %w", opt.Schema, err)
	}
	return nil
}

func relkindName(kind string) string {
	switch kind {
	case "r", "p":
		return "a table"
	case "m":
		return "a materialized view"
	case "f":
		return "a foreign table"
	case "S":
		return "a sequence"
	case "i", "I":
		return "an index"
	}
	return "not a view"
}

// failed wraps err, met while trying to do what, in a sentence; remedy is
// added when the server refused for want of a privilege.
func failed(what string, err error, remedy string) error {
	var pqErr *pq.Error
	if errors.As(err, &pqErr) && pqErr.Code == "42501" {
		return fmt.Errorf("cannot %s: %w; %s", what, err, remedy)
	}
	return fmt.Errorf("cannot %s: %w", what, err)
}

// table is one billing table as rows to copy: row fills dst with the
// values of row i, in the order of columns.
type table struct {
	name    string
	columns []string
	rows    int
	row     func(i int, dst []any)
}

// copyTable writes t's rows with COPY, which is an order of magnitude
// faster than INSERTs.
func copyTable(ctx context.Context, tx *sql.Tx, schema string, t table) error {
	cols := make([]string, len(t.columns))
	for i, c := range t.columns {
		cols[i] = quote(c)
	}
	stmt, err := tx.PrepareContext(ctx, "COPY "+quote(schema)+"."+quote(t.name)+" ("+strings.Join(cols, ", ")+") FROM STDIN")
	if err != nil {
		return err
	}
	defer stmt.Close()
	args := make([]any, len(t.columns))
	for i := range t.rows {
		t.row(i, args)
		if _, err := stmt.ExecContext(ctx, args...); err != nil {
			return err
		}
	}
	// pq sends rows in batches: the final Exec without arguments flushes
	// the last one and reports what the server made of them all.
	_, err = stmt.ExecContext(ctx)
	return err
}

// Views returns the SQL that creates the six views Recur reads, in schema
// sourceSchema, over the billing tables of schema: for each view, a DROP
// VIEW IF EXISTS … CASCADE and a CREATE VIEW. It is the example a user
// adapts to their own billing schema: each view renames the billing
// columns to ChartMogul's field names, and line items and transactions
// reach their customer through their invoice.
func Views(schema, sourceSchema string) string {
	return strings.NewReplacer("{billing}", quote(schema), "{source}", quote(sourceSchema)).Replace(viewsSQL)
}

const viewsSQL = `DROP VIEW IF EXISTS {source}.customers CASCADE;
CREATE VIEW {source}.customers AS
SELECT a.code             AS external_id,
       a.name,
       a.email,
       a.company,
       a.country,
       a.state,
       a.city,
       a.zip,
       a.website          AS website_url,
       a.created_at       AS lead_created_at,
       a.trial_started_at AS free_trial_started_at
  FROM {billing}.accounts a;

DROP VIEW IF EXISTS {source}.plans CASCADE;
CREATE VIEW {source}.plans AS
SELECT p.code     AS external_id,
       p.nickname AS name,
       p.interval_count,
       p.interval_unit
  FROM {billing}.prices p;

DROP VIEW IF EXISTS {source}.invoices CASCADE;
CREATE VIEW {source}.invoices AS
SELECT i.number    AS external_id,
       a.code      AS customer_external_id,
       i.issued_at AS date,
       i.due_at    AS due_date,
       i.currency,
       i.collection_method
  FROM {billing}.invoices i
  JOIN {billing}.accounts a ON a.id = i.account_id;

DROP VIEW IF EXISTS {source}.line_items CASCADE;
CREATE VIEW {source}.line_items AS
SELECT i.number         AS invoice_external_id,
       l.code           AS external_id,
       l.kind           AS type,
       l.amount_cents   AS amount_in_cents,
       l.quantity,
       s.code           AS subscription_external_id,
       p.code           AS plan_external_id,
       l.period_start   AS service_period_start,
       l.period_end     AS service_period_end,
       l.discount_cents AS discount_amount_in_cents,
       l.discount_code,
       l.tax_cents      AS tax_amount_in_cents,
       l.description
  FROM {billing}.invoice_lines l
  JOIN {billing}.invoices i ON i.id = l.invoice_id
  LEFT JOIN {billing}.subscriptions s ON s.id = l.subscription_id
  LEFT JOIN {billing}.prices p ON p.id = l.price_id;

DROP VIEW IF EXISTS {source}.transactions CASCADE;
CREATE VIEW {source}.transactions AS
SELECT i.number       AS invoice_external_id,
       y.code         AS external_id,
       y.kind         AS type,
       CASE WHEN y.succeeded THEN 'successful' ELSE 'failed' END AS result,
       y.paid_at      AS date,
       y.amount_cents AS amount_in_cents,
       y.fee_cents    AS transaction_fees_in_cents,
       CASE WHEN y.fee_cents IS NOT NULL THEN i.currency END AS transaction_fees_currency
  FROM {billing}.payments y
  JOIN {billing}.invoices i ON i.id = y.invoice_id;

-- The billing schema keeps no events: a subscription's start and its
-- cancellation are read off the subscription. The start carries the list
-- price; coupons show on the invoices.
DROP VIEW IF EXISTS {source}.subscription_events CASCADE;
CREATE VIEW {source}.subscription_events AS
SELECT a.code                      AS customer_external_id,
       'evt_' || s.code || '_start' AS external_id,
       'subscription_start'        AS event_type,
       s.started_at                AS event_date,
       s.started_at                AS effective_date,
       s.code                      AS subscription_external_id,
       p.code                      AS plan_external_id,
       p.currency,
       p.amount_cents * s.quantity AS amount_in_cents,
       s.quantity
  FROM {billing}.subscriptions s
  JOIN {billing}.accounts a ON a.id = s.account_id
  JOIN {billing}.prices p ON p.id = s.price_id
UNION ALL
SELECT a.code,
       'evt_' || s.code || '_cancel',
       'subscription_cancelled',
       s.cancelled_at,
       s.cancelled_at,
       s.code,
       p.code,
       NULL,
       NULL,
       NULL
  FROM {billing}.subscriptions s
  JOIN {billing}.accounts a ON a.id = s.account_id
  JOIN {billing}.prices p ON p.id = s.price_id
 WHERE s.cancelled_at IS NOT NULL;
`

var plainIdentifier = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

// keywords are PostgreSQL's reserved and type or function-name keywords
// (pg_get_keywords() with catcode R, T or C), which cannot stand unquoted
// for a schema everywhere.
var keywords = strings.Fields(`all analyse analyze and any array as asc asymmetric authorization between
bigint binary bit boolean both case cast char character check coalesce collate collation column concurrently
constraint create cross current_catalog current_date current_role current_schema current_time
current_timestamp current_user dec decimal default deferrable desc distinct do else end except exists
extract false fetch float for foreign freeze from full grant greatest group grouping having ilike in
initially inner inout int integer intersect interval into is isnull join lateral leading least left like
limit localtime localtimestamp national natural nchar none normalize not notnull null nullif numeric
offset on only or order out outer overlaps overlay placing position precision primary real references
returning right row select session_user setof similar smallint some substring symmetric table tablesample
then time timestamp to trailing treat trim true union unique user using values varchar variadic verbose
when where window with xmlattributes xmlconcat xmlelement xmlexists xmlforest xmlnamespaces xmlparse xmlpi
xmlroot xmlserialize xmltable`)

// quote returns name as an SQL identifier: bare when it can be, so that the
// SQL of Views reads as a person would write it, quoted otherwise.
func quote(name string) string {
	if plainIdentifier.MatchString(name) && !slices.Contains(keywords, name) {
		return name
	}
	return pq.QuoteIdentifier(name)
}

// The generated rows. Ids are assigned in generation order, so that the
// same seed gives the same ids; zero ids and times stand for NULL.

type account struct {
	id                                                  int64
	code, name, email, company, website, country, state string
	city, zip                                           string
	createdAt, trialStartedAt                           time.Time
}

type price struct {
	id, productID  int64
	code, nickname string
	unit           string
	count          int
	amount         int64
	currency       string
	tier           int
	months         int // months in one interval unit
}

type subscription struct {
	id, accountID, priceID int64
	code                   string
	quantity               int
	startedAt, cancelledAt time.Time
}

type invoice struct {
	id, accountID    int64
	number           string
	issuedAt, dueAt  time.Time
	currency, method string
}

type line struct {
	id, invoiceID, subscriptionID, priceID int64
	code, kind                             string
	amount, discount, tax                  int64
	quantity                               int
	periodStart, periodEnd                 time.Time
	discountCode, description              string
}

type payment struct {
	id, invoiceID int64
	code, kind    string
	succeeded     bool
	paidAt        time.Time
	amount, fee   int64 // fee < 0: none
}

// generator holds the rows generated so far.
type generator struct {
	now           time.Time
	seed          uint64
	prices        []price
	accounts      []account
	subscriptions []subscription
	invoices      []invoice
	lines         []line
	payments      []payment
	cancelled     int // subscriptions with a cancellation date
}

// generate draws every row in one pass. Each customer has a random stream
// of its own, seeded by the seed and its number, so that a customer does
// not change when others are added.
func generate(opt Options) *generator {
	g := &generator{now: opt.Now, seed: uint64(opt.Seed), prices: catalogue()}
	// About 6.5 invoices, lines and payments per customer on average:
	// reserving room up front avoids copying the slices as they grow.
	n := opt.Customers
	g.accounts = make([]account, 0, n+1)
	g.subscriptions = make([]subscription, 0, n*6/5+opt.LargeCustomerInvoices/120+1)
	g.invoices = make([]invoice, 0, n*7+opt.LargeCustomerInvoices)
	g.lines = make([]line, 0, n*15/2+opt.LargeCustomerInvoices)
	g.payments = make([]payment, 0, n*15/2+opt.LargeCustomerInvoices)
	for i := 1; i <= n; i++ {
		g.customer(i)
	}
	if opt.LargeCustomerInvoices > 0 {
		g.largeCustomer(opt.LargeCustomerInvoices)
	}
	return g
}

func (g *generator) stats() Stats {
	return Stats{
		Customers:          len(g.accounts),
		Plans:              len(g.prices),
		Invoices:           len(g.invoices),
		LineItems:          len(g.lines),
		Transactions:       len(g.payments),
		SubscriptionEvents: len(g.subscriptions) + g.cancelled,
	}
}

// The price list: three tiers, each billed monthly or yearly (ten months'
// price), in three currencies. Amounts are per seat.
var (
	currencies = []string{"USD", "EUR", "GBP"}
	tiers      = []struct {
		code, name string
		monthly    [3]int64 // per currency, in cents
		setupFee   int64    // one-time onboarding, 0 for none
	}{
		{"starter", "Starter", [3]int64{1500, 1500, 1200}, 0},
		{"team", "Team", [3]int64{4900, 4500, 3900}, 49900},
		{"business", "Business", [3]int64{9900, 8900, 7900}, 99900},
	}
)

func catalogue() []price {
	var ps []price
	for t, tier := range tiers {
		for _, yearly := range []bool{false, true} {
			for c, cur := range currencies {
				p := price{id: int64(len(ps) + 1), productID: int64(t + 1), tier: t, currency: cur, count: 1, unit: "month", months: 1, amount: tier.monthly[c]}
				interval := "monthly"
				if yearly {
					p.unit, p.months, p.amount, interval = "year", 12, tier.monthly[c]*10, "yearly"
				}
				p.code = tier.code + "_" + interval + "_" + strings.ToLower(cur)
				p.nickname = fmt.Sprintf("%s %s%s (%s)", tier.name, strings.ToUpper(interval[:1]), interval[1:], cur)
				ps = append(ps, p)
			}
		}
	}
	return ps
}

// priceOf returns the price of tier t, yearly or not, in currency c.
func (g *generator) priceOf(t int, yearly bool, c int) *price {
	i := t*6 + c
	if yearly {
		i += 3
	}
	return &g.prices[i]
}

// place is a city with a postal code, and its state where the country has
// states Recur checks; taxBP is the tax included in amounts, in basis
// points.
type place struct {
	city, state, zip string
	taxBP            int64
}

var countries = []struct {
	code     string
	weight   int
	currency int // index into currencies
	tld      string
	suffix   string // legal form of companies
	places   []place
}{
	{"US", 55, 0, ".com", "Inc.", []place{
		{"San Francisco", "CA", "94103", 0}, {"Los Angeles", "CA", "90012", 0}, {"New York", "NY", "10001", 400},
		{"Brooklyn", "NY", "11201", 400}, {"Austin", "TX", "78701", 625}, {"Houston", "TX", "77002", 625},
		{"Seattle", "WA", "98101", 650}, {"Boston", "MA", "02110", 0}, {"Chicago", "IL", "60601", 0},
		{"Denver", "CO", "80202", 0}, {"Miami", "FL", "33131", 0}, {"Portland", "OR", "97201", 0},
		{"Atlanta", "GA", "30303", 0}, {"Raleigh", "NC", "27601", 0}, {"Salt Lake City", "UT", "84101", 610},
		{"Philadelphia", "PA", "19103", 600}, {"Minneapolis", "MN", "55401", 0}, {"Phoenix", "AZ", "85004", 0},
		{"Nashville", "TN", "37203", 700}, {"Columbus", "OH", "43215", 575}, {"Washington", "DC", "20001", 600},
	}},
	{"GB", 12, 2, ".co.uk", "Ltd", []place{
		{"London", "", "EC1A 1BB", 2000}, {"London", "", "SW1A 2AA", 2000}, {"Manchester", "", "M1 1AE", 2000},
		{"Edinburgh", "", "EH1 1YZ", 2000}, {"Bristol", "", "BS1 4DJ", 2000}, {"Leeds", "", "LS1 4DY", 2000},
	}},
	{"DE", 10, 1, ".de", "GmbH", []place{
		{"Berlin", "", "10115", 1900}, {"München", "", "80331", 1900}, {"Hamburg", "", "20095", 1900},
		{"Köln", "", "50667", 1900}, {"Frankfurt am Main", "", "60311", 1900}, {"Leipzig", "", "04109", 1900},
	}},
	{"FR", 8, 1, ".fr", "SAS", []place{
		{"Paris", "", "75002", 2000}, {"Lyon", "", "69002", 2000}, {"Marseille", "", "13001", 2000},
		{"Toulouse", "", "31000", 2000}, {"Bordeaux", "", "33000", 2000}, {"Nantes", "", "44000", 2000},
	}},
	{"CA", 8, 0, ".ca", "Inc.", []place{
		{"Toronto", "ON", "M5V 2T6", 1300}, {"Ottawa", "ON", "K1P 1J1", 1300}, {"Vancouver", "BC", "V6B 1A1", 500},
		{"Montréal", "QC", "H2Y 1C6", 500}, {"Calgary", "AB", "T2P 1J9", 500}, {"Halifax", "NS", "B3J 1S9", 1500},
	}},
	{"AU", 7, 0, ".com.au", "Pty Ltd", []place{
		{"Sydney", "NSW", "2000", 1000}, {"Melbourne", "VIC", "3000", 1000}, {"Brisbane", "QLD", "4000", 1000},
		{"Perth", "WA", "6000", 1000}, {"Adelaide", "SA", "5000", 1000}, {"Canberra", "ACT", "2600", 1000},
	}},
}

var countryWeights = func() int {
	n := 0
	for _, c := range countries {
		n += c.weight
	}
	return n
}()

// word is a display string and its ASCII form for e-mail addresses and
// domains.
type word struct{ text, slug string }

var (
	firstNames = []word{
		{"James", "james"}, {"Mary", "mary"}, {"Robert", "robert"}, {"Patricia", "patricia"}, {"John", "john"},
		{"Jennifer", "jennifer"}, {"Michael", "michael"}, {"Linda", "linda"}, {"David", "david"}, {"Sarah", "sarah"},
		{"Daniel", "daniel"}, {"Emily", "emily"}, {"Thomas", "thomas"}, {"Olivia", "olivia"}, {"Lukas", "lukas"},
		{"Sophie", "sophie"}, {"Jonas", "jonas"}, {"Léa", "lea"}, {"Chloé", "chloe"}, {"Hugo", "hugo"},
		{"Zoë", "zoe"}, {"José", "jose"}, {"Aisha", "aisha"}, {"Wei", "wei"}, {"Priya", "priya"},
		{"Kenji", "kenji"}, {"Søren", "soren"}, {"Mateo", "mateo"}, {"Ava", "ava"}, {"Noah", "noah"},
		{"Grace", "grace"}, {"Ethan", "ethan"}, {"Hannah", "hannah"}, {"Oliver", "oliver"}, {"Isla", "isla"},
		{"Liam", "liam"}, {"Amelia", "amelia"}, {"Finn", "finn"}, {"Charlotte", "charlotte"}, {"Arjun", "arjun"},
	}
	lastNames = []word{
		{"Smith", "smith"}, {"Johnson", "johnson"}, {"Williams", "williams"}, {"Brown", "brown"}, {"Jones", "jones"},
		{"Garcia", "garcia"}, {"Miller", "miller"}, {"Davis", "davis"}, {"Martinez", "martinez"}, {"Wilson", "wilson"},
		{"Anderson", "anderson"}, {"Taylor", "taylor"}, {"Moore", "moore"}, {"Martin", "martin"}, {"Lee", "lee"},
		{"Müller", "mueller"}, {"Schmidt", "schmidt"}, {"Schneider", "schneider"}, {"Fischer", "fischer"},
		{"Dubois", "dubois"}, {"Lefèvre", "lefevre"}, {"Moreau", "moreau"}, {"Bernard", "bernard"},
		{"O'Brien", "obrien"}, {"Murphy", "murphy"}, {"Nguyen", "nguyen"}, {"Chen", "chen"}, {"Patel", "patel"},
		{"Tanaka", "tanaka"}, {"Kowalski", "kowalski"}, {"Rossi", "rossi"}, {"Jensen", "jensen"},
		{"Walker", "walker"}, {"Wright", "wright"}, {"Clarke", "clarke"}, {"Evans", "evans"}, {"Fernández", "fernandez"},
	}
	companyHeads = []word{
		{"Acme", "acme"}, {"Bright", "bright"}, {"Blue Harbor", "blueharbor"}, {"Northwind", "northwind"},
		{"Lumen", "lumen"}, {"Quantum", "quantum"}, {"Redwood", "redwood"}, {"Silverline", "silverline"},
		{"Summit", "summit"}, {"Evergreen", "evergreen"}, {"Copper", "copper"}, {"Nimbus", "nimbus"},
		{"Orbit", "orbit"}, {"Pioneer", "pioneer"}, {"Atlas", "atlas"}, {"Beacon", "beacon"},
		{"Cobalt", "cobalt"}, {"Falcon", "falcon"}, {"Granite", "granite"}, {"Juniper", "juniper"},
		{"Kestrel", "kestrel"}, {"Maple", "maple"}, {"Meridian", "meridian"}, {"Oakridge", "oakridge"},
	}
	companyTails = []word{
		{"Analytics", "analytics"}, {"Labs", "labs"}, {"Software", "software"}, {"Systems", "systems"},
		{"Logistics", "logistics"}, {"Health", "health"}, {"Studio", "studio"}, {"Robotics", "robotics"},
		{"Media", "media"}, {"Consulting", "consulting"}, {"Networks", "networks"}, {"Foods", "foods"},
		{"Energy", "energy"}, {"Travel", "travel"}, {"Finance", "finance"}, {"Design", "design"},
	}
	mailProviders = []string{"gmail.com", "outlook.com", "proton.me", "icloud.com"}
)

// coupon is a discount on the first periods of a subscription, or on all
// of them when periods is 0.
type coupon struct {
	code    string
	percent int64
	periods int
}

var (
	monthlyCoupons = []coupon{{"WELCOME20", 20, 3}, {"PARTNER15", 15, 0}, {"STARTUP50", 50, 6}}
	yearlyCoupons  = []coupon{{"ANNUAL10", 10, 1}, {"PARTNER15", 15, 0}}
)

// customer generates account number n with its subscriptions, invoices
// and payments.
func (g *generator) customer(n int) {
	r := rand.New(rand.NewPCG(g.seed, uint64(n)))
	acct := account{id: int64(len(g.accounts) + 1), code: fmt.Sprintf("acct_%06d", n)}

	w := r.IntN(countryWeights)
	ci := 0
	for w >= countries[ci].weight {
		w -= countries[ci].weight
		ci++
	}
	country := &countries[ci]
	pl := country.places[r.IntN(len(country.places))]
	acct.country, acct.state, acct.city, acct.zip = country.code, pl.state, pl.city, pl.zip
	first, last := firstNames[r.IntN(len(firstNames))], lastNames[r.IntN(len(lastNames))]
	acct.name = first.text + " " + last.text
	if r.IntN(10) == 0 {
		// An individual, with a personal address.
		acct.email = fmt.Sprintf("%s.%s%d@%s", first.slug, last.slug, r.IntN(100), mailProviders[r.IntN(len(mailProviders))])
	} else {
		head, tail := companyHeads[r.IntN(len(companyHeads))], companyTails[r.IntN(len(companyTails))]
		acct.company = head.text + " " + tail.text + " " + country.suffix
		domain := head.slug + tail.slug + country.tld
		acct.website = "https://www." + domain
		if r.IntN(4) == 0 {
			acct.email = "billing@" + domain
		} else {
			acct.email = first.slug + "." + last.slug + "@" + domain
		}
	}
	manual := r.IntN(8) == 0 // pays by bank transfer against invoices with a due date
	method := "automatic"
	if manual {
		method = "manual"
	}
	churned := r.IntN(10) == 0

	subs := 1
	if r.IntN(10) == 0 {
		subs = 2
	}
	// Subscriptions start 6 to 18 months before now, on a day of the
	// month every month has, so that periods follow one another exactly.
	// Numbered in order of start.
	earliest := g.now.AddDate(0, -18, 0)
	window := g.now.AddDate(0, -6, 0).Sub(earliest)
	starts := make([]time.Time, subs)
	for s := range starts {
		starts[s] = earliest.Add(time.Duration(r.Int64N(int64(window/time.Second))) * time.Second)
		if d := starts[s].Day(); d > 28 {
			starts[s] = starts[s].AddDate(0, 0, 28-d)
		}
	}
	slices.SortFunc(starts, time.Time.Compare)
	var due []period
	for s, start := range starts {
		tier := pickTier(r)
		yearly := r.IntN(5) < 3 // most customers sign yearly contracts
		p := g.priceOf(tier, yearly, country.currency)
		qty := 1
		switch tier {
		case 0:
			qty = 1 + r.IntN(3)
		case 1:
			qty = 2 + r.IntN(14)
		case 2:
			qty = 5 + r.IntN(56)
		}
		var cp *coupon
		if r.IntN(6) == 0 {
			cs := monthlyCoupons
			if yearly {
				cs = yearlyCoupons
			}
			cp = &cs[r.IntN(len(cs))]
		}
		sub := subscription{id: int64(len(g.subscriptions) + 1), accountID: acct.id, priceID: p.id,
			code: fmt.Sprintf("sub_%06d_%d", n, s+1), quantity: qty, startedAt: start}

		periods := 0 // periods begun by now; all but the last are over
		for !periodStart(start, p, periods).After(g.now) {
			periods++
		}
		if churned && periods > 1 {
			// Cancelled at the end of a period already over: the
			// subscription ran until then and was not renewed.
			k := 1 + r.IntN(periods-1)
			sub.cancelledAt = periodStart(start, p, k)
			periods = k
			g.cancelled++
		}
		g.subscriptions = append(g.subscriptions, sub)
		for k := range periods {
			due = append(due, period{sub: len(g.subscriptions) - 1, p: p, cp: cp, k: k, start: periodStart(start, p, k)})
		}
	}
	// Invoiced in order of date, so that invoice numbers grow with time
	// within an account.
	slices.SortStableFunc(due, func(a, b period) int { return a.start.Compare(b.start) })
	for _, d := range due {
		g.subscriptionInvoice(r, &acct, &g.subscriptions[d.sub], d.p, d.cp, d.k, method, pl.taxBP)
	}
	if r.IntN(3) == 0 {
		trial := starts[0].AddDate(0, 0, -14)
		acct.trialStartedAt = trial
		acct.createdAt = trial.Add(-time.Duration(r.Int64N(10*24*3600)) * time.Second)
	} else {
		acct.createdAt = starts[0].Add(-time.Duration(r.Int64N(45*24*3600)) * time.Second)
	}
	g.accounts = append(g.accounts, acct)
}

// period is a billing period of a subscription, due to be invoiced.
type period struct {
	sub   int // index into generator.subscriptions
	p     *price
	cp    *coupon
	k     int
	start time.Time
}

func pickTier(r *rand.Rand) int {
	switch v := r.IntN(20); {
	case v < 10:
		return 0
	case v < 17:
		return 1
	}
	return 2
}

// periodStart returns the start of period k of a subscription started at
// start on price p.
func periodStart(start time.Time, p *price, k int) time.Time {
	return start.AddDate(0, k*p.months*p.count, 0)
}

// subscriptionInvoice generates the invoice of period k of sub, issued at
// the period's start, with its lines and payments.
func (g *generator) subscriptionInvoice(r *rand.Rand, acct *account, sub *subscription, p *price, cp *coupon, k int, method string, taxBP int64) {
	issued := periodStart(sub.startedAt, p, k)
	inv := g.newInvoice(acct, issued, p.currency, method)

	list := p.amount * int64(sub.quantity)
	li := line{subscriptionID: sub.id, priceID: p.id, kind: "subscription", quantity: sub.quantity,
		periodStart: issued, periodEnd: periodStart(sub.startedAt, p, k+1),
		description: fmt.Sprintf("%s × %d %s", p.nickname, sub.quantity, plural(sub.quantity, "seat", "seats"))}
	if cp != nil && (cp.periods == 0 || k < cp.periods) {
		li.discount = list * cp.percent / 100
		li.discountCode = cp.code
	}
	g.addLine(inv, li, list-li.discount, taxBP)
	total := g.lines[len(g.lines)-1].amount
	switch {
	case k == 0 && tiers[p.tier].setupFee > 0 && r.IntN(5) == 0:
		g.addLine(inv, line{kind: "one_time", quantity: 1, description: "Onboarding and setup"}, tiers[p.tier].setupFee, taxBP)
		total += g.lines[len(g.lines)-1].amount
	case k > 0 && p.unit == "month" && r.IntN(30) == 0:
		n := 1 + r.IntN(4)
		g.addLine(inv, line{kind: "one_time", quantity: n, description: fmt.Sprintf("Additional API calls: %d × 100,000", n)}, int64(n)*2500, taxBP)
		total += g.lines[len(g.lines)-1].amount
	}
	g.pay(r, inv, total)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func (g *generator) newInvoice(acct *account, issued time.Time, currency, method string) *invoice {
	g.invoices = append(g.invoices, invoice{id: int64(len(g.invoices) + 1), accountID: acct.id,
		number: fmt.Sprintf("INV-%08d", len(g.invoices)+1), issuedAt: issued, currency: currency, method: method})
	inv := &g.invoices[len(g.invoices)-1]
	if method == "manual" {
		inv.dueAt = issued.AddDate(0, 0, 30)
	}
	return inv
}

// addLine adds li to inv, charging amount with taxBP basis points of tax
// included in it.
func (g *generator) addLine(inv *invoice, li line, amount, taxBP int64) {
	li.id = int64(len(g.lines) + 1)
	li.code = fmt.Sprintf("il_%08d", li.id)
	li.invoiceID = inv.id
	li.amount = amount
	li.tax = amount * taxBP / (10000 + taxBP)
	g.lines = append(g.lines, li)
}

// pay generates the payments of an invoice of total: a card charge minutes
// after issue, now and then failing first and retried three days later, or
// a bank transfer days later; rarely a refund. Payments that would fall
// after now have not happened yet: the invoice is left open.
func (g *generator) pay(r *rand.Rand, inv *invoice, total int64) {
	var at time.Time
	if inv.method == "manual" {
		at = inv.issuedAt.Add(time.Duration(2*24*3600+r.Int64N(25*24*3600)) * time.Second)
		if !g.addPayment(inv, "payment", true, at, total, -1) {
			return
		}
	} else {
		at = inv.issuedAt.Add(time.Duration(60+r.Int64N(3600)) * time.Second)
		if r.IntN(14) == 0 {
			if !g.addPayment(inv, "payment", false, at, total, -1) {
				return
			}
			at = at.Add(time.Duration(3*24*3600+r.Int64N(6*3600)) * time.Second)
		}
		if !g.addPayment(inv, "payment", true, at, total, total*29/1000+30) {
			return
		}
	}
	if r.IntN(100) == 0 {
		g.addPayment(inv, "refund", true, at.Add(time.Duration(24*3600+r.Int64N(9*24*3600))*time.Second), total, -1)
	}
}

// addPayment adds a payment unless it would happen after now, and reports
// whether it did.
func (g *generator) addPayment(inv *invoice, kind string, ok bool, at time.Time, amount, fee int64) bool {
	if at.After(g.now) {
		return false
	}
	id := int64(len(g.payments) + 1)
	g.payments = append(g.payments, payment{id: id, invoiceID: inv.id, code: fmt.Sprintf("py_%08d", id),
		kind: kind, succeeded: ok, paidAt: at, amount: amount, fee: fee})
	return true
}

// largeCustomer generates LargeCustomerID: a reseller with n monthly
// invoices over as many subscriptions (one per client workspace) as keep
// every one within the last ten years.
func (g *generator) largeCustomer(n int) {
	const perSubscription = 120
	acct := account{id: int64(len(g.accounts) + 1), code: LargeCustomerID, name: "Morgan Reyes",
		email: "accounts@globalresellers.com", company: "Global Resellers Inc.", website: "https://www.globalresellers.com",
		country: "US", state: "NY", city: "New York", zip: "10001"}
	p := g.priceOf(2, false, 0)
	firstOfMonth := time.Date(g.now.Year(), g.now.Month(), 1, 0, 0, 0, 0, time.UTC)
	for s := 1; n > 0; s++ {
		months := min(n, perSubscription)
		n -= months
		start := firstOfMonth.AddDate(0, -(months - 1), 0)
		if acct.createdAt.IsZero() {
			acct.createdAt = start.AddDate(0, 0, -30)
		}
		sub := subscription{id: int64(len(g.subscriptions) + 1), accountID: acct.id, priceID: p.id,
			code: fmt.Sprintf("sub_large_%04d", s), quantity: 25, startedAt: start}
		g.subscriptions = append(g.subscriptions, sub)
		for k := range months {
			issued := periodStart(start, p, k)
			inv := g.newInvoice(&acct, issued, p.currency, "automatic")
			amount := p.amount * int64(sub.quantity)
			g.addLine(inv, line{subscriptionID: sub.id, priceID: p.id, kind: "subscription", quantity: sub.quantity,
				periodStart: issued, periodEnd: periodStart(start, p, k+1),
				description: fmt.Sprintf("%s × %d seats, workspace %d", p.nickname, sub.quantity, s)}, amount, 0)
			// Charged at issue: the newest invoice may be issued at now.
			g.addPayment(inv, "payment", true, issued, amount, amount*29/1000+30)
		}
	}
	g.accounts = append(g.accounts, acct)
}

// tables returns the generated rows as the tables of schema.sql.
func (g *generator) tables() []table {
	return []table{
		{"accounts", []string{"id", "code", "name", "email", "company", "website", "country", "state", "city", "zip", "created_at", "trial_started_at"},
			len(g.accounts), func(i int, dst []any) {
				a := &g.accounts[i]
				dst[0], dst[1], dst[2], dst[3], dst[4], dst[5] = a.id, a.code, a.name, a.email, nullString(a.company), nullString(a.website)
				dst[6], dst[7], dst[8], dst[9], dst[10], dst[11] = a.country, nullString(a.state), a.city, a.zip, a.createdAt, nullTime(a.trialStartedAt)
			}},
		{"products", []string{"id", "code", "name"}, len(tiers), func(i int, dst []any) {
			dst[0], dst[1], dst[2] = int64(i+1), "prod_"+tiers[i].code, tiers[i].name
		}},
		{"prices", []string{"id", "code", "product_id", "nickname", "interval_unit", "interval_count", "amount_cents", "currency"},
			len(g.prices), func(i int, dst []any) {
				p := &g.prices[i]
				dst[0], dst[1], dst[2], dst[3], dst[4], dst[5], dst[6], dst[7] = p.id, p.code, p.productID, p.nickname, p.unit, int64(p.count), p.amount, p.currency
			}},
		{"subscriptions", []string{"id", "code", "account_id", "price_id", "quantity", "started_at", "cancelled_at"},
			len(g.subscriptions), func(i int, dst []any) {
				s := &g.subscriptions[i]
				dst[0], dst[1], dst[2], dst[3], dst[4], dst[5], dst[6] = s.id, s.code, s.accountID, s.priceID, int64(s.quantity), s.startedAt, nullTime(s.cancelledAt)
			}},
		{"invoices", []string{"id", "number", "account_id", "issued_at", "due_at", "currency", "collection_method"},
			len(g.invoices), func(i int, dst []any) {
				v := &g.invoices[i]
				dst[0], dst[1], dst[2], dst[3], dst[4], dst[5], dst[6] = v.id, v.number, v.accountID, v.issuedAt, nullTime(v.dueAt), v.currency, v.method
			}},
		{"invoice_lines", []string{"id", "code", "invoice_id", "subscription_id", "price_id", "kind", "amount_cents", "quantity",
			"period_start", "period_end", "discount_cents", "discount_code", "tax_cents", "description"},
			len(g.lines), func(i int, dst []any) {
				l := &g.lines[i]
				dst[0], dst[1], dst[2], dst[3], dst[4], dst[5], dst[6] = l.id, l.code, l.invoiceID, nullID(l.subscriptionID), nullID(l.priceID), l.kind, l.amount
				dst[7], dst[8], dst[9], dst[10], dst[11], dst[12], dst[13] = int64(l.quantity), nullTime(l.periodStart), nullTime(l.periodEnd), l.discount, nullString(l.discountCode), l.tax, l.description
			}},
		{"payments", []string{"id", "code", "invoice_id", "kind", "succeeded", "paid_at", "amount_cents", "fee_cents"},
			len(g.payments), func(i int, dst []any) {
				y := &g.payments[i]
				var fee any
				if y.fee >= 0 {
					fee = y.fee
				}
				dst[0], dst[1], dst[2], dst[3], dst[4], dst[5], dst[6], dst[7] = y.id, y.code, y.invoiceID, y.kind, y.succeeded, y.paidAt, y.amount, fee
			}},
	}
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

func nullID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}
