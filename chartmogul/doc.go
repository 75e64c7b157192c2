// Package chartmogul is the ChartMogul Import API's vocabulary, shared by
// both sides of Recur: the records a billing system imports (data sources,
// customers, plans, invoices with their line items and transactions,
// subscription events), the bulk imports that carry them and their statuses,
// the rules that make a record valid (dates, currencies, countries, states,
// amounts), the bulk payload codec, the packing of customers' records into
// requests under the payload limit, and a small HTTP client of the Import
// API that classifies every answer.
//
// Who uses it: the Recur worker (packages activities and workflows) builds,
// validates, packs and submits payloads with it; the local ChartMogul
// (package sandbox and its packages) decodes and validates what it receives
// with the very same rules, so a record the worker accepts is one the sandbox
// accepts, with the same message when it does not.
//
// The package imports nothing of Recur's. One error type, Error, carries a
// code for every kind of failure: the sandbox maps each code to one HTTP
// status, and the client maps each status ChartMogul answers back to a code
// and says whether a retry can help (Retryable, RetryAfter).
package chartmogul
