package store

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/recurhq/recur/chartmogul"
	"github.com/recurhq/recur/sandbox/analytics"
)

// Exchange rates come from the operator (`recur rates import`), never from
// the network: a self-hosted installation decides which reference rates its
// figures rest on. They are stored as given, each with the currency it is
// quoted against: rate is how many units of Currency one unit of Base bought
// at the close of Day (the European Central Bank's convention, with base
// EUR). A conversion from a currency into an account's currency uses, in
// order: a rate quoted against the account currency, the inverse of one
// quoted the other way, or a cross rate through any base both are quoted
// against (EUR for the ECB's file). Reference rates are published on
// business days only, so a day without a rate takes the latest rate of the
// MaxRateAge days before it; beyond that the rate is missing, and the
// customers that need it are reported by currency and date, never valued at
// zero.

// MaxRateAge is how many days back a missing rate may be carried from: a
// long holiday weekend without publications, not a gap in the data.
const MaxRateAge = 7

// Rate is one stored exchange rate: one unit of Base bought Rate units of
// Currency at the close of Day.
type Rate struct {
	Day      analytics.Day
	Base     string
	Currency string
	Rate     float64
}

// RateSet is one rates file to import: where it came from, its format
// ("ecb" or "plain") and its rates.
type RateSet struct {
	Source string
	Format string
	Rates  []Rate
}

// RateImport summarises a stored RateSet.
type RateImport struct {
	ID         int64
	Source     string
	Format     string
	Base       string
	Currencies []string
	Rates      int
	First      analytics.Day
	Last       analytics.Day
	ImportedAt time.Time
	// Accounts is how many accounts' analytics were queued for a recompute.
	Accounts int
}

