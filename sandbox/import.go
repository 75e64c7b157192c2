package main

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/recurhq/recur/chartmogul"
)

// errRecordsFailed makes `sandbox import` exit non-zero after it has printed
// the failed records.
var errRecordsFailed = errors.New("some records were not imported; the table above says which and why")

// importCmd sends ChartMogul bulk JSON files (or a directory of CSV files) of
// any size to a Recur server: it reads them record by record, packs them into
// requests under the payload limit with every customer's records in one
// request, sends them, waits for every import to finish and prints the
// records that failed.
func importCmd(ctx context.Context, args []string, getenv env, stdout, stderr io.Writer) error {
	fs := flags("import", stderr)
	url := fs.String("url", cmp.Or(getenv("RECUR_URL"), "http://127.0.0.1:8080"), "Recur's address (RECUR_URL)")
	key := fs.String("api-key", getenv("RECUR_API_KEY"), "API key (RECUR_API_KEY)")
	dsFlag := fs.String("data-source", "", "data source: its uuid (ds_…) or its name, created when new")
	csvDir := fs.String("csv", "", "read CSV files from this directory instead: customers.csv, plans.csv, invoices.csv, line_items.csv, transactions.csv, subscription_events.csv, headed by the JSON field names")
	dryRun := fs.Bool("dry-run", false, "validate against the server without writing anything")
	maxPayload := fs.String("max-payload", "5MB", "largest request the server accepts (its --max-payload)")
	parallel := fs.Int("parallel", 4, "requests in flight at once")
	progress := fs.String("progress", "auto", "progress bar: auto (on a terminal), always or never")
	if err := parse(fs, args); err != nil {
		return err
	}
	files := fs.Args()
	if *key == "" {
		return usageError{"sandbox import needs an API key: --api-key or RECUR_API_KEY"}
	}
	if *dsFlag == "" {
		return usageError{"sandbox import needs --data-source (a data source uuid or name)"}
	}
	if len(files) == 0 && *csvDir == "" {
		return usageError{"sandbox import needs JSON files to send, or --csv DIR"}
	}
	limit, err := parseSize(*maxPayload)
	if err != nil {
		return usageError{"--max-payload: " + err.Error()}
	}

	sp := chartmogul.NewSplitter()
	if *csvDir != "" {
		if err := readCSVDir(sp, *csvDir); err != nil {
			return err
		}
	}
	for _, name := range files {
		if err := readJSONFile(sp, name); err != nil {
			return err
		}
	}
	chunks, err := sp.Pack(int(limit))
	if err != nil {
		return err
	}

	c := chartmogul.NewClient(strings.TrimRight(*url, "/"), *key)
	if err := c.Ping(ctx); err != nil {
		return fmt.Errorf("cannot use Recur at %s: %w", *url, err)
	}
	ds, err := resolveDataSource(ctx, c, *dsFlag)
	if err != nil {
		return err
	}
	showBar := *progress == "always" || (*progress == "auto" && isTerminal(stderr))
	run := &importRun{c: c, ds: ds, chunks: chunks, total: sp.Records(), dryRun: *dryRun, parallel: max(*parallel, 1), stderr: stderr}
	if showBar {
		run.bar = progressbar.NewOptions(sp.Records(), progressbar.OptionSetWriter(stderr), progressbar.OptionSetDescription("sending"),
			progressbar.OptionShowCount(), progressbar.OptionSetWidth(30), progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionClearOnFinish())
	}
	results := run.send(ctx)
	return report(stdout, stderr, results, sp.Records(), *dryRun)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func readJSONFile(sp *chartmogul.Splitter, name string) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := sp.ReadJSON(bufio.NewReaderSize(f, 1<<20)); err != nil {
		var e *chartmogul.Error
		if errors.As(err, &e) {
			return fmt.Errorf("%s is not a ChartMogul bulk JSON file: %s", name, e.Message)
		}
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

func readCSVDir(sp *chartmogul.Splitter, dir string) error {
	found := 0
	for _, t := range chartmogul.RecordTypes {
		name := filepath.Join(dir, string(t)+".csv")
		f, err := os.Open(name)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		err = sp.ReadCSV(t, f, name)
		f.Close()
		if err != nil {
			return err
		}
		found++
	}
	if found == 0 {
		return fmt.Errorf("%s holds none of customers.csv, plans.csv, invoices.csv, line_items.csv, transactions.csv, subscription_events.csv", dir)
	}
	return nil
}

// resolveDataSource finds the data source a --data-source value names: a
// uuid, or a name, which is created when the account has no such source.
func resolveDataSource(ctx context.Context, c *chartmogul.Client, v string) (string, error) {
	if strings.HasPrefix(v, chartmogul.PrefixDataSource) {
		return v, nil
	}
	list, err := c.DataSources(ctx)
	if err != nil {
		return "", err
	}
	for _, ds := range list {
		if ds.Name == v {
			return ds.UUID, nil
		}
	}
	ds, err := c.CreateDataSource(ctx, v)
	if err != nil {
		return "", fmt.Errorf("create data source %q: %w", v, err)
	}
	return ds.UUID, nil
}

// importRun sends the chunks of one `sandbox import`.
type importRun struct {
	c        *chartmogul.Client
	ds       string
	chunks   []chartmogul.Chunk
	total    int
	dryRun   bool
	parallel int
	stderr   io.Writer
	bar      *progressbar.ProgressBar
	mu       sync.Mutex
}

// chunkResult is what became of one chunk.
type chunkResult struct {
	index  int
	chunk  chartmogul.Chunk
	imp    *chartmogul.ImportState
	err    error
	posted bool // the server accepted the chunk
}

// send posts the first chunk (it carries the plans the others may name) and
// waits for it, then the rest with a few requests in flight, then waits for
// every import to finish.
func (run *importRun) send(ctx context.Context) []chunkResult {
	results := make([]chunkResult, len(run.chunks))
	for i := range results {
		results[i] = chunkResult{index: i, chunk: run.chunks[i]}
	}
	if len(results) == 0 {
		return results
	}
	run.sendOne(ctx, &results[0])
	if results[0].err == nil {
		sem := make(chan struct{}, run.parallel)
		var wg sync.WaitGroup
		for i := 1; i < len(results); i++ {
			sem <- struct{}{}
			wg.Add(1)
			go func(r *chunkResult) {
				defer func() { <-sem; wg.Done() }()
				run.sendOne(ctx, r)
			}(&results[i])
		}
		wg.Wait()
	} else {
		for i := 1; i < len(results); i++ {
			results[i].err = errors.New("not sent: the first request failed")
		}
	}
	if run.bar != nil {
		run.bar.Finish()
	}
	return results
}

func (run *importRun) sendOne(ctx context.Context, r *chunkResult) {
	if run.dryRun {
		r.imp, r.err = run.c.DryRun(ctx, run.ds, r.chunk.Body)
		r.posted = r.err == nil
		run.advance(r.chunk.Records)
		return
	}
	imp, _, err := run.c.CreateImport(ctx, run.ds, r.chunk.Body)
	if err != nil {
		r.err = err
		return
	}
	r.posted = true
	run.advance(r.chunk.Records)
	r.imp, r.err = run.c.WaitImport(ctx, run.ds, imp.ID, 50*time.Millisecond)
}

func (run *importRun) advance(n int) {
	if run.bar == nil {
		return
	}
	run.mu.Lock()
	defer run.mu.Unlock()
	run.bar.Add(n)
}

// report prints what became of the records: a summary line, the failed
// records as a table, and the chunks that could not be sent (with the ones
// that were), and returns an error when anything failed.
func report(stdout, stderr io.Writer, results []chunkResult, total int, dryRun bool) error {
	var failures []chartmogul.RecordProblem
	var imported, failed, unsent, warnings int
	for _, r := range results {
		if r.imp != nil && r.imp.Status.Finished() {
			rec, f := r.imp.Records()
			imported += rec - f
			failed += f
			warnings += len(r.imp.Warnings)
			failures = append(failures, r.imp.FailedRecords...)
		}
		if r.err != nil {
			unsent++
		}
	}
	verb := "imported"
	if dryRun {
		verb = "would import"
	}
	fmt.Fprintf(stdout, "%d records in %d requests: %s %d, failed %d, warnings %d\n", total, len(results), verb, imported, failed, warnings)
	if len(failures) > 0 {
		sort.SliceStable(failures, func(i, j int) bool {
			if failures[i].Type != failures[j].Type {
				return failures[i].Type < failures[j].Type
			}
			return failures[i].Index < failures[j].Index
		})
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "\nTYPE\tEXTERNAL_ID\tCUSTOMER\tFIELD\tMESSAGE")
		for _, f := range failures {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", f.Type, dash(f.ExternalID), dash(f.Customer), dash(f.Field), f.Message)
		}
		tw.Flush()
	}
	if unsent > 0 {
		fmt.Fprintln(stderr, "\nrequests:")
		for _, r := range results {
			state := "accepted"
			switch {
			case r.err != nil && r.posted:
				state = "accepted, but its outcome is unknown: " + r.err.Error()
			case r.err != nil:
				state = "NOT accepted: " + r.err.Error()
			case r.imp != nil:
				state = "accepted, " + string(r.imp.Status) + " (import " + r.imp.ID + ")"
			}
			fmt.Fprintf(stderr, "  %d/%d (%s, %d records, %d customers): %s\n", r.index+1, len(results), r.chunk.ExternalID, r.chunk.Records, r.chunk.Customers, state)
		}
		return fmt.Errorf("%d of %d requests did not complete; running the same command again resends only what was not accepted", unsent, len(results))
	}
	if failed > 0 {
		return errRecordsFailed
	}
	return nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
