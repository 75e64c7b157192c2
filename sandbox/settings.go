package main

import (
	"context"
	"fmt"
	"io"
	"strconv"

	"github.com/recurhq/recur/chartmogul"
	"github.com/recurhq/recur/sandbox/store"
)

// settings shows or changes an account's analytics settings: its base
// currency, time zone, week start and churn rules. A change queues the
// recompute of the account's analytics, which running workers pick up.
func settings(ctx context.Context, args []string, getenv env, stdout, stderr io.Writer) error {
	fs := flags("settings", stderr)
	dbURL := fs.String("database", databaseURL(getenv), "database: sqlite:PATH or postgres://… (RECUR_DATABASE_URL)")
	account := fs.String("account", store.DefaultAccount, "the account")
	currency := fs.String("currency", "", "base currency every amount is converted to, e.g. USD or EUR")
	tz := fs.String("time-zone", "", "IANA time zone metrics' days are counted in, e.g. Europe/Berlin")
	week := fs.String("week-start", "", "first day of a metrics week: sunday or monday")
	churn := fs.String("churn-recognition", "", "when a cancellation removes MRR: "+store.ChurnAtCancellation+" or "+store.ChurnAtPeriodEnd)
	zero := fs.String("churn-when-zero-mrr", "", "true: a paying customer dropping to zero MRR without cancelling churns; false: it contracts")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usageError{"sandbox settings takes flags only; `sandbox settings -h` lists them"}
	}
	var zeroVal *bool
	if *zero != "" {
		v, err := strconv.ParseBool(*zero)
		if err != nil {
			return usageError{fmt.Sprintf("--churn-when-zero-mrr must be true or false; got %q", *zero)}
		}
		zeroVal = &v
	}
	st, err := store.Open(ctx, *dbURL, store.Options{})
	if err != nil {
		return err
	}
	defer st.Close()
	a, err := st.EnsureAccount(ctx, *account)
	if err != nil {
		return err
	}
	var old store.AnalyticsSettings
	set, err := st.UpdateAnalyticsSettings(ctx, a.ID, func(s *store.AnalyticsSettings) error {
		old = *s
		for _, f := range []struct {
			flag string
			dst  *string
		}{{*currency, &s.Currency}, {*tz, &s.TimeZone}, {*week, &s.WeekStartOn}, {*churn, &s.ChurnRecognition}} {
			if f.flag != "" {
				*f.dst = f.flag
			}
		}
		if zeroVal != nil {
			s.ChurnWhenZeroMRR = *zeroVal
		}
		return nil
	})
	if err != nil {
		if e, ok := err.(*chartmogul.Error); ok && e.Code == chartmogul.EINVALID {
			return usageError{e.Message}
		}
		return err
	}
	fmt.Fprintf(stdout, "Account %q: currency %s, time zone %s, weeks start on %s, churn recognition %s, churn when zero MRR %t.\n",
		a.Name, set.Currency, set.TimeZone, set.WeekStartOn, set.ChurnRecognition, set.ChurnWhenZeroMRR)
	if *set != old {
		fmt.Fprintln(stdout, "Queued the recompute of the account's analytics; running workers pick it up.")
	}
	return nil
}
