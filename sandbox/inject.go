package main

// The --inject-… flags of `sandbox serve`: faults injected on purpose into
// the API's answers, for the fault tests of clients (api/faults.go).

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/recurhq/recur/sandbox/api"
)

// faultFlags registers the --inject-… flags on fs and returns the function
// that reads them once fs is parsed: the faults, or a usage error that says
// which flag is wrong and why.
func faultFlags(fs *flag.FlagSet) func() (api.Faults, error) {
	tooMany := fs.Float64("inject-429", 0, "fraction of API requests answered 429 without being done, e.g. 0.2 (fault tests)")
	unavailable := fs.Float64("inject-503", 0, "fraction of API requests answered 503 without being done (fault tests)")
	drop := fs.Float64("inject-drop", 0, "fraction of API requests done in full, then cut off without an answer (fault tests)")
	retryAfter := fs.Duration("inject-retry-after", time.Second, "Retry-After of the injected 429s and 503s, whole seconds")
	delay := fs.Duration("inject-delay", 0, "hold back every API answer this long after its work is done, e.g. 50ms (fault tests)")
	seed := fs.Uint64("inject-seed", 0, "seed of the choice of faulted requests, to replay a run (default: a random seed, printed at start)")
	return func() (api.Faults, error) {
		f := api.Faults{TooManyRequests: *tooMany, Unavailable: *unavailable, Drop: *drop, RetryAfter: *retryAfter, Delay: *delay, Seed: *seed}
		for _, p := range []struct {
			flag  string
			value float64
		}{{"--inject-429", f.TooManyRequests}, {"--inject-503", f.Unavailable}, {"--inject-drop", f.Drop}} {
			if !(p.value >= 0 && p.value <= 1) { // written so that NaN fails too
				return f, usageError{fmt.Sprintf("%s must be a fraction between 0 and 1 (0.2 faults 20%% of requests); got %v", p.flag, p.value)}
			}
		}
		// A little slack for decimal fractions that binary floats add up
		// to a hair over 1, such as 0.1 + 0.2 + 0.7.
		if sum := f.TooManyRequests + f.Unavailable + f.Drop; sum > 1+1e-9 {
			return f, usageError{fmt.Sprintf("--inject-429, --inject-503 and --inject-drop add up to %v; a request gets at most one of these faults, so together they may be at most 1", sum)}
		}
		if f.Delay < 0 {
			return f, usageError{fmt.Sprintf("--inject-delay must not be negative; got %v", f.Delay)}
		}
		if f.RetryAfter < time.Second || f.RetryAfter%time.Second != 0 {
			return f, usageError{fmt.Sprintf("--inject-retry-after must be a whole number of seconds, at least 1s, since Retry-After is sent in seconds; got %v", f.RetryAfter)}
		}
		seeded := false
		fs.Visit(func(fl *flag.Flag) { seeded = seeded || fl.Name == "inject-seed" })
		if !seeded {
			// A seed of its own for every run, printed at start, so that a
			// run whose faults found a bug can be replayed.
			f.Seed = rand.Uint64()
		}
		return f, nil
	}
}

// faultsLine is what `sandbox serve` prints at start when it injects
// faults, so that nobody takes a faulty server for a healthy one.
func faultsLine(f api.Faults) string {
	line := "Injecting faults: " + f.String()
	if f.TooManyRequests+f.Unavailable+f.Drop > 0 {
		line += fmt.Sprintf("; seed %d", f.Seed)
	}
	return line
}
