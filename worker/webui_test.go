package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/recurhq/recur/workflows"
)

func webUIFreePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func TestWebUIRunsASync(t *testing.T) {
	e2e(t)
	cli := testTemporalCLI()
	uiPort := webUIFreePort(t)
	devOut := &syncBuffer{}
	dev, err := testsuite.StartDevServer(context.Background(), testsuite.DevServerOptions{
		ExistingPath: cli,
		ClientOptions: &client.Options{HostPort: "127.0.0.1:" + strconv.Itoa(webUIFreePort(t)),
			Logger: sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler))},
		EnableUI: true,
		UIPort:   strconv.Itoa(uiPort),
		LogLevel: "error",
		SearchAttributes: temporal.NewSearchAttributes(workflows.DataSourceAttr.ValueSet(""),
			workflows.CustomerAttr.ValueSet(""), workflows.OutcomeAttr.ValueSet("")),
		ExtraArgs: devServerPragmas,
		Stdout:    devOut, Stderr: devOut,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = dev.Stop() })
	w := startWorker(t, func(c *config) { c.temporalAddress = dev.FrontendHostPort() })
	w.demo(20)
	base := "http://127.0.0.1:" + strconv.Itoa(uiPort)
	t.Logf("UI %s task queue %s ds %s", base, w.cfg.taskQueue, w.cfg.dataSource)

	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath("/usr/bin/chromium"), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-dev-shm-usage", true), chromedp.Flag("disable-extensions", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900),
	}
	a, c1 := chromedp.NewExecAllocator(context.Background(), opts...)
	defer c1()
	ctx, c2 := chromedp.NewContext(a)
	defer c2()
	if err := chromedp.Do(ctx); err != nil {
		t.Fatal(err)
	}
	dump := func(name string) {
		tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		html, err := chromedp.Run(tctx, chromedp.OuterHTML(chromedp.CSS("body")))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile("/tmp/explore/"+name+".html", []byte(html), 0o644)
		txt, _ := chromedp.Run(tctx, chromedp.Evaluate[string](`location.href + "\n" + document.body.innerText`))
		os.WriteFile("/tmp/explore/"+name+".txt", []byte(txt), 0o644)
		png, _ := chromedp.Run(tctx, chromedp.FullScreenshot(100))
		os.WriteFile("/tmp/explore/"+name+".png", png, 0o644)
	}
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		tctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		if err := chromedp.Do(tctx, steps...); err != nil {
			dump("fail")
			t.Fatalf("%s: %v", what, err)
		}
	}
	id := workflows.SyncID(w.cfg.dataSource)
	do("list", chromedp.Navigate(base+"/namespaces/default/workflows"),
		chromedp.WaitVisible(chromedp.CSS(`a[href^="/namespaces/default/workflows/start-workflow"]`)),
		chromedp.Click(chromedp.CSS(`a[href^="/namespaces/default/workflows/start-workflow"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=workflowId]`)),
		chromedp.SendKeys(chromedp.CSS(`[data-testid=workflowId]`), id),
		chromedp.SendKeys(chromedp.CSS(`[data-testid=taskQueue]`), w.cfg.taskQueue),
		chromedp.Sleep(3*time.Second))
	dump("form1")
	do("type", chromedp.SendKeys(chromedp.CSS(`[data-testid=workflowType]`), workflows.SyncWorkflowName),
		chromedp.Click(chromedp.CSS(`.cm-content`)),
		chromedp.KeyEvent("{}"),
		chromedp.Sleep(2*time.Second))
	dump("form2")
	do("start", chromedp.Click(chromedp.CSS(`[data-testid=start-workflow-button]`)), chromedp.Sleep(5*time.Second))
	dump("after-start")
	var sum workflows.SyncSummary
	if err := w.r.temporal.GetWorkflow(context.Background(), id, "").Get(context.Background(), &sum); err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", sum)
	do("wf", chromedp.Navigate(base+"/namespaces/default/workflows/"+url.PathEscape(id)), chromedp.Sleep(8*time.Second))
	dump("wf")
	do("list2", chromedp.Navigate(base+"/namespaces/default/workflows"), chromedp.Sleep(8*time.Second))
	dump("list2")
	var cust string
	if err := w.h.db.Get(&cust, "SELECT external_id FROM "+w.source+".customers ORDER BY external_id LIMIT 1"); err != nil {
		t.Fatal(err)
	}
	cid := workflows.CustomerID(w.cfg.dataSource, cust)
	do("cust", chromedp.Navigate(base+"/namespaces/default/workflows/"+url.PathEscape(cid)), chromedp.Sleep(8*time.Second))
	dump("cust")
	_ = io.Discard
	_ = fmt.Sprint
}
