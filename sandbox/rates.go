package main

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/recurhq/recur/chartmogul"
	"github.com/recurhq/recur/sandbox/analytics"
	"github.com/recurhq/recur/sandbox/store"
)

// rates manages the exchange rates amounts in other currencies are
// converted with: `sandbox rates import FILE` and `sandbox rates list`.
//
// Two formats are read:
//   - the European Central Bank's historical reference rates
//     (eurofxref-hist.csv, or the .zip it comes in): a header
//     "Date,USD,JPY,…" and one row per business day, "N/A" where a currency
//     has no rate; each rate is how many units of the currency 1 EUR buys.
//   - a plain CSV of date,currency,rate lines (a header line is optional):
//     each rate is how many units of the currency 1 unit of the --base
//     currency buys (default USD), the ECB's convention, so
//     "2024-01-02,EUR,0.9127" with --base USD says 1 USD = 0.9127 EUR.
//
// Rates of any base can be mixed: a conversion uses a rate quoted against
// the account's currency, its inverse, or a cross rate through a common
// base such as EUR.
func rates(ctx context.Context, args []string, getenv env, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{"sandbox rates needs a subcommand: import FILE, or list"}
	}
	sub, args := args[0], args[1:]
	fs := flags("rates "+sub, stderr)
	dbURL := fs.String("database", databaseURL(getenv), "database: sqlite:PATH or postgres://… (RECUR_DATABASE_URL)")
	var base, format *string
	if sub == "import" {
		base = fs.String("base", "USD", "plain files: the currency each rate is quoted against (rate = units of the currency 1 BASE buys)")
		format = fs.String("format", "", "ecb or plain (default: recognised from the header)")
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	var cur string
	switch sub {
	case "import":
		if fs.NArg() != 1 {
			return usageError{"sandbox rates import takes one file: the ECB's eurofxref-hist.csv (or .zip), or a date,currency,rate CSV"}
		}
		c, ok := chartmogul.NormalizeCurrency(*base)
		if !ok {
			return usageError{fmt.Sprintf("--base must be an ISO 4217 currency code such as USD; got %q", *base)}
		}
		cur = c
	case "list":
		if fs.NArg() != 0 {
			return usageError{"sandbox rates list takes no arguments"}
		}
	default:
		return usageError{fmt.Sprintf("unknown rates subcommand %q; use import or list", sub)}
	}
	st, err := store.Open(ctx, *dbURL, store.Options{})
	if err != nil {
		return err
	}
	defer st.Close()
	if sub == "list" {
		list, err := st.RateImports(ctx)
		if err != nil {
			return err
		}
		if len(list) == 0 {
			fmt.Fprintln(stdout, "No exchange rates are stored; add some with `sandbox rates import FILE`.")
			return nil
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tIMPORTED\tSOURCE\tFORMAT\tBASE\tRATES\tFROM\tTO\tCURRENCIES")
		for _, ri := range list {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", ri.ID, ri.ImportedAt.Format("2006-01-02 15:04"), ri.Source, ri.Format, ri.Base,
				ri.Rates, ri.First, ri.Last, strings.Join(ri.Currencies, " "))
		}
		return tw.Flush()
	}

	path := fs.Arg(0)
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	set, err := parseRates(filepath.Base(path), b, *format, cur)
	if err != nil {
		return err
	}
	sum, err := st.ImportRates(ctx, set)
	if err != nil {
		return err
	}
	switch set.Format {
	case "ecb":
		fmt.Fprintf(stdout, "Read the ECB's reference rates from %s: each rate is how many units of a currency 1 EUR buys.\n", path)
	default:
		fmt.Fprintf(stdout, "Read %s as date,currency,rate: each rate is how many units of the currency 1 %s buys (\"2024-01-02,EUR,0.91\" means 1 %s = 0.91 EUR).\n", path, cur, cur)
	}
	fmt.Fprintf(stdout, "Stored %d rates of %d currencies against %s, from %s to %s.\n", sum.Rates, len(sum.Currencies), sum.Base, sum.First, sum.Last)
	if sum.Accounts > 0 {
		fmt.Fprintf(stdout, "Queued the recompute of %d accounts' analytics; running workers pick it up.\n", sum.Accounts)
	}
	return nil
}

