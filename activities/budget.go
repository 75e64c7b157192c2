package activities

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
)

// DefaultRateBudget is the requests per second Recur allows itself against
// one ChartMogul account, every worker together: under ChartMogul's 40, so
// that a person's own scripts on the same account keep some room.
const DefaultRateBudget = 35

// Budget holds the requests of every worker to one ChartMogul account to a
// rate, counted in requests (not customers: a packed request carries many).
// It is a GCRA kept in one row of the state database, which every worker
// shares: each request reserves the next slot, 1/rate after the previous
// one, and waits for it. The database's clock decides, so workers on
// machines whose clocks disagree still share one budget.
type Budget struct {
	DB *sqlx.DB
	// Account identifies the account: a hash of the API key and the URL,
	// never the key itself.
	Account string
	// Rate is the requests per second; 0 or less turns the budget off.
	Rate float64
}

// BudgetAccount returns the budget's key of an account: a SHA-256 prefix of
// the URL and the API key, which tells accounts apart without storing the
// key.
func BudgetAccount(baseURL, apiKey string) string {
	h := sha256.Sum256([]byte(baseURL + "\x00" + apiKey))
	return hex.EncodeToString(h[:12])
}

// Wait reserves the next request slot and sleeps until it comes.
func (b *Budget) Wait(ctx context.Context) error {
	if b == nil || b.Rate <= 0 {
		return nil
	}
	// A request arrives at ChartMogul a little after its slot, by a delay
	// that varies with the load of both machines (tens of milliseconds on
	// a busy one): slots 10% further apart than 1/rate keep the requests
	// ChartMogul counts in any one second within the budget despite it.
	step := time.Duration(1.10 * float64(time.Second) / b.Rate)
	var wait float64
	err := b.DB.GetContext(ctx, &wait, `
INSERT INTO recur.rate_budget AS b (account, tat) VALUES ($1, clock_timestamp() + $2 * interval '1 microsecond')
ON CONFLICT (account) DO UPDATE SET tat = greatest(b.tat, clock_timestamp()) + $2 * interval '1 microsecond'
RETURNING extract(epoch FROM (tat - $2 * interval '1 microsecond' - clock_timestamp()))::float8`,
		b.Account, step.Microseconds())
	if err != nil {
		return fmt.Errorf("cannot reserve a request from the rate budget in the state database: %w", err)
	}
	if wait <= 0 {
		return nil
	}
	t := time.NewTimer(time.Duration(wait * float64(time.Second)))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Hold pushes every worker's next request at least d into the future: a
// 429 with a Retry-After speaks for the whole account, not one request.
func (b *Budget) Hold(ctx context.Context, d time.Duration) error {
	if b == nil || b.Rate <= 0 || d <= 0 {
		return nil
	}
	_, err := b.DB.ExecContext(ctx, `
INSERT INTO recur.rate_budget AS b (account, tat) VALUES ($1, clock_timestamp() + $2 * interval '1 microsecond')
ON CONFLICT (account) DO UPDATE SET tat = greatest(b.tat, clock_timestamp() + $2 * interval '1 microsecond')`,
		b.Account, d.Microseconds())
	return err
}
