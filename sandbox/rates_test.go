package main

import (
	"archive/zip"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/recurhq/recur/sandbox/analytics"
	"github.com/recurhq/recur/sandbox/store"
	"github.com/recurhq/recur/sandbox/store/storetest"
)

// ratesRun runs `recur ARGS…` with no environment and returns its output.
func ratesRun(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), args, func(string) string { return "" }, strings.NewReader(""), &stdout, &stderr)
	return stdout.String(), stderr.String(), err
}

// The head of the ECB's eurofxref-hist.csv as published: a trailing comma
// on every line, N/A where a currency has no rate, newest day first.
const ecbSample = `Date,USD,JPY,BGN,CYP,GBP,
2024-01-03,1.0919,155.52,1.9558,N/A,0.86195,
2024-01-02,1.0956,155.76,1.9558,N/A,0.86750,
`

// TestRatesImport imports the ECB's file, its zip and a plain file, and
// lists them, on every engine.
func TestRatesImport(t *testing.T) {
	for _, db := range storetest.Databases(t) {
		t.Run(db.Engine, func(t *testing.T) {
			dir := t.TempDir()
			ecb := filepath.Join(dir, "eurofxref-hist.csv")
			os.WriteFile(ecb, []byte(ecbSample), 0o644)
			out, errOut, err := ratesRun(t, "rates", "import", "--database", db.URL, ecb)
			if err != nil {
				t.Fatalf("rates import: %v\n%s", err, errOut)
			}
			for _, want := range []string{"1 EUR buys", "Stored 8 rates of 4 currencies against EUR, from 2024-01-02 to 2024-01-03"} {
				if !strings.Contains(out, want) {
					t.Errorf("output %q lacks %q", out, want)
				}
			}

			// The zip the ECB serves holds the same file.
			var zbuf bytes.Buffer
			zw := zip.NewWriter(&zbuf)
			w, _ := zw.Create("eurofxref-hist.csv")
			w.Write([]byte(ecbSample))
			zw.Close()
			zipped := filepath.Join(dir, "eurofxref-hist.zip")
			os.WriteFile(zipped, zbuf.Bytes(), 0o644)
			if out, errOut, err := ratesRun(t, "rates", "import", "--database", db.URL, zipped); err != nil || !strings.Contains(out, "Stored 8 rates") {
				t.Fatalf("zip: %v %q %s", err, out, errOut)
			}

			// A plain file is quoted against --base, and says so.
			plain := filepath.Join(dir, "rates.csv")
			os.WriteFile(plain, []byte("date,currency,rate\n2024-01-02,CHF,0.86\n2024-01-03,chf,0.87\n"), 0o644)
			out, errOut, err = ratesRun(t, "rates", "import", "--database", db.URL, "--base", "USD", plain)
			if err != nil {
				t.Fatalf("plain: %v\n%s", err, errOut)
			}
			if !strings.Contains(out, "how many units of the currency 1 USD buys") || !strings.Contains(out, "Stored 2 rates of 1 currencies against USD") {
				t.Errorf("plain output %q", out)
			}

			out, _, err = ratesRun(t, "rates", "list", "--database", db.URL)
			if err != nil || strings.Count(out, "\n") != 4 || !strings.Contains(out, "rates.csv") || !strings.Contains(out, "CHF") {
				t.Errorf("rates list: %v\n%s", err, out)
			}

			// The stored rates convert: USD→CHF from the plain file, GBP
			// through EUR from the ECB's.
			st, err := store.Open(context.Background(), db.URL, store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			list, err := st.RateImports(context.Background())
			if err != nil || len(list) != 3 || list[2].Base != "USD" || list[0].Last != analytics.DateDay(2024, 1, 3) {
				t.Errorf("RateImports = %+v, %v", list, err)
			}
		})
	}
}

// TestRatesImportErrors: every mistake in a rates file names its line.
func TestRatesImportErrors(t *testing.T) {
	dir := t.TempDir()
	dbURL := "sqlite:" + filepath.Join(dir, "recur.db")
	for name, c := range map[string]struct{ body, want string }{
		"bad header":   {"Date,USD,DOLLARS\n2024-01-02,1.1,2\n", `line 1: column 3 is headed "DOLLARS"`},
		"bad date":     {"Date,USD\n02/01/2024,1.1\n", `line 2: the date "02/01/2024" is not YYYY-MM-DD`},
		"bad rate":     {"Date,USD\n2024-01-02,-1\n", `line 2: the USD rate "-1" is not a positive number`},
		"plain fields": {"2024-01-02,EUR\n", "line 1: want date,currency,rate; got 2 fields"},
		"plain base":   {"2024-01-02,USD,1\n", "line 1: a rate of USD against itself"},
		"plain code":   {"2024-01-02,EURO,1\n", `line 1: "EURO" is not an ISO 4217 currency code`},
		"empty":        {"", "is empty"},
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".csv")
			os.WriteFile(path, []byte(c.body), 0o644)
			_, _, err := ratesRun(t, "rates", "import", "--database", dbURL, path)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v, want it to contain %q", err, c.want)
			}
		})
	}
	if _, _, err := ratesRun(t, "rates", "import", "--database", dbURL); exitCode(err) != 2 {
		t.Errorf("no file: %v, want a usage error", err)
	}
	if _, _, err := ratesRun(t, "rates", "import", "--database", dbURL, "--base", "XX", "f.csv"); exitCode(err) != 2 {
		t.Errorf("bad base: %v, want a usage error", err)
	}
}

// TestSettingsCommand shows and changes an account's analytics settings.
func TestSettingsCommand(t *testing.T) {
	dbURL := "sqlite:" + filepath.Join(t.TempDir(), "recur.db")
	out, _, err := ratesRun(t, "settings", "--database", dbURL)
	if err != nil || !strings.Contains(out, "currency USD") || !strings.Contains(out, "churn recognition churn_at_time_of_cancelation") {
		t.Fatalf("settings: %v %q", err, out)
	}
	out, _, err = ratesRun(t, "settings", "--database", dbURL, "--currency", "eur", "--churn-recognition", "churn_at_period_end", "--churn-when-zero-mrr", "true")
	if err != nil || !strings.Contains(out, "currency EUR") || !strings.Contains(out, "churn_at_period_end") || !strings.Contains(out, "churn when zero MRR true") ||
		!strings.Contains(out, "Queued the recompute") {
		t.Fatalf("settings change: %v %q", err, out)
	}
	if _, _, err := ratesRun(t, "settings", "--database", dbURL, "--week-start", "friday"); exitCode(err) != 2 || !strings.Contains(err.Error(), "week start") {
		t.Errorf("bad week start: %v", err)
	}
}