// parseRates reads a rates file in the format given ("ecb", "plain") or
// recognised from its header. Errors name the line.
func parseRates(name string, b []byte, format, base string) (store.RateSet, error) {
	if bytes.HasPrefix(b, []byte("PK\x03\x04")) {
		var err error
		if b, err = unzipCSV(b); err != nil {
			return store.RateSet{}, fmt.Errorf("%s: %w", name, err)
		}
	}
	r := csv.NewReader(bytes.NewReader(b))
	r.FieldsPerRecord = -1
	r.TrimLeadingSpace = true
	records, err := r.ReadAll()
	if err != nil {
		return store.RateSet{}, fmt.Errorf("%s is not a CSV file: %w", name, err)
	}
	if len(records) == 0 {
		return store.RateSet{}, fmt.Errorf("%s is empty", name)
	}
	if format == "" {
		format = "plain"
		h := records[0]
		if len(h) >= 2 && strings.EqualFold(strings.TrimSpace(h[0]), "date") && !strings.EqualFold(strings.TrimSpace(h[1]), "currency") {
			format = "ecb"
		}
	}
	set := store.RateSet{Source: name, Format: format}
	switch format {
	case "ecb":
		err = parseECB(name, records, &set)
	case "plain":
		err = parsePlain(name, records, base, &set)
	default:
		return set, usageError{fmt.Sprintf("--format must be ecb or plain; got %q", format)}
	}
	return set, err
}

func unzipCSV(b []byte) ([]byte, error) {
	z, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return nil, fmt.Errorf("not a readable zip file: %w", err)
	}
	for _, f := range z.File {
		if strings.HasSuffix(strings.ToLower(f.Name), ".csv") {
			rc, err := f.Open()
			if err != nil {
				return nil, err
			}
			defer rc.Close()
			return io.ReadAll(rc)
		}
	}
	return nil, errors.New("the zip file holds no .csv file")
}

// parseECB reads the ECB's layout: "Date,USD,JPY,…" then one row per day.
func parseECB(name string, records [][]string, set *store.RateSet) error {
	header := records[0]
	cols := make([]string, len(header))
	for i, h := range header[1:] {
		h = strings.TrimSpace(h)
		if h == "" {
			continue // the ECB ends every line with a comma
		}
		c, ok := chartmogul.NormalizeCurrency(h)
		if !ok {
			return fmt.Errorf("%s line 1: column %d is headed %q, which is not an ISO 4217 currency code", name, i+2, h)
		}
		cols[i+1] = c
	}
	for n, rec := range records[1:] {
		line := n + 2
		if len(rec) == 0 || (len(rec) == 1 && strings.TrimSpace(rec[0]) == "") {
			continue
		}
		day, err := analytics.ParseDay(strings.TrimSpace(rec[0]))
		if err != nil {
			return fmt.Errorf("%s line %d: the date %q is not YYYY-MM-DD", name, line, rec[0])
		}
		for i := 1; i < len(rec) && i < len(cols); i++ {
			v := strings.TrimSpace(rec[i])
			if cols[i] == "" || v == "" || v == "N/A" {
				continue
			}
			rate, err := strconv.ParseFloat(v, 64)
			if err != nil || !(rate > 0) {
				return fmt.Errorf("%s line %d: the %s rate %q is not a positive number", name, line, cols[i], v)
			}
			set.Rates = append(set.Rates, store.Rate{Day: day, Base: "EUR", Currency: cols[i], Rate: rate})
		}
	}
	return nil
}

// parsePlain reads date,currency,rate lines against base.
func parsePlain(name string, records [][]string, base string, set *store.RateSet) error {
	for n, rec := range records {
		line := n + 1
		if len(rec) == 0 || (len(rec) == 1 && strings.TrimSpace(rec[0]) == "") {
			continue
		}
		if n == 0 && strings.EqualFold(strings.TrimSpace(rec[0]), "date") {
			continue // a header
		}
		if len(rec) != 3 {
			return fmt.Errorf("%s line %d: want date,currency,rate; got %d fields", name, line, len(rec))
		}
		day, err := analytics.ParseDay(strings.TrimSpace(rec[0]))
		if err != nil {
			return fmt.Errorf("%s line %d: the date %q is not YYYY-MM-DD", name, line, rec[0])
		}
		cur, ok := chartmogul.NormalizeCurrency(strings.TrimSpace(rec[1]))
		if !ok {
			return fmt.Errorf("%s line %d: %q is not an ISO 4217 currency code", name, line, rec[1])
		}
		if cur == base {
			return fmt.Errorf("%s line %d: a rate of %s against itself; the rates are quoted against --base %s", name, line, cur, base)
		}
		rate, err := strconv.ParseFloat(strings.TrimSpace(rec[2]), 64)
		if err != nil || !(rate > 0) {
			return fmt.Errorf("%s line %d: the rate %q is not a positive number", name, line, rec[2])
		}
		set.Rates = append(set.Rates, store.Rate{Day: day, Base: base, Currency: cur, Rate: rate})
	}
	return nil
}
