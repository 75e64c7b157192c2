package workflows

import (
	"errors"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// Error types of the application errors the activities return. A
// configuration error (a refused key, an unknown data source, a source
// relation missing or malformed) stops a whole sync at once: every other
// customer would fail the same way. A refused payload fails one customer.
const (
	ErrConfiguration = "RecurConfiguration"
	ErrRefused       = "ChartMogulRefused"
	ErrInvalidInput  = "RecurInvalidInput"
)

// retryPolicy bounds every step's retries: a transient fault (a 429, a
// 5xx, a database that restarts) is retried for about four minutes, then
// the step fails with the last error's message, rather than retrying for
// hours. A 429's Retry-After sets the next delay (NextRetryDelay).
var retryPolicy = &temporal.RetryPolicy{
	InitialInterval:    time.Second,
	BackoffCoefficient: 2,
	MaximumInterval:    30 * time.Second,
	MaximumAttempts:    12,
}

// setupRetryPolicy bounds the check a sync begins with more tightly: a
// billing database that refuses connections at the start of a sync is
// most likely misconfigured, and the person who started it waits for the
// answer.
var setupRetryPolicy = &temporal.RetryPolicy{
	InitialInterval:    time.Second,
	BackoffCoefficient: 2,
	MaximumInterval:    10 * time.Second,
	MaximumAttempts:    5,
}

// Step timeouts. A local activity is short: it reads or writes the state
// database, or makes one request to ChartMogul (a submit waits a few tens
// of milliseconds for other customers to share the request).
const (
	localStepTimeout = 2 * time.Minute
	// pollWindow is how long the short local poll waits for an import;
	// the local ChartMogul finishes in milliseconds, ChartMogul itself in
	// seconds to minutes, which the heartbeating WaitImport covers.
	pollWindow       = 3 * time.Second
	waitImportLimit  = 24 * time.Hour
	waitImportBeat   = time.Minute
	waitWorkflowBeat = time.Minute
)

// local returns ctx with the options of a short local activity, summarised
// in the UI as summary.
func local(ctx workflow.Context, summary string) workflow.Context {
	return workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		StartToCloseTimeout: localStepTimeout,
		RetryPolicy:         retryPolicy,
		Summary:             summary,
	})
}

// long returns ctx with the options of a long, heartbeating activity.
func long(ctx workflow.Context, summary string, heartbeat time.Duration) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: waitImportLimit,
		HeartbeatTimeout:    heartbeat,
		RetryPolicy:         retryPolicy,
		Summary:             summary,
	})
}

// setup returns ctx with the options of the check a sync begins with.
func setup(ctx workflow.Context, summary string) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 5 * time.Minute,
		RetryPolicy:         setupRetryPolicy,
		Summary:             summary,
	})
}

// errorType returns the type of the application error inside err, or "".
func errorType(err error) string {
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		return app.Type()
	}
	return ""
}

// errorMessage returns the innermost application error's message: the
// sentence an activity wrote for a person, without the SDK's wrapping.
func errorMessage(err error) string {
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		return app.Message()
	}
	if err == nil {
		return ""
	}
	return err.Error()
}
