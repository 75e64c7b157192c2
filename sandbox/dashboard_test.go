package main

// The dashboard in a real browser: Debian's chromium, headless, driven
// through the DevTools protocol by chromedp, against `sandbox serve` running
// in process on a fresh SQLite file. The test signs in through the page,
// opens an import with a failed record and reads the record's message,
// opens the overview and checks that the MRR and movements charts were
// drawn from the Metrics API, opens a customer, and checks that API errors
// (a 404, a 401) are shown as messages. It keeps screenshots as artefacts.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/recurhq/recur/sandbox/gen"
	"github.com/recurhq/recur/sandbox/store/storetest"
)

// dashChromiumPath is where Debian's chromium package installs the browser.
const dashChromiumPath = "/usr/bin/chromium"

// dashChromium returns the browser's path, or skips t when it is missing —
// unless RECUR_REQUIRE_CHROMIUM is set, as in CI, where a missing browser
// fails the test rather than silently skipping it.
func dashChromium(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat(dashChromiumPath); err != nil {
		if os.Getenv("RECUR_REQUIRE_CHROMIUM") != "" {
			t.Fatalf("RECUR_REQUIRE_CHROMIUM is set but %s is missing (%v); install Debian's chromium package (apt-get install -y chromium)", dashChromiumPath, err)
		}
		t.Skipf("%s is missing: the dashboard test needs Debian's chromium package (apt-get install -y chromium); set RECUR_REQUIRE_CHROMIUM=1 to make this a failure", dashChromiumPath)
	}
	return dashChromiumPath
}

// dashRates stores exchange rates for the generated payload's EUR and GBP
// customers (constant ones, from 2023 to 2026), so that the account's
// analytics are complete.
func dashRates(t *testing.T, dbURL string) {
	t.Helper()
	var csv bytes.Buffer
	csv.WriteString("date,currency,rate\n")
	for d := time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC); d.Year() < 2027; d = d.AddDate(0, 0, 1) {
		fmt.Fprintf(&csv, "%s,EUR,0.92\n%s,GBP,0.79\n", d.Format(time.DateOnly), d.Format(time.DateOnly))
	}
	file := filepath.Join(t.TempDir(), "rates.csv")
	if err := os.WriteFile(file, csv.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"rates", "import", "--database", dbURL, file}, e2eEnv(nil), strings.NewReader(""), &stdout, &stderr); err != nil {
		t.Fatalf("sandbox rates import: %v\n%s%s", err, stdout.String(), stderr.String())
	}
}

// dashScreenshot writes a PNG: the overview to RECUR_DASHBOARD_SCREENSHOT
// when set, the other pages beside it (name added before .png); without
// the variable, all go to the test's artefact directory (kept with go test
// -artifacts, otherwise removed with the test's temporary files).
func dashScreenshot(t *testing.T, name string, png []byte) {
	t.Helper()
	var path string
	if p := os.Getenv("RECUR_DASHBOARD_SCREENSHOT"); p != "" {
		path = p
		if name != "overview" {
			path = strings.TrimSuffix(p, ".png") + "-" + name + ".png"
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
	} else {
		path = filepath.Join(t.ArtifactDir(), "dashboard-"+name+".png")
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot of the %s page: %s (%d bytes)", name, path, len(png))
}

// dashBrowser starts a headless chromium with a fresh profile and returns
// a chromedp context for one tab, and the page's uncaught errors so far.
func dashBrowser(t *testing.T, path string) (context.Context, func() []string) {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		// Without these, chromium reaches for Google's services at start,
		// and this machine's closed network refuses its connections.
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1360, 900),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	var (
		mu       sync.Mutex
		problems []string
	)
	ctx, cancelTab := chromedp.NewContext(allocCtx, chromedp.WithListener(func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			d := ev.ExceptionDetails
			msg := d.Text
			if d.Exception != nil && d.Exception.Description != "" {
				msg += " " + d.Exception.Description
			}
			problems = append(problems, "uncaught: "+msg)
		case *cdplog.EventEntryAdded:
			// Failed API requests (a 404, a 401) are part of the test and
			// show as network entries; anything else at error level is a
			// bug of the page: a script error, a CSP violation.
			if ev.Entry.Level == cdplog.EntryLevelError && ev.Entry.Source != cdplog.EntrySourceNetwork {
				problems = append(problems, fmt.Sprintf("%s: %s (%s)", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL))
			}
		}
	}))
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
	})
	// Start the browser now, with no deadline on this first call: a
	// deadline on it would bound the browser's whole life.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("chromium did not start: %v", err)
	}
	return ctx, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), problems...)
	}
}

