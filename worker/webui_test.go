package main

// The Temporal Web UI in a real browser: a dev server of the test's own,
// with its Web UI, a worker on it, and Debian's chromium, headless, driven
// through the DevTools protocol by chromedp. The test does what the README
// tells a user to do ("From the Temporal Web UI"): Start Workflow, type
// SyncWorkflow, the worker's task queue, the id sync/<data source> and the
// input {}; then it reads in the UI that the sync completed, with its
// summary and current details, and opens one customer's workflow to find
// its import id. Screenshots are kept as artefacts.

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/recurhq/recur/workflows"
)

// webUIChromiumPath is where Debian's chromium package installs the browser.
const webUIChromiumPath = "/usr/bin/chromium"

// webUIChromium returns the browser's path, or skips t when it is missing —
// unless RECUR_REQUIRE_CHROMIUM is set, as in CI, where a missing browser
// fails the test rather than silently skipping it.
func webUIChromium(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat(webUIChromiumPath); err != nil {
		if os.Getenv("RECUR_REQUIRE_CHROMIUM") != "" {
			t.Fatalf("RECUR_REQUIRE_CHROMIUM is set but %s is missing (%v); install Debian's chromium package (apt-get install -y chromium)", webUIChromiumPath, err)
		}
		t.Skipf("%s is missing: the Web UI test needs Debian's chromium package (apt-get install -y chromium); set RECUR_REQUIRE_CHROMIUM=1 to make this a failure", webUIChromiumPath)
	}
	return webUIChromiumPath
}

// webUIFreePort returns a TCP port free on 127.0.0.1 a moment ago.
func webUIFreePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// webUIDevServer starts a Temporal dev server with its Web UI for t, with
// Recur's search attributes registered as the worker's embedded one does
// (startDevServer), and returns its frontend address and UI base URL.
func webUIDevServer(t *testing.T) (frontend, ui string) {
	t.Helper()
	cli := testTemporalCLI()
	if cli == "" {
		t.Fatal("no Temporal CLI: `go install github.com/temporalio/cli/cmd/temporal@v1.5.1`, or set TEMPORAL_CLI")
	}
	uiPort := webUIFreePort(t)
	out := &syncBuffer{}
	dev, err := testsuite.StartDevServer(context.Background(), testsuite.DevServerOptions{
		ExistingPath: cli,
		ClientOptions: &client.Options{
			HostPort:  "127.0.0.1:" + strconv.Itoa(webUIFreePort(t)),
			Namespace: "default",
			Logger:    sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler)),
		},
		EnableUI: true,
		UIPort:   strconv.Itoa(uiPort),
		LogLevel: "error",
		SearchAttributes: temporal.NewSearchAttributes(workflows.DataSourceAttr.ValueSet(""),
			workflows.CustomerAttr.ValueSet(""), workflows.OutcomeAttr.ValueSet("")),
		ExtraArgs: devServerPragmas,
		Stdout:    out, Stderr: out,
	})
	if err != nil {
		t.Fatalf("the Temporal dev server with its Web UI did not start: %v\n%s", err, tail(out.String(), 3000))
	}
	t.Cleanup(func() {
		_ = dev.Stop()
		if t.Failed() {
			t.Logf("dev server output:\n%s", tail(out.String(), 3000))
		}
	})
	return dev.FrontendHostPort(), fmt.Sprintf("http://127.0.0.1:%d", uiPort)
}

// webUIStepTimeout bounds one browser step: the UI's first load and its API
// calls share two cores with the dev server, the worker and the browser.
const webUIStepTimeout = 90 * time.Second

// webUIPage is the browser's tab on the Web UI.
type webUIPage struct {
	t    *testing.T
	ctx  context.Context
	base string
}

