package activities

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"
)

// TestBudgetRate: 40 requests from 4 goroutines at 20 per second take about
// two seconds, and no second ever starts more than 21.
func TestBudgetRate(t *testing.T) {
	db := testDB(t)
	b := &Budget{DB: db, Account: "test-rate-" + suffix(), Rate: 20}
	ctx := context.Background()
	var (
		mu     sync.Mutex
		starts []time.Time
		wg     sync.WaitGroup
	)
	begin := time.Now()
	for range 4 {
		wg.Go(func() {
			for range 10 {
				if err := b.Wait(ctx); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				starts = append(starts, time.Now())
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(begin)
	if len(starts) != 40 {
		t.Fatalf("%d requests started, want 40", len(starts))
	}
	if elapsed < 1900*time.Millisecond {
		t.Errorf("40 requests at 20/s took %s, want at least 1.9s", elapsed)
	}
	if elapsed > 6*time.Second {
		t.Errorf("40 requests at 20/s took %s", elapsed)
	}
	slices.SortFunc(starts, func(a, b time.Time) int { return a.Compare(b) })
	for i := range starts {
		n := 0
		for j := i; j < len(starts) && starts[j].Sub(starts[i]) < time.Second; j++ {
			n++
		}
		if n > 21 {
			t.Errorf("%d requests started within one second of %s", n, starts[i].Sub(begin))
		}
	}

	// Another account is not held back by this one.
	if err := b.Hold(ctx, 3*time.Second); err != nil {
		t.Fatal(err)
	}
	other := &Budget{DB: db, Account: "test-rate-" + suffix(), Rate: 20}
	start := time.Now()
	if err := other.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("another account's first request waited %s", d)
	}
}

// TestBudgetHold: a Hold (a 429's Retry-After) delays the next request of
// every worker by about that long.
func TestBudgetHold(t *testing.T) {
	db := testDB(t)
	ctx := context.Background()
	account := "test-hold-" + suffix()
	b := &Budget{DB: db, Account: account, Rate: 20}
	if err := b.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.Hold(ctx, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	// Another worker (another Budget on the same account) waits too.
	w2 := &Budget{DB: db, Account: account, Rate: 20}
	start := time.Now()
	if err := w2.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 1800*time.Millisecond || d > 3500*time.Millisecond {
		t.Errorf("the request after Hold(2s) waited %s, want about 2s", d)
	}
	// A shorter Hold never brings the next slot forward.
	if err := b.Hold(ctx, 10*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if err := b.Hold(ctx, 1*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := b.Hold(ctx, 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	if err := b.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 800*time.Millisecond {
		t.Errorf("after Hold(1s) then Hold(100ms) the next request waited %s, want about 1s", d)
	}
	// A Wait whose context ends returns its error.
	if err := b.Hold(ctx, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if err := b.Wait(short); err == nil {
		t.Error("a Wait held back 5s returned before its context's end without an error")
	}
	// A nil or disabled budget never waits.
	var none *Budget
	if err := none.Wait(ctx); err != nil {
		t.Error(err)
	}
	if err := (&Budget{DB: db, Account: account}).Wait(ctx); err != nil {
		t.Error(err)
	}
}