// dashDo runs browser steps with a deadline, failing t with what it was
// doing when one fails.
func dashDo(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		dashFail(t, ctx, what, err)
	}
}

func dashRun[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		dashFail(t, ctx, what, err)
	}
	return v
}

// dashFail fails t, with the text of the page to tell what it showed.
func dashFail(t *testing.T, ctx context.Context, what string, err error) {
	t.Helper()
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	text, _ := chromedp.Run(pctx, chromedp.Evaluate[string](`location.hash + "\n" + document.body.innerText`))
	t.Fatalf("%s: %v\npage at failure: %s", what, err, e2eTail(text, 3000))
}

func TestDashboard(t *testing.T) {
	chromium := dashChromium(t)
	db := storetest.SQLite(t)
	dashRates(t, db.URL)
	c := startE2EServer(t, db.URL)

	// An import with a failed record (ChartMogul's documented example has a
	// transaction of type "payments") and one with two years of history.
	ds := c.createDataSource(t, "Billing (dashboard test)")
	seed := c.submitImport(t, ds, e2eSeed(t))
	payload, _, err := gen.Payload(gen.Options{Customers: 60, Seed: 5, Months: 24, ExternalID: "history"})
	if err != nil {
		t.Fatal(err)
	}
	history := c.submitImport(t, ds, payload)
	seedDone := c.waitImport(t, ds, seed.ID)
	if len(seedDone.FailedRecords) == 0 {
		t.Fatalf("the seed import has no failed record to show: %+v", seedDone)
	}
	failure := seedDone.FailedRecords[0]
	if done := c.waitImport(t, ds, history.ID); done.Status != "completed" {
		t.Fatalf("the history import ended %s: %+v", done.Status, done)
	}
	const from, to = "2024-01", "2025-12"
	mrr := dashWaitMRR(t, c, "/v1/metrics/mrr?start-date=2024-01-01&end-date=2025-12-31&interval=month")

	browser, pageErrors := dashBrowser(t, chromium)
	base := c.base
	// Whatever the steps below find, the page must not have thrown or
	// violated its Content-Security-Policy on the way.
	defer func() {
		if errs := pageErrors(); len(errs) > 0 {
			t.Errorf("the page reported errors:\n%s", strings.Join(errs, "\n"))
		}
	}()

	if !t.Run("sign in", func(t *testing.T) {
		dashDo(t, browser, "open the dashboard",
			chromedp.Navigate(base+"/"),
			chromedp.WaitVisible(chromedp.CSS("#api-key")))
		// A wrong key is refused with the API's message, on the page.
		dashDo(t, browser, "sign in with a wrong key",
			chromedp.SendKeys(chromedp.CSS("#api-key"), "rk_not_a_key_0123456789abcdef"),
			chromedp.Click(chromedp.CSS(`#sign-in button[type=submit]`)),
			chromedp.WaitVisible(chromedp.CSS("#sign-in .alert.error")))
		msg := dashRun(t, browser, "read the sign-in error", chromedp.TextContent(chromedp.CSS("#sign-in .alert.error")))
		if !strings.Contains(msg, "No valid API key provided") {
			t.Errorf("sign-in error %q, want the API's message", msg)
		}
		dashScreenshot(t, "sign-in", dashRun(t, browser, "screenshot the sign-in page", chromedp.FullScreenshot(100)))
		dashDo(t, browser, "sign in with the key",
			chromedp.Evaluate[chromedp.Void](`document.querySelector("#api-key").value = ""`),
			chromedp.SendKeys(chromedp.CSS("#api-key"), e2eKey),
			chromedp.Click(chromedp.CSS(`#sign-in button[type=submit]`)),
			chromedp.WaitVisible(chromedp.CSS("#kpis .kpi")))
		if key := dashRun(t, browser, "read sessionStorage", chromedp.Evaluate[string](`sessionStorage.getItem("recur.apiKey")`)); key != e2eKey {
			t.Errorf("sessionStorage holds %q, want the key", key)
		}
	}) {
		return
	}

	if !t.Run("import with errors", func(t *testing.T) {
		dsLink := fmt.Sprintf(`#data-sources a[href="#/data-sources/%s"]`, ds)
		impLink := fmt.Sprintf(`#imports a[href="#/data-sources/%s/imports/%s"]`, ds, seed.ID)
		dashDo(t, browser, "open the import through the data sources",
			chromedp.Click(chromedp.CSS(`a[data-nav="data-sources"]`)),
			chromedp.WaitVisible(chromedp.CSS(dsLink)),
			chromedp.Click(chromedp.CSS(dsLink)),
			chromedp.WaitVisible(chromedp.CSS(impLink)))
		list := dashRun(t, browser, "read the imports", chromedp.TextContent(chromedp.CSS("#imports")))
		if !strings.Contains(list, "ds_import_1") || !strings.Contains(list, "history") || !strings.Contains(list, "completed") {
			t.Errorf("the imports list does not show both imports as completed:\n%s", list)
		}
		dashScreenshot(t, "imports", dashRun(t, browser, "screenshot the imports", chromedp.FullScreenshot(100)))
		dashDo(t, browser, "open the import with errors",
			chromedp.Click(chromedp.CSS(impLink)),
			chromedp.WaitVisible(chromedp.CSS("#failed-records-table")))
		text := dashRun(t, browser, "read the failed records", chromedp.TextContent(chromedp.CSS("#failed-records-table")))
		for _, want := range []string{failure.Message, failure.ExternalID, failure.Field, failure.Type, failure.Customer} {
			if !strings.Contains(text, want) {
				t.Errorf("the failed records table does not show %q:\n%s", want, text)
			}
		}
		counts := dashRun(t, browser, "read the counts", chromedp.TextContent(chromedp.CSS("#counts-table")))
		if !strings.Contains(counts, "Transactions") {
			t.Errorf("the counts table does not list transactions:\n%s", counts)
		}
		warnings := dashRun(t, browser, "read the warnings", chromedp.TextContent(chromedp.CSS("#warnings-table")))
		for _, w := range seedDone.Warnings {
			if !strings.Contains(warnings, w.Message) {
				t.Errorf("the warnings table does not show %q:\n%s", w.Message, warnings)
			}
		}
		dashScreenshot(t, "import", dashRun(t, browser, "screenshot the import", chromedp.FullScreenshot(100)))
	}) {
		return
	}

	if !t.Run("MRR chart", func(t *testing.T) {
		// The overview opens on the last twelve months; the period form
		// asks for the two years of the generated history, and the test
		// waits for the chart of that period (one dot per month).
		dashDo(t, browser, "open the overview for 2024–2025",
			chromedp.Click(chromedp.CSS(`a[data-nav="overview"]`)),
			chromedp.WaitVisible(chromedp.CSS("#range-from")),
			chromedp.SetValue(chromedp.CSS("#range-from"), from),
			chromedp.SetValue(chromedp.CSS("#range-to"), to),
			chromedp.Click(chromedp.CSS(`#range button[type=submit]`)),
			chromedp.Poll[chromedp.Void](fmt.Sprintf(`location.hash.includes("from=%s") && document.querySelectorAll("#mrr-chart .dots circle").length === %d`, from, len(mrr.Entries))),
			chromedp.WaitVisible(chromedp.CSS(`#mrr-chart path.line`)),
			chromedp.WaitVisible(chromedp.CSS(`#movements-chart rect.bar`)))
		var drawn struct {
			Points   int    `json:"points"`
			Dots     int    `json:"dots"`
			Bars     int    `json:"bars"`
			Labels   int    `json:"labels"`
			KPIs     string `json:"kpis"`
			FromShow string `json:"from"`
		}
		raw := dashRun(t, browser, "measure the charts", chromedp.Evaluate[[]byte](`(() => {
			const line = document.querySelector('#mrr-chart path.line').getAttribute('d');
			return {
				points: line.split('L').length,
				dots: document.querySelectorAll('#mrr-chart .dots circle').length,
				bars: [...document.querySelectorAll('#movements-chart rect.bar')].filter((r) => Number(r.getAttribute('height')) > 0).length,
				labels: document.querySelectorAll('#mrr-chart .x-label').length,
				kpis: document.querySelector('#kpis').textContent,
				from: document.querySelector('#range-from').value,
			};
		})()`))
		if err := json.Unmarshal(raw, &drawn); err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		if drawn.Points != len(mrr.Entries) || drawn.Dots != len(mrr.Entries) {
			t.Errorf("the MRR line has %d points and %d dots, want one per entry of /v1/metrics/mrr (%d)", drawn.Points, drawn.Dots, len(mrr.Entries))
		}
		bars := 0
		for _, e := range mrr.Entries {
			for _, v := range []int64{e.NewBusiness, e.Expansion, e.Contraction, e.Churn, e.Reactivation} {
				if v != 0 {
					bars++
				}
			}
		}
		if drawn.Bars != bars || bars == 0 {
			t.Errorf("the movements chart has %d bars, want one per non-zero movement (%d)", drawn.Bars, bars)
		}
		if drawn.Labels == 0 || drawn.FromShow != from {
			t.Errorf("axis labels %d, period from %q; want labels and the period asked for", drawn.Labels, drawn.FromShow)
		}
		if !strings.Contains(drawn.KPIs, "MRR") || !strings.Contains(drawn.KPIs, "Customers") {
			t.Errorf("the key figures read %q", drawn.KPIs)
		}
		// Point at the middle of the chart so that the screenshot shows
		// the tooltip.
		box := dashRun(t, browser, "locate the chart", chromedp.Evaluate[[]float64](`(() => {
			const r = document.querySelector('#mrr-chart').getBoundingClientRect();
			return [r.left + r.width * 0.62, r.top + r.height * 0.5];
		})()`))
		dashDo(t, browser, "hover the chart",
			chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, box[0], box[1]),
			chromedp.WaitVisible(chromedp.CSS(".chart-box .tooltip")))
		dashScreenshot(t, "overview", dashRun(t, browser, "screenshot the overview", chromedp.FullScreenshot(100)))
	}) {
		return
	}

	if !t.Run("customer", func(t *testing.T) {
		const ext = "cus_000004"
		dashDo(t, browser, "open the customers",
			chromedp.Click(chromedp.CSS(`a[data-nav="customers"]`)),
			chromedp.WaitVisible(chromedp.CSS("#customers")))
		dashScreenshot(t, "customers", dashRun(t, browser, "screenshot the customers", chromedp.FullScreenshot(100)))
		dashDo(t, browser, "search the customer",
			chromedp.SendKeys(chromedp.CSS("#customer-q"), ext),
			chromedp.Click(chromedp.CSS(`#customer-search button[type=submit]`)),
			chromedp.WaitVisible(chromedp.CSS(`#customers a[href^="#/customers/cus_"]`)))
		found := dashRun(t, browser, "read the search result", chromedp.TextContent(chromedp.CSS("#customers tbody")))
		if !strings.Contains(found, ext) {
			t.Errorf("searching %s found %q", ext, found)
		}
		dashDo(t, browser, "open the customer",
			chromedp.Click(chromedp.CSS(`#customers a[href^="#/customers/cus_"]`)),
			chromedp.WaitVisible(chromedp.CSS("#subscriptions-table")),
			chromedp.WaitVisible(chromedp.CSS("#activities-table")))
		subs := dashRun(t, browser, "read the subscriptions", chromedp.TextContent(chromedp.CSS("#subscriptions-table")))
		if !strings.Contains(subs, "sub_") {
			t.Errorf("the subscriptions table shows no subscription:\n%s", subs)
		}
		acts := dashRun(t, browser, "read the movements", chromedp.TextContent(chromedp.CSS("#activities-table")))
		if !strings.Contains(acts, "new business") {
			t.Errorf("the movements table shows no new business:\n%s", acts)
		}
		dashScreenshot(t, "customer", dashRun(t, browser, "screenshot the customer", chromedp.FullScreenshot(100)))

		// The API's chartmogul-url of a customer opens its page here.
		list := e2eGet[struct {
			Entries []struct {
				UUID string `json:"uuid"`
				URL  string `json:"chartmogul-url"`
			} `json:"entries"`
		}](t, c, "/v1/customers?external_id="+ext)
		if len(list.Entries) != 1 || !strings.HasPrefix(list.Entries[0].URL, base+"/#/customers/") {
			t.Fatalf("GET /v1/customers?external_id=%s: %+v, want one customer linking to the dashboard", ext, list.Entries)
		}
		dashDo(t, browser, "follow the customer's chartmogul-url",
			chromedp.Evaluate[chromedp.Void](`location.hash = "#/"`),
			chromedp.WaitVisible(chromedp.CSS("#range-from")),
			chromedp.Evaluate[chromedp.Void](fmt.Sprintf("location.href = %q", list.Entries[0].URL)),
			chromedp.Poll[chromedp.Void](fmt.Sprintf("location.hash === %q", "#/customers/"+list.Entries[0].UUID)),
			chromedp.WaitVisible(chromedp.CSS("#subscriptions-table")))
	}) {
		return
	}

	if !t.Run("live status", func(t *testing.T) {
		// The data source's list shows an import that arrives while it is
		// open, and follows it to completed.
		dashDo(t, browser, "open the data source",
			chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`location.hash = "#/data-sources/%s"`, ds)),
			chromedp.WaitVisible(chromedp.CSS("#imports")))
		more, _, err := gen.Payload(gen.Options{Customers: 300, FirstCustomer: 1000, Seed: 6, ExternalID: "live-list"})
		if err != nil {
			t.Fatal(err)
		}
		imp := c.submitImport(t, ds, more)
		row := fmt.Sprintf(`#imports tr[data-import="%s"]`, imp.ID)
		dashDo(t, browser, "see the new import arrive and complete",
			chromedp.WaitVisible(chromedp.CSS(row)),
			chromedp.WaitVisible(chromedp.CSS(row+" .badge.st-completed")))

		// An import's page opened while it runs follows it too.
		more, _, err = gen.Payload(gen.Options{Customers: 300, FirstCustomer: 2000, Seed: 7, ExternalID: "live-page"})
		if err != nil {
			t.Fatal(err)
		}
		imp = c.submitImport(t, ds, more)
		dashDo(t, browser, "open the running import",
			chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`location.hash = "#/data-sources/%s/imports/%s"`, ds, imp.ID)),
			chromedp.WaitVisible(chromedp.CSS("h1 .badge")))
		first := dashRun(t, browser, "read the first status", chromedp.TextContent(chromedp.CSS("h1 .badge")))
		dashDo(t, browser, "see the import complete",
			chromedp.WaitVisible(chromedp.CSS("h1 .badge.st-completed")),
			chromedp.WaitVisible(chromedp.CSS("#failed-records-table")))
		t.Logf("the import's page opened with status %q and followed it to completed", first)
	}) {
		return
	}

	t.Run("API errors are messages", func(t *testing.T) {
		dashDo(t, browser, "open a customer that does not exist",
			chromedp.Evaluate[chromedp.Void](`location.hash = "#/customers/cus_00000000-0000-0000-0000-000000000000"`),
			chromedp.WaitVisible(chromedp.CSS("#view .alert.error")))
		msg := dashRun(t, browser, "read the error", chromedp.TextContent(chromedp.CSS("#view .alert.error")))
		if !strings.Contains(msg, "Customer not found") || !strings.Contains(msg, "404") {
			t.Errorf("the page shows %q, want the API's 404 message", msg)
		}
		dashScreenshot(t, "error", dashRun(t, browser, "screenshot the error", chromedp.FullScreenshot(100)))
		// A key the API stops accepting sends the tab back to sign-in.
		dashDo(t, browser, "use a key the API refuses",
			chromedp.Evaluate[chromedp.Void](`sessionStorage.setItem("recur.apiKey", "rk_revoked_0123456789abcdefghij"); location.hash = "#/customers"`),
			chromedp.WaitVisible(chromedp.CSS("#api-key")),
			chromedp.WaitVisible(chromedp.CSS("#sign-in .alert.error")))
		notice := dashRun(t, browser, "read the notice", chromedp.TextContent(chromedp.CSS("#sign-in .alert.error")))
		if !strings.Contains(notice, "401") {
			t.Errorf("the sign-in page says %q, want it to name the 401", notice)
		}
		if key := dashRun(t, browser, "read sessionStorage", chromedp.Evaluate[*string](`sessionStorage.getItem("recur.apiKey")`)); key != nil {
			t.Errorf("the refused key is still stored: %q", *key)
		}
	})

}

