package activities

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/recurhq/recur/chartmogul"
	"github.com/recurhq/recur/workflows"
)

// This file is the one place where failures become Temporal errors:
// configuration errors and refused payloads are not retried (the same
// request would fail the same way), everything transient is, a 429 after
// its Retry-After.

// configError is a non-retryable error that stops a sync: a person must
// fix the configuration. format says what to fix.
func configError(format string, args ...any) error {
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf(format, args...), workflows.ErrConfiguration, nil)
}

// refusedError is a non-retryable error of one customer's payload.
func refusedError(format string, args ...any) error {
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf(format, args...), workflows.ErrRefused, nil)
}

// minRetryDelay is the least a 429 without Retry-After waits.
const minRetryDelay = time.Second

// chartMogulError turns an answer of ChartMogul's into the error an
// activity returns. what says what was being done ("submitting import X"),
// dataSource names the data source for the messages of a 404. The API key
// is never part of the message: the client's errors never carry it.
func chartMogulError(err error, what, dataSource string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var e *chartmogul.Error
	if !errors.As(err, &e) {
		return fmt.Errorf("%s: %w", what, err)
	}
	msg := e.Error()
	switch e.Code {
	case chartmogul.EUNAUTHORIZED:
		return configError("ChartMogul refused the API key while %s (%d: %s): set CHARTMOGUL_API_KEY to a key of the account with write access", what, e.Status, msg)
	case chartmogul.EFORBIDDEN:
		return configError("ChartMogul does not allow this API key to import while %s (%d: %s): use a key with write access (ChartMogul's Admin › API keys)", what, e.Status, msg)
	case chartmogul.ENOTFOUND:
		return configError("ChartMogul has no data source %s in this account, or no such import (%s: %s): check CHARTMOGUL_DATA_SOURCE (or the sync's data_source); `GET /v1/data_sources` lists them", dataSource, what, msg)
	case chartmogul.EBADREQUEST, chartmogul.EINVALID:
		return refusedError("ChartMogul refused the payload while %s (%d): %s", what, e.Status, msg)
	case chartmogul.ETOOLARGE:
		return refusedError("ChartMogul refused the payload as too large while %s (%d): %s; lower --part-bytes", what, e.Status, msg)
	case chartmogul.ERATELIMIT:
		delay := max(e.RetryAfter, minRetryDelay)
		return temporal.NewApplicationErrorWithOptions(
			fmt.Sprintf("ChartMogul's rate limit while %s: retrying after %s", what, delay), "ChartMogulRateLimited",
			temporal.ApplicationErrorOptions{NextRetryDelay: delay})
	}
	if e.RetryAfter > 0 {
		return temporal.NewApplicationErrorWithOptions(fmt.Sprintf("%s: %s; retrying after %s", what, msg, e.RetryAfter),
			"ChartMogulUnavailable", temporal.ApplicationErrorOptions{NextRetryDelay: e.RetryAfter})
	}
	return fmt.Errorf("%s: %s", what, msg)
}