// webUIBrowser starts a headless chromium with a fresh profile and a
// 1280×900 viewport, and returns its tab.
func webUIBrowser(t *testing.T, path, base string) *webUIPage {
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
		chromedp.WindowSize(1280, 900),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
	})
	// Start the browser now, with no deadline on this first call: a
	// deadline on it would bound the browser's whole life.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("chromium did not start: %v", err)
	}
	p := &webUIPage{t: t, ctx: ctx, base: base}
	p.do("set the viewport to 1280×900", chromedp.EmulateViewport(1280, 900))
	return p
}

// do runs browser steps; when one fails, the test fails saying what the
// user would not have seen.
func (p *webUIPage) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, webUIStepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		p.fail("%s: %v", what, err)
	}
}

// try runs browser steps with a timeout and reports whether they succeeded.
func (p *webUIPage) try(timeout time.Duration, steps ...chromedp.Action[chromedp.Void]) error {
	ctx, cancel := context.WithTimeout(p.ctx, timeout)
	defer cancel()
	return chromedp.Do(ctx, steps...)
}

func webUIRun[T any](p *webUIPage, what string, a chromedp.Action[T]) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, webUIStepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		p.fail("%s: %v", what, err)
	}
	return v
}

// text is the page's address and visible text, for failure messages.
func (p *webUIPage) text() string {
	ctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href + "\n" + document.body.innerText`))
	if err != nil {
		return fmt.Sprintf("(the page's text could not be read: %v)", err)
	}
	return s
}

// fail saves a screenshot and the text of the page as it was, and fails
// the test with msg and the end of that text.
func (p *webUIPage) fail(format string, args ...any) {
	p.t.Helper()
	msg := fmt.Sprintf(format, args...)
	text := p.text()
	webUISave(p.t, "failure.txt", []byte(msg+"\n\n"+text))
	ctx, cancel := context.WithTimeout(p.ctx, 20*time.Second)
	defer cancel()
	if png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)); err == nil {
		webUISave(p.t, "failure.png", png)
	}
	p.t.Fatalf("%s\npage at failure: %s", msg, tail(text, 3000))
}

// webUISave writes a file of the test's output to its artefact directory
// (kept with go test -artifacts) and, when RECUR_WEBUI_SCREENSHOTS names a
// directory, there too.
func webUISave(t *testing.T, name string, data []byte) {
	t.Helper()
	dirs := []string{t.ArtifactDir()}
	if d := os.Getenv("RECUR_WEBUI_SCREENSHOTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		dirs = append(dirs, d)
	}
	for _, d := range dirs {
		path := filepath.Join(d, "webui-"+name)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("saved %s (%d bytes)", path, len(data))
	}
}

// webUIContentHeight measures the page's content: the Web UI scrolls an
// inner element, not the document, so a screenshot of the document alone
// shows only the viewport.
const webUIContentHeight = `(() => {
	let h = document.documentElement.scrollHeight;
	for (const e of document.querySelectorAll('body *')) {
		const oy = getComputedStyle(e).overflowY;
		if ((oy === 'auto' || oy === 'scroll') && e.clientHeight > window.innerHeight / 2 && e.scrollHeight > e.clientHeight) {
			h = Math.max(h, e.getBoundingClientRect().top + e.scrollHeight);
		}
	}
	return Math.ceil(h);
})()`

// screenshot saves a PNG of the page: its whole content (up to maxHeight
// pixels) when maxHeight is over 900, the 1280×900 viewport otherwise.
func (p *webUIPage) screenshot(name string, maxHeight int64) {
	p.t.Helper()
	if maxHeight > 900 {
		h := min(max(webUIRun(p, "measure the page", chromedp.Evaluate[int64](webUIContentHeight)), 900), maxHeight)
		p.do("enlarge the viewport to the page's content",
			chromedp.EmulateViewport(1280, h),
			chromedp.Poll[chromedp.Void](fmt.Sprintf("window.innerHeight === %d", h)))
		defer p.do("restore the viewport", chromedp.EmulateViewport(1280, 900),
			chromedp.Poll[chromedp.Void]("window.innerHeight === 900"))
	}
	// The pointer is moved out of the way, to the right margin (it rests
	// where the last click was, and what it hovers is highlighted), and two
	// animation frames pass: the layout of the new size is painted.
	p.do("let the page settle",
		chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, 1276, 450),
		chromedp.Evaluate[chromedp.Void](`new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))`, chromedp.EvalAwaitPromise))
	webUISave(p.t, name, webUIRun(p, "take a screenshot of "+name, chromedp.FullScreenshot(100)))
}

// fill types value into the Start Workflow form's field name. The form
// copies a field into the page's address (?workflowId=…&taskQueue=…) when
// the field loses focus, then sets every field back from the address: keys
// typed into the next field meanwhile are lost. So each field is typed,
// left, and awaited in the address, and typed again if it was lost.
func (p *webUIPage) fill(name, value string) {
	p.t.Helper()
	field := `[data-testid=` + name + `]`
	done := fmt.Sprintf(`(() => {
		const f = document.querySelector(%q);
		return !!f && f.value === %q && new URL(location.href).searchParams.get(%q) === %q;
	})()`, field, value, name, value)
	for attempt := 1; ; attempt++ {
		p.do("the Start Workflow form has no field "+name,
			chromedp.WaitVisible(chromedp.CSS(field)),
			chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`document.querySelector(%q).select()`, field)),
			chromedp.SendKeys(chromedp.CSS(field), value),
			chromedp.Blur(chromedp.CSS(field)))
		if p.try(10*time.Second, chromedp.Poll[chromedp.Void](done, chromedp.WithPollingInterval(100*time.Millisecond))) == nil {
			return
		}
		if attempt == 3 {
			got := webUIRun(p, "read the field "+name, chromedp.Evaluate[string](fmt.Sprintf(`document.querySelector(%q).value`, field)))
			p.fail("the Start Workflow form's %s field shows %q after typing %q three times", name, got, value)
		}
	}
}

// webUIStatus reads the status badge of a workflow's page (Running,
// Completed, Failed, …): the badge beside the workflow id's heading.
const webUIStatus = `(() => {
	const h = document.querySelector('[data-testid=workflow-id-heading]');
	const header = h && h.closest('header');
	const badge = header && header.querySelector('span.rounded-sm');
	return badge ? badge.textContent.trim() : '';
})()`

// waitCompleted waits until the workflow page of id shows the status
// Completed, reloading it now and then, and fails with the last status the
// user would have seen otherwise.
func (p *webUIPage) waitCompleted(what, id string, timeout time.Duration) {
	p.t.Helper()
	page := p.base + "/namespaces/default/workflows/" + url.PathEscape(id)
	deadline := time.Now().Add(timeout)
	last := ""
	for {
		_ = p.try(15*time.Second, chromedp.Poll[chromedp.Void](webUIStatus+` === "Completed"`, chromedp.WithPollingInterval(250*time.Millisecond), chromedp.WithPollingTimeout(0)))
		ctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
		status, err := chromedp.Run(ctx, chromedp.Evaluate[string](webUIStatus))
		cancel()
		if err == nil {
			last = status
		}
		switch last {
		case "Completed":
			return
		case "Failed", "Terminated", "Canceled", "Timed Out", "TimedOut":
			p.fail("the UI shows %s %s, not completed", what, last)
		}
		if time.Now().After(deadline) {
			p.fail("the UI never showed %s completed within %s; last status text: %q", what, timeout, last)
		}
		// The page of a workflow without the id's latest run, or one that
		// stopped refreshing: open the id again (the UI resolves its latest
		// run).
		_ = p.try(webUIStepTimeout, chromedp.Navigate(page), chromedp.WaitVisible(chromedp.CSS(`[data-testid=workflow-id-heading]`)))
	}
}

// TestWebUIRunsASync starts a sync from the Temporal Web UI's Start Workflow
// form, as the README says, and follows it in the UI to its end and into one
// customer's workflow.
func TestWebUIRunsASync(t *testing.T) {
	chromium := webUIChromium(t)
	e2e(t) // skips without Temporal or PostgreSQL, as every end-to-end test
	frontend, base := webUIDevServer(t)
	w := startWorker(t, func(c *config) { c.temporalAddress = frontend })
	st := w.demo(20)
	ds, queue := w.cfg.dataSource, w.cfg.taskQueue
	syncID := workflows.SyncID(ds)
	workflowsPage := "/namespaces/default/workflows"
	syncLink := fmt.Sprintf(`a[href^="%s/%s/"]`, workflowsPage, url.PathEscape(syncID))
	t.Logf("Web UI at %s; worker on task queue %s, data source %s", base, queue, ds)

	// What the Temporal client says of the sync, once it has ended.
	type ended struct {
		sum workflows.SyncSummary
		err error
	}
	clientSaw := make(chan ended, 1)
	var began time.Time

	p := webUIBrowser(t, chromium, base)

	// Start Workflow, as the README says.
	{
		start := `a[href^="` + workflowsPage + `/start-workflow"]`
		p.do("the workflows page has no Start Workflow button (is the UI's start workflow disabled?)",
			chromedp.Navigate(base+workflowsPage),
			chromedp.WaitVisible(chromedp.CSS(start)),
			chromedp.Click(chromedp.CSS(start)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid=workflowId]`)))
		p.fill("workflowId", syncID)
		p.fill("taskQueue", queue)
		// The form looks the task queue up and shows its workers.
		p.do("the form never said the task queue "+queue+" is active with the worker",
			chromedp.WaitVisible(chromedp.CSS(`a[href="/namespaces/default/task-queues/`+queue+`"]`)))
		p.fill("workflowType", workflows.SyncWorkflowName)
		// The input is a CodeMirror editor, not a field: it is typed into
		// with keys. It closes brackets itself: "{" makes "{}" and the "}"
		// typed next steps over the closing one.
		p.do("the form's input editor does not take keys",
			chromedp.Click(chromedp.CSS(`.cm-content[contenteditable=true]`)),
			chromedp.KeyEvent("{}"))
		if err := p.try(10*time.Second, chromedp.Poll[chromedp.Void](`document.querySelector('.cm-content[contenteditable=true]').textContent === "{}"`)); err != nil {
			got := webUIRun(p, "read the input editor", chromedp.Evaluate[string](`document.querySelector('.cm-content[contenteditable=true]').textContent`))
			p.fail("the form's input editor shows %q after typing {}, not {}", got)
		}
		p.screenshot("1-start-workflow.png", 1600)
		p.do("the form's Start Workflow button never became enabled",
			chromedp.WaitEnabled(chromedp.CSS(`[data-testid=start-workflow-button]`)),
			chromedp.Click(chromedp.CSS(`[data-testid=start-workflow-button]`)))
		// The answer is a toast: a link to the new run, or the error.
		toast := webUIRun(p, "the UI said nothing after Start Workflow", chromedp.Poll[string](
			`(() => { const l = document.querySelector('[role=log]'); return l && l.innerText.trim(); })()`,
			chromedp.WithPollingTimeout(webUIStepTimeout-5*time.Second)))
		if !strings.Contains(toast, "Workflow started successfully") {
			p.fail("the UI did not start the sync; it said %q", toast)
		}
		began = time.Now()
		// Closed, so that it is not in the screenshots.
		p.do("the toast cannot be closed",
			chromedp.Click(chromedp.CSS(`[role=log] button[aria-label=Close]`)),
			chromedp.WaitNotPresent(chromedp.CSS(`[role=log] button[aria-label=Close]`)))
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			var e ended
			e.err = w.r.temporal.GetWorkflow(ctx, syncID, "").Get(ctx, &e.sum)
			clientSaw <- e
		}()
	}

	// The sync in the list, then its page, until it shows Completed.
	{
		// Back to the list, where the sync appears; the list does not
		// refresh itself at once, so it is reloaded until it does.
		p.do("the form has no way back to the workflows",
			chromedp.Click(chromedp.CSS(`[data-testid=back-to-workflows]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid=workflow-count]`)))
		for attempt := 0; ; attempt++ {
			if p.try(10*time.Second, chromedp.WaitVisible(chromedp.CSS(syncLink))) == nil {
				break
			}
			if attempt == 12 {
				p.fail("the workflows list never showed the sync %s", syncID)
			}
			p.do("reload the workflows", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`[data-testid=workflow-count]`)))
		}
		p.do("the sync's row does not open its page",
			chromedp.Click(chromedp.CSS(syncLink)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid=workflow-id-heading]`)))
		p.waitCompleted("the sync", syncID, 5*time.Minute)
		t.Logf("the UI showed the sync completed %s after it said it started it", time.Since(began).Round(time.Millisecond))

		select {
		case e := <-clientSaw:
			if e.err != nil {
				t.Fatalf("the UI shows the sync completed but the client says it failed: %v", e.err)
			}
			if e.sum.Customers != st.Customers || e.sum.RecordsFailed != 0 || e.sum.CustomersFailed != 0 {
				t.Errorf("the sync's result: customers %d (failed %d), records_failed %d; want %d customers, none failed",
					e.sum.Customers, e.sum.CustomersFailed, e.sum.RecordsFailed, st.Customers)
			}
		case <-time.After(time.Minute):
			t.Fatal("the UI shows the sync completed but the Temporal client did not get its result within a minute")
		}

		// The result panel shows the summary.
		result := `[data-testid=input-and-result]`
		for _, want := range []string{fmt.Sprintf(`"customers": %d`, st.Customers), `"records_failed": 0`, `"outcome": "imported"`} {
			js := fmt.Sprintf(`(() => { const r = document.querySelector(%q); return !!r && r.innerText.includes(%q); })()`, result, want)
			if err := p.try(30*time.Second, chromedp.Poll[chromedp.Void](js)); err != nil {
				p.fail("the completed sync's page does not show %s in its result", want)
			}
		}
		input := webUIRun(p, "read the sync's input", chromedp.Evaluate[string](`document.querySelector('[data-testid=input-and-result]').innerText`))
		if !strings.Contains(input, "Input\n{}") {
			t.Errorf("the sync's page does not show the input {} typed in the form:\n%s", input)
		}
		p.screenshot("2-sync.png", 900)
		p.screenshot("2-sync-full.png", 2400)

		// The User Metadata tab shows the sync's current details (markdown
		// the UI renders in an iframe, from the metadata query the worker
		// answers).
		p.do("the sync's page has no User Metadata tab",
			chromedp.Click(chromedp.CSS(`[data-testid=user-metadata-tab]`)))
		details := `(() => {
			const f = document.querySelector('iframe[title=output]');
			const b = f && f.contentDocument && f.contentDocument.body;
			return b ? b.innerText : '';
		})()`
		if err := p.try(60*time.Second, chromedp.Poll[chromedp.Void](details+fmt.Sprintf(`.includes("customers done: %d")`, st.Customers), chromedp.WithPollingInterval(250*time.Millisecond))); err != nil {
			got := webUIRun(p, "read the current details", chromedp.Evaluate[string](details))
			p.fail("the sync's current details never said \"customers done: %d\"; they read %q", st.Customers, got)
		}
		p.screenshot("3-sync-current-details.png", 900)
	}

	// The list: the sync and one workflow per customer, all completed.
	{
		row := `[data-testid=workflows-summary-configurable-table-row]`
		want := fmt.Sprintf(`(() => {
			const rows = [...document.querySelectorAll(%q)];
			const sync = rows.find((r) => r.querySelector(%q));
			return rows.length === %d && !!sync && sync.innerText.includes("Completed") && rows.every((r) => r.innerText.includes("Completed"));
		})()`, row, syncLink, st.Customers+1)
		for attempt := 0; ; attempt++ {
			p.do("open the workflows", chromedp.Navigate(base+workflowsPage), chromedp.WaitVisible(chromedp.CSS(`[data-testid=workflow-count]`)))
			if p.try(15*time.Second, chromedp.Poll[chromedp.Void](want, chromedp.WithPollingInterval(250*time.Millisecond))) == nil {
				break
			}
			if attempt == 8 {
				p.fail("the workflows list never showed the sync and its %d customer workflows completed", st.Customers)
			}
		}
		p.screenshot("4-workflows.png", 2400)
	}

	// One customer's workflow, opened from the list, and its import id.
	{
		var customer string
		if err := w.h.db.Get(&customer, "SELECT external_id FROM "+w.source+".customers ORDER BY external_id LIMIT 1"); err != nil {
			t.Fatal(err)
		}
		customerID := workflows.CustomerID(ds, customer)
		var res workflows.CustomerResult
		if err := w.r.temporal.GetWorkflow(context.Background(), customerID, "").Get(context.Background(), &res); err != nil {
			t.Fatalf("the customer workflow %s: %v", customerID, err)
		}
		if len(res.Imports) == 0 || res.Imports[0].ID == "" {
			raw, _ := json.Marshal(res)
			t.Fatalf("the customer workflow %s has no import id in its result: %s", customerID, raw)
		}
		importID := res.Imports[0].ID

		link := fmt.Sprintf(`a[href^="%s/%s/"]`, workflowsPage, url.PathEscape(customerID))
		p.do("the workflows list has no row for "+customerID,
			chromedp.WaitVisible(chromedp.CSS(link)),
			chromedp.Click(chromedp.CSS(link)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid=workflow-id-heading]`)))
		p.waitCompleted("the customer's workflow", customerID, time.Minute)
		// The import id is in the result, and in the summary of the Poll
		// step in the event history, whose row opens to show the step's
		// details.
		inResult := fmt.Sprintf(`(() => { const r = document.querySelector('[data-testid=input-and-result]'); return !!r && r.innerText.includes(%q); })()`, importID)
		if err := p.try(30*time.Second, chromedp.Poll[chromedp.Void](inResult, chromedp.WithPollingInterval(250*time.Millisecond))); err != nil {
			p.fail("the customer's page does not show its import id %s in its result", importID)
		}
		pollRow := fmt.Sprintf(`(() => {
			const row = [...document.querySelectorAll('tr[data-testid=event-summary-row]')].find((r) => r.innerText.includes(%q));
			return row ? row.dataset.eventid : '';
		})()`, "Poll import "+importID)
		event := webUIRun(p, "the customer's event history does not show the step \"Poll import "+importID+"\"",
			chromedp.Poll[string](pollRow, chromedp.WithPollingInterval(250*time.Millisecond), chromedp.WithPollingTimeout(30*time.Second)))
		rowSel := `tr[data-testid=event-summary-row][data-eventid="` + event + `"]`
		p.do("the Poll step's row in the event history does not open",
			chromedp.ScrollIntoView(chromedp.CSS(rowSel)),
			chromedp.Click(chromedp.CSS(rowSel)),
			chromedp.Poll[chromedp.Void](fmt.Sprintf(`document.querySelector(%q).nextElementSibling?.innerText.includes(%q)`, rowSel, importID)))
		// The result view is a CodeMirror editor that scrolls by itself:
		// it is scrolled to the import id's line for the screenshot.
		p.do("scroll the result to the import id",
			chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => {
				const r = document.querySelector('[data-testid=input-and-result]');
				const line = [...r.querySelectorAll('.cm-line')].find((l) => l.textContent.includes(%q));
				const scroller = line.closest('.cm-scroller');
				scroller.scrollTop += line.getBoundingClientRect().top - scroller.getBoundingClientRect().top - scroller.clientHeight / 2;
				for (let e = document.querySelector('[data-testid=workflow-id-heading]'); e; e = e.parentElement) e.scrollTop = 0;
				window.scrollTo(0, 0);
			})()`, importID)))
		p.screenshot("5-customer.png", 2400)
		t.Logf("the UI shows customer %s's import %s", customer, importID)
	}
}