// dashMRR is the answer of /v1/metrics/mrr.
type dashMRR struct {
	Entries []struct {
		Date         string `json:"date"`
		MRR          int64  `json:"mrr"`
		NewBusiness  int64  `json:"mrr-new-business"`
		Expansion    int64  `json:"mrr-expansion"`
		Contraction  int64  `json:"mrr-contraction"`
		Churn        int64  `json:"mrr-churn"`
		Reactivation int64  `json:"mrr-reactivation"`
	} `json:"entries"`
}

// dashWaitMRR waits until the analytics of the imported customers are
// computed (they are recomputed after the import, in a job of their own)
// and returns the MRR series the chart must show.
func dashWaitMRR(t *testing.T, c *e2eClient, path string) dashMRR {
	t.Helper()
	deadline := time.Now().Add(e2eImportDeadline)
	var last, prev *e2eResponse
	for time.Now().Before(deadline) {
		r := c.do(t, "GET", path, nil)
		if r.status == 200 && prev != nil && prev.status == 200 && bytes.Equal(r.body, prev.body) {
			m := e2eDecode[dashMRR](t, r)
			if len(m.Entries) == 24 && m.Entries[23].MRR > 0 {
				return m
			}
		}
		prev, last = r, r
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("the MRR series did not settle within %s; last answer %s", e2eImportDeadline, last)
	return dashMRR{}
}