// ImportRates stores a set of rates in one transaction, replacing stored
// rates of the same base, currency and day, and queues a recompute of every
// account that has customers, in the same transaction: figures in foreign
// currencies, and customers that were waiting for a missing rate, follow
// the new rates. It returns an EINVALID error for an empty set, a rate that
// is not a positive number, or a currency code that is not ISO 4217.
func (s *Store) ImportRates(ctx context.Context, set RateSet) (*RateImport, error) {
	if len(set.Rates) == 0 {
		return nil, chartmogul.Errorf(chartmogul.EINVALID, "%s holds no exchange rates", set.Source)
	}
	sum := &RateImport{Source: set.Source, Format: set.Format, Rates: len(set.Rates), First: set.Rates[0].Day, Last: set.Rates[0].Day, ImportedAt: s.now()}
	bases := map[string]bool{}
	currencies := map[string]bool{}
	for _, r := range set.Rates {
		if !(r.Rate > 0) || math.IsInf(r.Rate, 0) {
			return nil, chartmogul.Errorf(chartmogul.EINVALID, "the %s rate of %s on %s is %v; a rate must be a positive number", r.Currency, r.Base, r.Day, r.Rate)
		}
		for _, c := range []string{r.Base, r.Currency} {
			if _, ok := chartmogul.NormalizeCurrency(c); !ok || c != strings.ToUpper(c) {
				return nil, chartmogul.Errorf(chartmogul.EINVALID, "%s is not an ISO 4217 currency code (rate of %s on %s)", chartmogul.Quote(c), r.Currency, r.Day)
			}
		}
		if r.Base == r.Currency {
			return nil, chartmogul.Errorf(chartmogul.EINVALID, "a rate of %s against itself on %s; a rate converts between two currencies", r.Currency, r.Day)
		}
		bases[r.Base], currencies[r.Currency] = true, true
		sum.First, sum.Last = min(sum.First, r.Day), max(sum.Last, r.Day)
	}
	sum.Base = strings.Join(slices.Sorted(mapKeys(bases)), ",")
	sum.Currencies = slices.Sorted(mapKeys(currencies))
	err := s.eng.writeTx(ctx, func(tx *txn) error {
		// Replace what the set covers: delete the stored rates of its bases
		// and currencies over its days, then write it with the bulk writer.
		for b := range bases {
			_, err := tx.exec(ctx, `DELETE FROM exchange_rates WHERE base = $1 AND `+inList(tx.eng, "currency", 2)+` AND day BETWEEN $3 AND $4`,
				b, listArg(tx.eng, sum.Currencies), int64(sum.First), int64(sum.Last))
			if err != nil {
				return internal("replace exchange rates", err)
			}
		}
		// A file may repeat a (base, currency, day); the last one wins.
		type key struct {
			base, cur string
			day       analytics.Day
		}
		last := make(map[key]int, len(set.Rates))
		for i, r := range set.Rates {
			last[key{r.Base, r.Currency, r.Day}] = i
		}
		kept := make([]Rate, 0, len(last))
		for i, r := range set.Rates {
			if last[key{r.Base, r.Currency, r.Day}] == i {
				kept = append(kept, r)
			}
		}
		err := tx.bulk(ctx, "exchange_rates", []string{"base", "currency", "day", "rate"}, len(kept), func(i int, dst []any) []any {
			return append(dst, kept[i].Base, kept[i].Currency, int64(kept[i].Day), kept[i].Rate)
		})
		if err != nil {
			return internal("write exchange rates", err)
		}
		err = tx.queryRow(ctx, `INSERT INTO exchange_rate_sets (source, format, base, currencies, rates, first_day, last_day, imported_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`, set.Source, set.Format, sum.Base, strings.Join(sum.Currencies, ","),
			len(kept), int64(sum.First), int64(sum.Last), micros(sum.ImportedAt)).Scan(&sum.ID)
		if err != nil {
			return internal("record the rates import", err)
		}
		sum.Rates = len(kept)
		var accounts []int64
		err = each(ctx, tx, `SELECT a.id FROM accounts a WHERE EXISTS (SELECT 1 FROM customers c WHERE c.account_id = a.id) ORDER BY a.id`, nil, func(r rows) error {
			var id int64
			err := r.Scan(&id)
			accounts = append(accounts, id)
			return err
		})
		if err != nil {
			return internal("list accounts", err)
		}
		for _, id := range accounts {
			if err := s.queue.insertJobTx(ctx, tx, RecomputeArgs{AccountID: id, All: true}, nil); err != nil {
				return internal("queue the recompute", err)
			}
		}
		sum.Accounts = len(accounts)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return sum, nil
}

func mapKeys[K comparable, V any](m map[K]V) func(yield func(K) bool) {
	return func(yield func(K) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// RateImports lists the rates imports, oldest first.
func (s *Store) RateImports(ctx context.Context) ([]RateImport, error) {
	var out []RateImport
	err := each(ctx, s.eng.read(), `SELECT id, source, format, base, currencies, rates, first_day, last_day, imported_at FROM exchange_rate_sets ORDER BY id`, nil, func(r rows) error {
		var ri RateImport
		var cur string
		var first, last, at int64
		if err := r.Scan(&ri.ID, &ri.Source, &ri.Format, &ri.Base, &cur, &ri.Rates, &first, &last, &at); err != nil {
			return err
		}
		ri.Currencies = strings.Split(cur, ",")
		ri.First, ri.Last, ri.ImportedAt = analytics.Day(first), analytics.Day(last), fromMicros(at)
		out = append(out, ri)
		return nil
	})
	return out, internal("list rates imports", err)
}

// RateBook converts invoice currencies into one account currency from the
// stored rates (see the conventions above). It loads the rates of a
// currency the first time a batch needs it and keeps them while the stored
// rates do not change, so a full recompute reads each currency's history
// once. After Prepare it is safe for concurrent use by Compute calls.
type RateBook struct {
	base    string
	version int64
	// series holds the loaded rates by (base, currency) pair.
	series map[[2]string]*rateSeries
	// loaded are the currencies whose pairs are in series.
	loaded map[string]bool
	mu     sync.RWMutex
}

// NewRateBook returns an empty book converting into base, from the stored
// rates of version (the largest exchange_rate_sets id; 0 when none).
func NewRateBook(base string, version int64) *RateBook {
	return &RateBook{base: base, version: version, series: map[[2]string]*rateSeries{}, loaded: map[string]bool{}}
}

// ratesVersion is the version of the stored rates.
func ratesVersion(ctx context.Context, q querier) (int64, error) {
	var version int64
	err := q.queryRow(ctx, `SELECT COALESCE(MAX(id), 0) FROM exchange_rate_sets`).Scan(&version)
	return version, internal("read the rates version", err)
}

// Base returns the currency the book converts into.
func (b *RateBook) Base() string { return b.base }

// rateSeries is one pair's rates by day; 0 marks a day without a rate.
type rateSeries struct {
	first analytics.Day
	rates []float64
}

func (s *rateSeries) set(d analytics.Day, r float64) {
	if len(s.rates) == 0 {
		s.first = d
	}
	if d < s.first {
		grown := make([]float64, int(s.first-d)+len(s.rates))
		copy(grown[s.first-d:], s.rates)
		s.rates, s.first = grown, d
	}
	for int(d-s.first) >= len(s.rates) {
		s.rates = append(s.rates, 0)
	}
	s.rates[d-s.first] = r
}

// at returns the rate of day d, or of the latest day up to MaxRateAge days
// before it.
func (s *rateSeries) at(d analytics.Day) (float64, bool) {
	if s == nil {
		return 0, false
	}
	for k := analytics.Day(0); k <= MaxRateAge; k++ {
		i := int(d - k - s.first)
		if i < 0 {
			return 0, false
		}
		if i < len(s.rates) && s.rates[i] > 0 {
			return s.rates[i], true
		}
	}
	return 0, false
}

// MissingRateError says no stored rate converts Currency into Base on Day.
type MissingRateError struct {
	Currency, Base string
	Day            analytics.Day
}

func (e *MissingRateError) Error() string {
	return fmt.Sprintf("no exchange rate from %s to %s on %s or in the %d days before it", e.Currency, e.Base, e.Day, MaxRateAge)
}

// Rate implements analytics.Rates: how many units of the book's base one
// unit of currency bought on day. It returns a *MissingRateError when the
// stored rates do not say.
func (b *RateBook) Rate(currency string, day analytics.Day) (float64, error) {
	if currency == b.base {
		return 1, nil
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	// Quoted against the base: one base buys r currency.
	if r, ok := b.series[[2]string{b.base, currency}].at(day); ok {
		return 1 / r, nil
	}
	// Quoted the other way: one currency buys r base.
	if r, ok := b.series[[2]string{currency, b.base}].at(day); ok {
		return r, nil
	}
	// Through a common base P: one P buys rb base and rc currency. The
	// pivots are tried in a fixed order so the answer never depends on map
	// order.
	pivots := make([]string, 0, 2)
	for k := range b.series {
		if k[1] == currency && k[0] != b.base {
			if _, ok := b.series[[2]string{k[0], b.base}]; ok {
				pivots = append(pivots, k[0])
			}
		}
	}
	slices.Sort(pivots)
	for _, p := range pivots {
		rc, ok1 := b.series[[2]string{p, currency}].at(day)
		rb, ok2 := b.series[[2]string{p, b.base}].at(day)
		if ok1 && ok2 {
			return rb / rc, nil
		}
	}
	return 0, &MissingRateError{Currency: currency, Base: b.base, Day: day}
}

// prepare makes sure the book holds every pair that can convert currencies
// into the base. It only ever adds rates: a book whose stored rates
// changed is replaced (RateBooks.book), never emptied under a recompute
// still using it.
func (b *RateBook) prepare(ctx context.Context, q querier, eng Engine, currencies []string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	version := b.version
	var need []string
	for _, c := range currencies {
		if c != b.base && !b.loaded[c] {
			need = append(need, c)
		}
	}
	if len(need) == 0 || version == 0 {
		for _, c := range need {
			b.loaded[c] = true
		}
		return nil
	}
	// Every rate quoted for one of the needed currencies or for the base:
	// direct, inverse and cross pairs are all among them. The base's own
	// pairs are read once.
	want := slices.Clone(need)
	if !b.loaded[b.base] {
		want = append(want, b.base)
	}
	err := each(ctx, q, `SELECT base, currency, day, rate FROM exchange_rates WHERE `+inList(eng, "currency", 1)+` OR `+inList(eng, "base", 2),
		[]any{listArg(eng, want), listArg(eng, want)}, func(r rows) error {
			var base, cur string
			var day int64
			var rate float64
			if err := r.Scan(&base, &cur, &day, &rate); err != nil {
				return err
			}
			k := [2]string{base, cur}
			s := b.series[k]
			if s == nil {
				s = &rateSeries{}
				b.series[k] = s
			}
			s.set(analytics.Day(day), rate)
			return nil
		})
	if err != nil {
		return internal("load exchange rates", err)
	}
	for _, c := range need {
		b.loaded[c] = true
	}
	b.loaded[b.base] = true
	return nil
}
