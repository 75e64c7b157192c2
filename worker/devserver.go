package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/recurhq/recur/workflows"
)

// temporalCLIVersion is the Temporal CLI the worker builds when it finds
// none: the last version `go install` accepts (later ones carry replace
// directives).
const temporalCLIVersion = "v1.5.1"

// devServerPragmas run the dev server's SQLite in WAL mode with
// synchronous=normal: 2.5 times the throughput of its defaults on this
// project's machines (spec/temporal.md), and a committed workflow task
// still survives a crash of the process.
var devServerPragmas = []string{"--sqlite-pragma", "journal_mode=wal", "--sqlite-pragma", "synchronous=normal"}

// startDevServer starts the Temporal CLI's dev server (with its Web UI)
// through the SDK's testsuite.StartDevServer, persisted in cfg.devDB, with
// Recur's search attributes registered. The Temporal server is never linked
// into this program: it runs as the CLI's process.
func startDevServer(ctx context.Context, cfg *config, getenv func(string) string, log *slog.Logger, stdout io.Writer) (*testsuite.DevServer, error) {
	opts := testsuite.DevServerOptions{
		ClientOptions: &client.Options{
			HostPort:  "127.0.0.1:" + strconv.Itoa(cfg.devPort),
			Namespace: cfg.namespace,
			Logger:    sdklog.NewStructuredLogger(log.With("component", "temporal-client")),
		},
		DBFilename: cfg.devDB,
		EnableUI:   true,
		UIPort:     strconv.Itoa(cfg.uiPort),
		LogLevel:   cfg.devLogLevel,
		SearchAttributes: temporal.NewSearchAttributes(workflows.DataSourceAttr.ValueSet(""),
			workflows.CustomerAttr.ValueSet(""), workflows.OutcomeAttr.ValueSet("")),
		ExtraArgs: devServerPragmas,
	}
	path, err := temporalCLI(ctx, getenv, stdout)
	if err != nil {
		return nil, err
	}
	if path != "" {
		opts.ExistingPath = path
	} else {
		fmt.Fprintln(stdout, "No Temporal CLI found and no Go toolchain to build one: downloading the CLI through the Temporal SDK (set TEMPORAL_CLI to use your own)")
	}
	srv, err := testsuite.StartDevServer(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("the embedded Temporal dev server did not start (%w); is port %d or %d taken? Set --dev-port/--ui-port, or TEMPORAL_ADDRESS to use a running Temporal", err, cfg.devPort, cfg.uiPort)
	}
	return srv, nil
}

// temporalCLI finds the `temporal` binary: TEMPORAL_CLI, then PATH, then
// the Go toolchain's bin directory; when there is none and `go` is there,
// it builds one with `go install`, saying so. It returns "" when there is
// neither, for the SDK's own download.
func temporalCLI(ctx context.Context, getenv func(string) string, stdout io.Writer) (string, error) {
	if p := getenv("TEMPORAL_CLI"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("TEMPORAL_CLI names %s, which is not there: %w", p, err)
		}
		return p, nil
	}
	if p, err := exec.LookPath("temporal"); err == nil {
		return p, nil
	}
	goCmd, err := exec.LookPath("go")
	if err != nil {
		return "", nil
	}
	bin := goBin(ctx, goCmd)
	if bin != "" {
		if p := filepath.Join(bin, "temporal"); isExecutable(p) {
			return p, nil
		}
	}
	fmt.Fprintf(stdout, "No Temporal CLI found: building it with `go install github.com/temporalio/cli/cmd/temporal@%s` (a few minutes, once; or install it and put it on PATH, or set TEMPORAL_CLI)\n", temporalCLIVersion)
	cmd := exec.CommandContext(ctx, goCmd, "install", "github.com/temporalio/cli/cmd/temporal@"+temporalCLIVersion)
	cmd.Stdout, cmd.Stderr = stdout, stdout
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("building the Temporal CLI failed (%w); install it (https://docs.temporal.io/cli) and put it on PATH, or set TEMPORAL_ADDRESS to a running Temporal", err)
	}
	if p := filepath.Join(bin, "temporal"); bin != "" && isExecutable(p) {
		return p, nil
	}
	return "", errors.New("`go install` built the Temporal CLI but it is not in `go env GOBIN` or GOPATH/bin; set TEMPORAL_CLI to its path")
}

// goBin is where `go install` puts binaries.
func goBin(ctx context.Context, goCmd string) string {
	out, err := exec.CommandContext(ctx, goCmd, "env", "GOBIN", "GOPATH").Output()
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) > 0 && strings.TrimSpace(lines[0]) != "" {
		return strings.TrimSpace(lines[0])
	}
	if len(lines) > 1 {
		gopath := strings.Split(strings.TrimSpace(lines[1]), string(os.PathListSeparator))[0]
		return filepath.Join(gopath, "bin")
	}
	return ""
}

func isExecutable(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}
