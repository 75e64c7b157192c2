package main

// The official ChartMogul Node client against Recur: compat/node/test.js
// drives `sandbox serve` with chartmogul-node, unmodified and pinned in
// compat/node/package.json, through every method of its Import API surface
// and the Metrics API, asserting on what each call resolves or rejects with.
// This test starts the server on a fresh database of each engine and runs
// the script against it.

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/recurhq/recur/sandbox/store/storetest"
)

// nodeScriptDeadline bounds one run of compat/node/test.js; a run takes
// about a second, and the client's retries are off, so only a hang reaches
// it.
const nodeScriptDeadline = 3 * time.Minute

// nodeCompatDir is compat/node, relative to this package's directory (where
// go test runs it).
var nodeCompatDir = filepath.Join("compat", "node")

// nodePassed matches the script's last line when every step passed.
var nodePassed = regexp.MustCompile(`(?m)^all \d+ steps passed$`)

// nodeUnavailable skips t, or fails it when RECUR_REQUIRE_NODE is set (CI
// sets it after `npm ci`), so that CI never silently skips the client.
func nodeUnavailable(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("RECUR_REQUIRE_NODE") != "" {
		t.Fatalf("RECUR_REQUIRE_NODE is set, but %s", why)
	}
	t.Skip(why)
}

// nodeCommand finds node and the installed client, or skips t.
func nodeCommand(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat(filepath.Join(nodeCompatDir, "node_modules", "chartmogul-node", "package.json")); err != nil {
		nodeUnavailable(t, "compat/node/node_modules is absent: run `npm ci` in compat/node to test Recur with the official chartmogul-node client")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		nodeUnavailable(t, "node is not on PATH: install Node.js 18 or newer, then run `npm ci` in compat/node")
	}
	return node
}

// TestNodeClient runs compat/node/test.js, the official chartmogul-node
// client driving every method of its Import API surface, against `recur
// serve` on a fresh database of each engine. It passes when the script
// exits 0 after printing that every step passed; otherwise it shows the
// script's output, whose last lines name the failed step, what it expected
// and what came back.
func TestNodeClient(t *testing.T) {
	t.Parallel()
	node := nodeCommand(t)
	for _, db := range storetest.Databases(t) {
		t.Run(db.Engine, func(t *testing.T) {
			t.Parallel()
			// The script makes about 170 requests in a second or so: well
			// over the default 40 a second, which is not what it tests.
			c := startE2EServer(t, db.URL, "--rate-limit", "0")
			ctx, cancel := context.WithTimeout(context.Background(), nodeScriptDeadline)
			defer cancel()
			cmd := exec.CommandContext(ctx, node, "test.js")
			cmd.Dir = nodeCompatDir
			cmd.Env = append(e2eEnviron(), "CHARTMOGUL_BASE="+c.base, "CHARTMOGUL_API_KEY="+c.key)
			out, err := cmd.CombinedOutput()
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				t.Fatalf("node test.js did not finish within %s; its output so far:\n%s", nodeScriptDeadline, out)
			}
			if err != nil {
				t.Fatalf("node test.js against %s: %v; its output:\n%s", db.Engine, err, out)
			}
			if !nodePassed.Match(out) {
				t.Fatalf("node test.js exited 0 without saying every step passed; its output:\n%s", out)
			}
			if testing.Verbose() {
				t.Logf("node test.js:\n%s", out)
			}
		})
	}
}
