package main

import (
	"bytes"
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestBenchPrintsEveryFigure runs `sandbox bench` small, with every
// comparison on, and checks that it prints each figure the README quotes,
// each a positive number: a benchmark that silently stops measuring one of
// them would otherwise go unnoticed.
func TestBenchPrintsEveryFigure(t *testing.T) {
	if testing.Short() {
		t.Skip("the benchmark takes a few seconds; -short skips it")
	}
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"bench", "--customers", "20", "--runs", "1", "--imports", "2", "--data-sources", "2", "--single-object", "--clients", "2", "--cli-import", "1"},
		func(string) string { return "" }, nil, &stdout, &stderr)
	if err != nil {
		t.Fatalf("sandbox bench: %v\n%s%s", err, stdout.String(), stderr.String())
	}
	out := stdout.String()
	for name, re := range map[string]string{
		"single import":         `POST to completed: median ([0-9.]+) ms`,
		"sustained":             `2 imports into 2 data source\(s\), [0-9]+ records in [0-9.]+ ms = ([0-9.]+) records/s`,
		"floor":                 `end to end / floor = ([0-9.]+)`,
		"single-object":         `with 2 keep-alive clients = ([0-9.]+) requests/s`,
		"bulk vs single-object": `bulk is ([0-9.]+)× faster`,
		"sandbox import":        `sandbox import of a [0-9.]+ MB file \([0-9]+ records\): ([0-9.]+) ms to all completed`,
		"pre-split":             `sent by the benchmark: ([0-9.]+) ms; ratio [0-9.]+`,
		"peak heap":             `peak heap of one import \(above the heap before it\): ([0-9.]+) MB`,
	} {
		m := regexp.MustCompile(re).FindStringSubmatch(out)
		if m == nil {
			t.Errorf("%s: no line matches %q in\n%s", name, re, out)
			continue
		}
		v, err := strconv.ParseFloat(m[1], 64)
		if err != nil || v <= 0 && name != "peak heap" {
			t.Errorf("%s: %q is not a positive figure in\n%s", name, m[1], out)
		}
	}
}

// TestBenchRefusesNoDataSources checks that --data-sources below one is
// refused with a message naming the flag, before any work starts.
func TestBenchRefusesNoDataSources(t *testing.T) {
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"bench", "--data-sources", "0"}, func(string) string { return "" }, nil, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "--data-sources must be at least 1; got 0") {
		t.Fatalf("sandbox bench --data-sources 0: got %v, want an error naming --data-sources", err)
	}
}
