package main

// Replays of ChartMogul's recorded traffic against Recur. The cassettes in
// testdata/cassettes are real exchanges with api.chartmogul.com recorded by
// the official clients' test suites: go/*.yaml (go-vcr v1, the Go client)
// and ruby/**/*.yml (VCR, the Ruby client; some bodies base64 under
// !binary). TestCassetteReplay sends every recorded request, in file order,
// to `sandbox serve` and compares each answer with the recorded one: the
// status code, the set of keys of every object at every level, and the JSON
// type of every value. Values themselves are not compared: ids and
// timestamps differ by nature, and the figures depend on data the
// recordings' account held.
//
// How a recording is replayed:
//   - Each file gets its own account, so files cannot see each other.
//   - Ids are mapped. Every id-like value of a recorded answer (ds_, cus_,
//     pl_, inv_, li_, tr_, sub_ uuids, plain uuids such as import ids,
//     integer "id"s of customers and events, and "cursor"s) maps to the value
//     at the same JSON path of Recur's answer; later request paths and
//     bodies are rewritten with the map.
//   - Files that do not start by creating their data source ran against the
//     recorder's long-lived account. For them the account gets a fixture
//     first: a data source, two plans and two customers with invoices,
//     subscriptions, transactions and scheduled events, so that lists have
//     elements and second pages. Objects that recorded GET, PATCH, PUT or
//     DELETE answers show but the file did not create (a customer looked up
//     by e-mail, a merged customer, a plan) are created from the recorded
//     object before the replay, and mapped. An id that only ever appears in
//     a request is mapped to a new object of its kind.
//   - A recorded 401 is replayed with a key Recur does not know (the
//     recordings hide the Authorization header).
//   - Before a request of the Metrics API (metrics, activities, a
//     customer's subscriptions), the replay waits until Recur's analytics
//     recompute of every earlier write is done: ChartMogul's recordings were
//     made against settled data.
//   - Exchange rates for EUR, GBP and JPY against USD are imported first, as
//     an operator would: the recordings bill in EUR and USD while Recur's
//     accounts report in USD, and Recur refuses to compute figures it
//     cannot convert.
//
// How answers are compared (cassetteCompare):
//   - status codes must be equal; when they differ, that is the one
//     difference reported for the interaction.
//   - objects: keys the recording has and Recur lacks, and keys Recur adds,
//     are differences. Maps whose keys are data, not schema (custom
//     attributes, clearbit, stripe, an import's status_details), are
//     compared as objects only.
//   - arrays: compared element by element where both have elements; an
//     element of Recur's beyond the recording's is paired with the recorded
//     element it shares most keys with. Keys are missing when the paired
//     recorded element has them, and extra when no recorded element of the
//     array has them.
//   - types: string, number, bool, object, array. A recorded null is
//     compatible with anything. Recur's null where the recording has a
//     value is a difference only where the official clients cannot take
//     null (spec/import-api.md §9.7).
//
// Every difference must be listed in cassetteKnownDifferences with its
// reason, and every listed difference must still occur: the table is the
// truth, and the README's section "Compatibility with recorded ChartMogul
// responses" explains it. Interactions with routes Recur deliberately does
// not serve are listed as out of scope (cassetteScope) and not sent.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/recurhq/recur/chartmogul"
	"github.com/recurhq/recur/sandbox/store"
	"github.com/recurhq/recur/sandbox/store/storetest"
)

// cassetteDir holds the recordings, relative to this package's directory.
var cassetteDir = filepath.Join("..", "testdata", "cassettes")

// cassetteAnalyticsDeadline bounds the wait for the analytics recompute.
const cassetteAnalyticsDeadline = 60 * time.Second

// cassetteKnown is one difference between a recorded answer and Recur's
// that is understood and accepted.
type cassetteKnown struct {
	file  string // relative to testdata/cassettes
	index int    // of the interaction in the file, from 0
	diff  string // as TestCassetteReplay prints it
	why   string
}

// The reasons of the known differences. Most are the age of a recording:
// ChartMogul's answers gained members over the years (2016 to 2026), and
// Recur answers as the newest recordings and the documentation do.
const (
	cassetteWhyCustomerKeys            = "Recorded before ChartMogul added owner and website_url to customers (2023); the recordings of October 2023 and later have both, and so does Recur."
	cassetteWhyCursor                  = "Recorded before ChartMogul added cursor pagination (cursor, has_more) to this list (by 2023); newer recordings have them, and every list of Recur's carries them."
	cassetteWhyEventKeys               = "Recorded before ChartMogul added event_order, disabled and disabled_at to subscription events (documented since 2025). retracted is Recur's extension: whether an enabled retraction withdraws the event."
	cassetteWhyPercentage              = "Recorded in 2016, before ChartMogul added percentage-change to metric entries; go/retrieve_metrics.yaml has it."
	cassetteWhyFXImpact                = "mrr-fx-impact is Recur's extension (the exchange-rate re-valuation, which is no movement), so that the MRR identity can be checked from the answer alone; see api/metrics.go."
	cassetteWhyMetricKeys              = cassetteWhyPercentage + " " + cassetteWhyFXImpact
	cassetteWhyTransactionKeys         = "Recorded before ChartMogul added amount_in_cents, transaction_fees_in_cents and transaction_fees_currency to transactions (2017 to 2020 recordings); the 2023 recording of ruby/ChartMogul_CustomerInvoices has all three."
	cassetteWhyInvoiceKeys             = "Recorded before ChartMogul added errors to invoices (and customer_uuid to a retrieved invoice) (2017 to 2020 recordings); the 2023 recordings have them."
	cassetteWhyLineItemKeys            = "Recorded before ChartMogul added event_order, proration_type and transaction_fees_in_cents to line items (2017 to 2020 recordings); the 2023 recording of ruby/ChartMogul_CustomerInvoices has them."
	cassetteWhyUnknownSubscription     = "The recording connects a third subscription named by a bare uuid that no recorded answer of the file shows, so the replay cannot map it to one of Recur's; Recur refuses to connect a subscription the customer does not have (422 naming it) rather than ignore it."
	cassetteWhySubscriptionPageKeys    = "ChartMogul's recordings of a customer's subscription list disagree: the Go recording carries page and per_page on every page, this Ruby recording of a cursor page does not. Recur follows the Go recording."
	cassetteWhyLegacyOffsets           = "ChartMogul's recordings of the legacy subscription list disagree: this 2023-08 answer of a cursor page carries current_page and total_pages, the later Ruby recording of the same list's cursor page does not. Recur, like all its lists, sends them on the first page only."
	cassetteWhyOneTimePlan             = "ChartMogul's answers of 2018 to 2020 gave one-time line items \"plan_uuid\": null; its newer answers and its documentation leave plan_uuid out of one-time items, as Recur does."
	cassetteWhyClearbit                = "ChartMogul stopped sending attributes.clearbit in 2025; the 2023 recordings have it, and the official Go client v4.3.0 decodes it, so Recur keeps it."
	cassetteWhySubscriptionKeys        = "Recorded in 2018, before ChartMogul added uuid and subscription_set_external_id to a customer's subscriptions; the 2023 recordings have both."
	cassetteWhyAccountID               = "Recorded in 2021, before ChartMogul added the account's id (acc_...), which its documentation now shows."
	cassetteWhyDataSourceSystem        = "Recorded in 2017, before ChartMogul added system to data sources; every newer recording has it."
	cassetteWhyTransactionFeesCurrency = "ChartMogul's own answers disagree: transactions in an invoice import's answer carry transaction_fees_currency (2023), the transaction import's answer leaves it out (2025). Recur's transactions always carry it, as documented."
	cassetteWhyCancelledAt             = "Recur shows the cancelled_at it stored on a cancelled subscription line item; ChartMogul's answer leaves it out. Clients ignore members they do not know."
	cassetteWhyAttributes              = "Recur answers a customer's attributes both wrapped in \"attributes\" (as documented, and as the Go client v4.3.0 decodes them) and at the top level (as recorded), with clearbit, so that every client finds them; see api/customers.go."
	cassetteWhyRemoveCustom            = "ChartMogul answered 204 with no body; Recur answers 200 with the custom attributes left, because the official Go client decodes a body here (see api/customers.go). Every client accepts 200."
	cassetteWhyEmptiedCustomer         = "After DELETE /v1/data_sources/{ds}/all ChartMogul still answered 200 with an empty list for a customer it had removed from the data source's customers (its clean-up is asynchronous); Recur removes the customer at once and answers 404, as for any unknown customer."
)

// cassetteKnownDifferences is every accepted difference, and why. Each
// entry names the file, the index of the interaction in it and the
// difference as the test prints it; the comments show the recorded
// requests.
var cassetteKnownDifferences = []cassetteKnown{
	{"ruby/ChartMogul_Metrics_Customers_Subscription/should_connect_and_disconnect_subscriptions_.yml", 1, "status: ChartMogul 202, Recur 422", cassetteWhyUnknownSubscription},
	{"ruby/ChartMogul_Metrics_Customers_Subscription/should_paginate_using_cursor_when_called_with_next.yml", 1, "$: extra keys page, per_page", cassetteWhySubscriptionPageKeys},
	// #3: POST /v1/customers
	{"go/connect_subscriptions.yaml", 3, "$: extra keys owner, website_url", cassetteWhyCustomerKeys},
	// #4: POST /v1/import/customers/{cus}/invoices
	{"go/connect_subscriptions.yaml", 4, "$.invoices[].line_items[]: extra keys event_order", cassetteWhyLineItemKeys},
	{"go/connect_subscriptions.yaml", 4, "$.invoices[].line_items[]: extra keys event_order, proration_type", cassetteWhyLineItemKeys},
	{"go/connect_subscriptions.yaml", 4, "$.invoices[].line_items[]: missing keys plan_uuid", cassetteWhyOneTimePlan},
	{"go/connect_subscriptions.yaml", 4, "$.invoices[].transactions[]: extra keys amount_in_cents, transaction_fees_currency, transaction_fees_in_cents", cassetteWhyTransactionKeys},
	{"go/connect_subscriptions.yaml", 4, "$.invoices[]: extra keys errors", cassetteWhyInvoiceKeys},
	// #5: GET /v1/import/customers/{cus}/subscriptions
	{"go/connect_subscriptions.yaml", 5, "$: extra keys cursor, has_more", cassetteWhyCursor},
	// #8: GET /v1/customers/{cus}/subscriptions
	{"go/connect_subscriptions.yaml", 8, "$.entries[]: extra keys subscription_set_external_id, uuid", cassetteWhySubscriptionKeys},
	{"go/connect_subscriptions.yaml", 8, "$: extra keys cursor", cassetteWhyCursor},

	// #2: POST /v1/customers
	{"go/create_invoice.yaml", 2, "$: extra keys owner, website_url", cassetteWhyCustomerKeys},
	// #3: POST /v1/customers
	{"go/create_invoice.yaml", 3, "$: extra keys owner, website_url", cassetteWhyCustomerKeys},
	// #6: GET /v1/invoices/{inv}
	{"go/create_invoice.yaml", 5, "$.invoices[].line_items[]: extra keys event_order", cassetteWhyLineItemKeys},
	{"go/create_invoice.yaml", 5, "$.invoices[].line_items[]: extra keys event_order, proration_type", cassetteWhyLineItemKeys},
	{"go/create_invoice.yaml", 5, "$.invoices[].line_items[]: missing keys plan_uuid", cassetteWhyOneTimePlan},
	{"go/create_invoice.yaml", 5, "$.invoices[].transactions[]: extra keys amount_in_cents, transaction_fees_currency, transaction_fees_in_cents", cassetteWhyTransactionKeys},
	{"go/create_invoice.yaml", 5, "$.invoices[]: extra keys errors", cassetteWhyInvoiceKeys},
	{"go/create_invoice.yaml", 6, "$.line_items[]: extra keys event_order", cassetteWhyLineItemKeys},
	{"go/create_invoice.yaml", 6, "$.line_items[]: extra keys event_order, proration_type", cassetteWhyLineItemKeys},
	{"go/create_invoice.yaml", 6, "$.line_items[]: missing keys plan_uuid", cassetteWhyOneTimePlan},
	{"go/create_invoice.yaml", 6, "$.transactions[]: extra keys amount_in_cents, transaction_fees_currency, transaction_fees_in_cents", cassetteWhyTransactionKeys},
	{"go/create_invoice.yaml", 6, "$: extra keys errors", cassetteWhyInvoiceKeys},

	// #2: POST /v1/customers
	{"go/customer_subscriptions.yaml", 2, "$: extra keys website_url", cassetteWhyCustomerKeys},

	// #1: POST /v1/customers
	{"go/customers.yaml", 1, "$: extra keys website_url", cassetteWhyCustomerKeys},
	// #2: POST /v1/customers
	{"go/customers.yaml", 2, "$: extra keys website_url", cassetteWhyCustomerKeys},
	// #3: POST /v1/customers
	{"go/customers.yaml", 3, "$: extra keys website_url", cassetteWhyCustomerKeys},
	// #4: GET /v1/customers
	{"go/customers.yaml", 4, "$.entries[]: extra keys website_url", cassetteWhyCustomerKeys},
	// #5: GET /v1/customers/search
	{"go/customers.yaml", 5, "$.entries[]: extra keys website_url", cassetteWhyCustomerKeys},
	// #6: GET /v1/customers/{cus}
	{"go/customers.yaml", 6, "$: extra keys website_url", cassetteWhyCustomerKeys},
	// #7: PATCH /v1/customers/{cus}
	{"go/customers.yaml", 7, "$: extra keys website_url", cassetteWhyCustomerKeys},
	// #8: GET /v1/customers/{cus}
	{"go/customers.yaml", 8, "$: extra keys website_url", cassetteWhyCustomerKeys},

	// #2: POST /v1/customers
	{"go/delete_invoice.yaml", 2, "$: extra keys owner, website_url", cassetteWhyCustomerKeys},
	// #3: POST /v1/import/customers/{cus}/invoices
	{"go/delete_invoice.yaml", 3, "$.invoices[].line_items[]: extra keys event_order, proration_type, transaction_fees_in_cents", cassetteWhyLineItemKeys},
	{"go/delete_invoice.yaml", 3, "$.invoices[].line_items[]: extra keys event_order, transaction_fees_in_cents", cassetteWhyLineItemKeys},
	{"go/delete_invoice.yaml", 3, "$.invoices[].transactions[]: extra keys amount_in_cents, transaction_fees_currency, transaction_fees_in_cents", cassetteWhyTransactionKeys},
	{"go/delete_invoice.yaml", 3, "$.invoices[]: extra keys errors", cassetteWhyInvoiceKeys},
	// #5: GET /v1/import/customers/{cus}/invoices
	{"go/delete_invoice.yaml", 5, "$: extra keys cursor, has_more", cassetteWhyCursor},

	// #2: POST /v1/customers
	{"go/empty_data_source.yaml", 2, "$: extra keys owner, website_url", cassetteWhyCustomerKeys},
	// #3: POST /v1/import/customers/{cus}/invoices
	{"go/empty_data_source.yaml", 3, "$.invoices[].line_items[]: extra keys event_order", cassetteWhyLineItemKeys},
	{"go/empty_data_source.yaml", 3, "$.invoices[].line_items[]: extra keys event_order, proration_type", cassetteWhyLineItemKeys},
	{"go/empty_data_source.yaml", 3, "$.invoices[].transactions[]: extra keys amount_in_cents, transaction_fees_currency, transaction_fees_in_cents", cassetteWhyTransactionKeys},
	{"go/empty_data_source.yaml", 3, "$.invoices[]: extra keys errors", cassetteWhyInvoiceKeys},
	// #5: GET /v1/import/customers/{cus}/invoices
	{"go/empty_data_source.yaml", 5, "status: ChartMogul 200, Recur 404", cassetteWhyEmptiedCustomer},
	// #6: GET /v1/customers
	{"go/empty_data_source.yaml", 6, "$: extra keys cursor", cassetteWhyCursor},

	// #2: POST /v1/customers
	{"go/invoices.yaml", 2, "$: extra keys website_url", cassetteWhyCustomerKeys},

	// #2: POST /v1/customers
	{"go/retrieve_invoice.yaml", 2, "$: extra keys owner, website_url", cassetteWhyCustomerKeys},
	// #3: POST /v1/import/customers/{cus}/invoices
	{"go/retrieve_invoice.yaml", 3, "$.invoices[].line_items[]: extra keys event_order, proration_type, transaction_fees_in_cents", cassetteWhyLineItemKeys},
	{"go/retrieve_invoice.yaml", 3, "$.invoices[].line_items[]: extra keys event_order, transaction_fees_in_cents", cassetteWhyLineItemKeys},
	{"go/retrieve_invoice.yaml", 3, "$.invoices[].transactions[]: extra keys amount_in_cents, transaction_fees_currency, transaction_fees_in_cents", cassetteWhyTransactionKeys},
	{"go/retrieve_invoice.yaml", 3, "$.invoices[]: extra keys errors", cassetteWhyInvoiceKeys},
	// #4: GET /v1/invoices/{inv}
	{"go/retrieve_invoice.yaml", 4, "$.line_items[]: extra keys event_order, proration_type, transaction_fees_in_cents", cassetteWhyLineItemKeys},
	{"go/retrieve_invoice.yaml", 4, "$.line_items[]: extra keys event_order, transaction_fees_in_cents", cassetteWhyLineItemKeys},
	{"go/retrieve_invoice.yaml", 4, "$.transactions[]: extra keys amount_in_cents, transaction_fees_currency, transaction_fees_in_cents", cassetteWhyTransactionKeys},
	{"go/retrieve_invoice.yaml", 4, "$: extra keys customer_uuid, errors", cassetteWhyInvoiceKeys},

	// #1: GET /v1/metrics/mrr
	{"go/retrieve_metrics.yaml", 1, "$.entries[]: extra keys mrr-fx-impact", cassetteWhyFXImpact},

	// #2: POST /v1/customers
	{"go/subscription_events.yaml", 2, "$: extra keys website_url", cassetteWhyCustomerKeys},
	// #4: POST /v1/subscription_events
	{"go/subscription_events.yaml", 4, "$: extra keys disabled, disabled_at, event_order, retracted", cassetteWhyEventKeys},
	// #5: POST /v1/subscription_events
	{"go/subscription_events.yaml", 5, "$: extra keys disabled, disabled_at, event_order, retracted", cassetteWhyEventKeys},
	// #6: GET /v1/subscription_events
	{"go/subscription_events.yaml", 6, "$.subscription_events[]: extra keys disabled, disabled_at, event_order, retracted", cassetteWhyEventKeys},

	// #2: POST /v1/customers
	{"go/subscriptions.yaml", 5, "$: missing keys current_page, total_pages", cassetteWhyLegacyOffsets},
	{"go/subscriptions.yaml", 2, "$: extra keys website_url", cassetteWhyCustomerKeys},

	// #0: GET /v1/account
	{"ruby/ChartMogul_Account/returns_details_of_current_account.yml", 0, "$: extra keys id", cassetteWhyAccountID},

	// #0: GET /v1/customers/{cus}
	{"ruby/ChartMogul_Customer/API_Actions/merges_customers_correctly_with_the_instance_method.yml", 0, "$: extra keys website_url", cassetteWhyCustomerKeys},
	// #1: GET /v1/customers/{cus}
	{"ruby/ChartMogul_Customer/API_Actions/merges_customers_correctly_with_the_instance_method.yml", 1, "$: extra keys website_url", cassetteWhyCustomerKeys},

	// #0: DELETE /v1/customers/{cus}/attributes/custom
	{"ruby/ChartMogul_Customer/API_Actions/removes_custom_attributes_correctly.yml", 0, "status: ChartMogul 204, Recur 200", cassetteWhyRemoveCustom},

	// #0: GET /v1/customers/{cus}/attributes
	{"ruby/ChartMogul_Customer/API_Actions/retrieves_the_customer_attributes_correctly.yml", 0, "$: extra keys attributes, clearbit", cassetteWhyAttributes},

	// #0: GET /v1/customers/{cus}/attributes
	{"ruby/ChartMogul_Customer/API_Actions/retrieves_the_customer_attributes_correctly_with_the_instance_method.yml", 0, "$: extra keys attributes, clearbit", cassetteWhyAttributes},

	// #0: GET /v1/customers/search
	{"ruby/ChartMogul_Customer/API_Actions/searches_for_customers_correctly.yml", 0, "$.entries[]: extra keys website_url", cassetteWhyCustomerKeys},

	// #0: GET /v1/customers/{cus}
	{"ruby/ChartMogul_Customer/API_Actions/updates_the_customer_correctly_with_the_instance_method.yml", 0, "$: extra keys website_url", cassetteWhyCustomerKeys},
	// #1: PATCH /v1/customers/{cus}
	{"ruby/ChartMogul_Customer/API_Actions/updates_the_customer_correctly_with_the_instance_method.yml", 1, "$: extra keys website_url", cassetteWhyCustomerKeys},

	// #0: GET /v1/customers
	{"ruby/ChartMogul_Customer/API_Actions/with_pagination/paginates_correctly.yml", 0, "$.entries[]: extra keys website_url", cassetteWhyCustomerKeys},
	// #1: GET /v1/customers
	{"ruby/ChartMogul_Customer/API_Actions/with_pagination/paginates_correctly.yml", 1, "$.entries[]: extra keys website_url", cassetteWhyCustomerKeys},

	// #0: GET /v1/customers/search
	{"ruby/ChartMogul_Customer/API_Actions/with_pagination/paginates_the_/search_endpoint_correctly.yml", 0, "$.entries[]: extra keys website_url", cassetteWhyCustomerKeys},

	// #0: GET /v1/customers
	{"ruby/ChartMogul_Customer/_find_by_external_id/returns_matching_user_if_exists.yml", 0, "$.entries[]: extra keys website_url", cassetteWhyCustomerKeys},

	// #1: GET /v1/customers/{cus}
	{"ruby/ChartMogul_CustomerInvoices/API_Actions/creates_the_customer_invoice_correctly.yml", 1, "$: extra keys website_url", cassetteWhyCustomerKeys},
	// #4: POST /v1/import/customers/{cus}/invoices
	{"ruby/ChartMogul_CustomerInvoices/API_Actions/creates_the_customer_invoice_correctly.yml", 4, "$.invoices[].line_items[]: extra keys cancelled_at", cassetteWhyCancelledAt},

	// #0: POST /v1/data_sources
	{"ruby/ChartMogul_DataSource/API_Interactions/retrieves_existing_data_source_matching_uuid.yml", 0, "$: extra keys system", cassetteWhyDataSourceSystem},

	// #0: GET /v1/metrics/arpa
	{"ruby/ChartMogul_Metrics_ARPA/behaves_like_Metrics_API_resource/behaves_like_Summary/should_have_summary.yml", 0, "$.entries[]: extra keys percentage-change", cassetteWhyPercentage},

	// #0: GET /v1/metrics/arr
	{"ruby/ChartMogul_Metrics_ARR/behaves_like_Metrics_API_resource/behaves_like_Summary/should_have_summary.yml", 0, "$.entries[]: extra keys percentage-change", cassetteWhyPercentage},

	// #0: GET /v1/metrics/asp
	{"ruby/ChartMogul_Metrics_ASP/behaves_like_Metrics_API_resource/behaves_like_Summary/should_have_summary.yml", 0, "$.entries[]: extra keys percentage-change", cassetteWhyPercentage},

	// #0: GET /v1/metrics/customer-churn-rate
	{"ruby/ChartMogul_Metrics_CustomerChurnRate/behaves_like_Metrics_API_resource/behaves_like_Summary/should_have_summary.yml", 0, "$.entries[]: extra keys percentage-change", cassetteWhyPercentage},

	// #0: GET /v1/metrics/customer-count
	{"ruby/ChartMogul_Metrics_CustomerCount/behaves_like_Metrics_API_resource/behaves_like_Summary/should_have_summary.yml", 0, "$.entries[]: extra keys percentage-change", cassetteWhyPercentage},

	// #0: GET /v1/metrics/ltv
	{"ruby/ChartMogul_Metrics_LTV/behaves_like_Metrics_API_resource/behaves_like_Summary/should_have_summary.yml", 0, "$.entries[]: extra keys percentage-change", cassetteWhyPercentage},

	// #0: GET /v1/metrics/mrr
	{"ruby/ChartMogul_Metrics_MRR/behaves_like_Summary/should_have_summary.yml", 0, "$.entries[]: extra keys mrr-fx-impact, percentage-change", cassetteWhyMetricKeys},

	// #0: GET /v1/metrics/mrr
	{"ruby/ChartMogul_Metrics_MRR/should_have_entries.yml", 0, "$.entries[]: extra keys mrr-fx-impact", cassetteWhyFXImpact},

	// #0: GET /v1/metrics/mrr-churn-rate
	{"ruby/ChartMogul_Metrics_MRRChurnRate/behaves_like_Metrics_API_resource/behaves_like_Summary/should_have_summary.yml", 0, "$.entries[]: extra keys percentage-change", cassetteWhyPercentage},

	// #1: POST /v1/customers
	{"ruby/ChartMogul_Subscription/API_Interactions/connects_subscriptions.yml", 1, "$.attributes: extra keys clearbit", cassetteWhyClearbit},

	// #1: POST /v1/customers
	{"ruby/ChartMogul_Subscription/API_Interactions/correctly_interracts_with_the_API.yml", 1, "$: extra keys website_url", cassetteWhyCustomerKeys},

	// #1: POST /v1/customers
	{"ruby/ChartMogul_Subscription/API_Interactions/disconnects_subscriptions.yml", 1, "$.attributes: extra keys clearbit", cassetteWhyClearbit},

	// #0: GET /v1/import/customers/{cus}/subscriptions
	{"ruby/ChartMogul_Subscription/API_Interactions/has_multiple_aliases.yml", 0, "$: extra keys cursor, has_more", cassetteWhyCursor},
	// #1: GET /v1/import/customers/{cus}/subscriptions
	{"ruby/ChartMogul_Subscription/API_Interactions/has_multiple_aliases.yml", 1, "$: extra keys cursor, has_more", cassetteWhyCursor},

	// #0: GET /v1/customers
	{"ruby/ChartMogul_Subscription/_update_cancellation_dates/when_array_has_time_objects/is_setting_the_cancellation_dates_of_the_subscription.yml", 0, "$.entries[]: extra keys owner, website_url", cassetteWhyCustomerKeys},
	{"ruby/ChartMogul_Subscription/_update_cancellation_dates/when_array_has_time_objects/is_setting_the_cancellation_dates_of_the_subscription.yml", 0, "$: extra keys cursor", cassetteWhyCursor},
	// #1: GET /v1/import/customers/{cus}/subscriptions
	{"ruby/ChartMogul_Subscription/_update_cancellation_dates/when_array_has_time_objects/is_setting_the_cancellation_dates_of_the_subscription.yml", 1, "$: extra keys cursor, has_more", cassetteWhyCursor},

	// #0: GET /v1/customers
	{"ruby/ChartMogul_Subscription/_update_cancellation_dates/when_array_includes_invalid_entries/raises_an_exception.yml", 0, "$.entries[]: extra keys owner, website_url", cassetteWhyCustomerKeys},
	{"ruby/ChartMogul_Subscription/_update_cancellation_dates/when_array_includes_invalid_entries/raises_an_exception.yml", 0, "$: extra keys cursor", cassetteWhyCursor},
	// #1: GET /v1/import/customers/{cus}/subscriptions
	{"ruby/ChartMogul_Subscription/_update_cancellation_dates/when_array_includes_invalid_entries/raises_an_exception.yml", 1, "$: extra keys cursor, has_more", cassetteWhyCursor},

	// #0: GET /v1/customers
	{"ruby/ChartMogul_Subscription/_update_cancellation_dates/when_array_includes_valid_entries/is_setting_the_cancellation_dates_of_the_subscription.yml", 0, "$.entries[]: extra keys owner, website_url", cassetteWhyCustomerKeys},
	{"ruby/ChartMogul_Subscription/_update_cancellation_dates/when_array_includes_valid_entries/is_setting_the_cancellation_dates_of_the_subscription.yml", 0, "$: extra keys cursor", cassetteWhyCursor},
	// #1: GET /v1/import/customers/{cus}/subscriptions
	{"ruby/ChartMogul_Subscription/_update_cancellation_dates/when_array_includes_valid_entries/is_setting_the_cancellation_dates_of_the_subscription.yml", 1, "$: extra keys cursor, has_more", cassetteWhyCursor},

	// #0: GET /v1/customers
	{"ruby/ChartMogul_Subscription/_update_cancellation_dates/when_array_is_empty/makes_an_API_call_and_removes_the_cancellation_dates.yml", 0, "$.entries[]: extra keys owner, website_url", cassetteWhyCustomerKeys},
	{"ruby/ChartMogul_Subscription/_update_cancellation_dates/when_array_is_empty/makes_an_API_call_and_removes_the_cancellation_dates.yml", 0, "$: extra keys cursor", cassetteWhyCursor},
	// #1: GET /v1/import/customers/{cus}/subscriptions
	{"ruby/ChartMogul_Subscription/_update_cancellation_dates/when_array_is_empty/makes_an_API_call_and_removes_the_cancellation_dates.yml", 1, "$: extra keys cursor, has_more", cassetteWhyCursor},

	// #1: POST /v1/customers
	{"ruby/ChartMogul_SubscriptionEvent/API_interactions/create/creates_a_new_subscription_event.yml", 1, "$: extra keys owner, website_url", cassetteWhyCustomerKeys},
	// #3: POST /v1/subscription_events
	{"ruby/ChartMogul_SubscriptionEvent/API_interactions/create/creates_a_new_subscription_event.yml", 3, "$: extra keys disabled, disabled_at, event_order, retracted", cassetteWhyEventKeys},
	// #4: GET /v1/subscription_events
	{"ruby/ChartMogul_SubscriptionEvent/API_interactions/create/creates_a_new_subscription_event.yml", 4, "$.subscription_events[]: extra keys disabled, disabled_at, event_order, retracted", cassetteWhyEventKeys},
	{"ruby/ChartMogul_SubscriptionEvent/API_interactions/create/creates_a_new_subscription_event.yml", 4, "$: extra keys cursor, has_more", cassetteWhyCursor},

	// #1: POST /v1/customers
	{"ruby/ChartMogul_SubscriptionEvent/API_interactions/creates_a_new_subscription_event_through_initialization.yml", 1, "$: extra keys owner, website_url", cassetteWhyCustomerKeys},
	// #3: POST /v1/subscription_events
	{"ruby/ChartMogul_SubscriptionEvent/API_interactions/creates_a_new_subscription_event_through_initialization.yml", 3, "$: extra keys disabled, disabled_at, event_order, retracted", cassetteWhyEventKeys},
	// #4: GET /v1/subscription_events
	{"ruby/ChartMogul_SubscriptionEvent/API_interactions/creates_a_new_subscription_event_through_initialization.yml", 4, "$.subscription_events[]: extra keys disabled, disabled_at, event_order, retracted", cassetteWhyEventKeys},
	{"ruby/ChartMogul_SubscriptionEvent/API_interactions/creates_a_new_subscription_event_through_initialization.yml", 4, "$: extra keys cursor, has_more", cassetteWhyCursor},

	// #1: POST /v1/customers
	{"ruby/ChartMogul_SubscriptionEvent/API_interactions/deletes_the_subscription_event.yml", 1, "$: extra keys owner, website_url", cassetteWhyCustomerKeys},
	// #3: POST /v1/subscription_events
	{"ruby/ChartMogul_SubscriptionEvent/API_interactions/deletes_the_subscription_event.yml", 3, "$: extra keys disabled, disabled_at, event_order, retracted", cassetteWhyEventKeys},
	// #4: GET /v1/subscription_events
	{"ruby/ChartMogul_SubscriptionEvent/API_interactions/deletes_the_subscription_event.yml", 4, "$.subscription_events[]: extra keys disabled, disabled_at, event_order, retracted", cassetteWhyEventKeys},
	{"ruby/ChartMogul_SubscriptionEvent/API_interactions/deletes_the_subscription_event.yml", 4, "$: extra keys cursor, has_more", cassetteWhyCursor},
	// #6: GET /v1/subscription_events
	{"ruby/ChartMogul_SubscriptionEvent/API_interactions/deletes_the_subscription_event.yml", 6, "$: extra keys cursor, has_more", cassetteWhyCursor},

	// #1: POST /v1/customers
	{"ruby/ChartMogul_SubscriptionEvent/API_interactions/lists_all_subscription_events.yml", 1, "$: extra keys website_url", cassetteWhyCustomerKeys},
	// #3: POST /v1/subscription_events
	{"ruby/ChartMogul_SubscriptionEvent/API_interactions/lists_all_subscription_events.yml", 3, "$: extra keys disabled, disabled_at, event_order, retracted", cassetteWhyEventKeys},
	// #4: GET /v1/subscription_events
	{"ruby/ChartMogul_SubscriptionEvent/API_interactions/lists_all_subscription_events.yml", 4, "$.subscription_events[]: extra keys disabled, disabled_at, event_order, retracted", cassetteWhyEventKeys},

	// #0: GET /v1/subscription_events
	{"ruby/ChartMogul_SubscriptionEvent/API_interactions/should_paginate_using_cursor_when_called_with_next.yml", 0, "$.subscription_events[]: extra keys disabled, disabled_at, event_order, retracted", cassetteWhyEventKeys},
	// #1: GET /v1/subscription_events
	{"ruby/ChartMogul_SubscriptionEvent/API_interactions/should_paginate_using_cursor_when_called_with_next.yml", 1, "$.subscription_events[]: extra keys disabled, disabled_at, event_order, retracted", cassetteWhyEventKeys},

	// #1: POST /v1/customers
	{"ruby/ChartMogul_SubscriptionEvent/API_interactions/update/updates_the_subscription_event.yml", 1, "$: extra keys owner, website_url", cassetteWhyCustomerKeys},
	// #3: POST /v1/subscription_events
	{"ruby/ChartMogul_SubscriptionEvent/API_interactions/update/updates_the_subscription_event.yml", 3, "$: extra keys disabled, disabled_at, event_order, retracted", cassetteWhyEventKeys},
	// #4: PATCH /v1/subscription_events
	{"ruby/ChartMogul_SubscriptionEvent/API_interactions/update/updates_the_subscription_event.yml", 4, "$: extra keys disabled, disabled_at, event_order, retracted", cassetteWhyEventKeys},
	// #5: GET /v1/subscription_events
	{"ruby/ChartMogul_SubscriptionEvent/API_interactions/update/updates_the_subscription_event.yml", 5, "$.subscription_events[]: extra keys disabled, disabled_at, event_order, retracted", cassetteWhyEventKeys},
	{"ruby/ChartMogul_SubscriptionEvent/API_interactions/update/updates_the_subscription_event.yml", 5, "$: extra keys cursor, has_more", cassetteWhyCursor},

	// #1: POST /v1/customers
	{"ruby/ChartMogul_Transactions_Payment/API_Interactions/correctly_interracts_with_the_API.yml", 1, "$.attributes: extra keys clearbit", cassetteWhyClearbit},
	// #3: POST /v1/import/invoices/{inv}/transactions
	{"ruby/ChartMogul_Transactions_Payment/API_Interactions/correctly_interracts_with_the_API.yml", 3, "$: extra keys transaction_fees_currency", cassetteWhyTransactionFeesCurrency},
}

// cassetteScope says why an interaction is not replayed, or "" when it is.
// These are routes Recur deliberately does not serve: ChartMogul's CRM
// (contacts, notes, tasks, opportunities), plan groups, activity CSV
// exports and enrichment are not part of the Import API; and failures of
// ChartMogul's own edge, which a replay cannot provoke.
func cassetteScope(in cassetteInteraction) string {
	p := in.path
	if i := strings.IndexByte(p, '?'); i >= 0 {
		p = p[:i]
	}
	for _, s := range []struct{ prefix, why string }{
		{"/v1/contacts", "CRM contacts"},
		{"/v1/customer_notes", "CRM notes"},
		{"/v1/tasks", "CRM tasks"},
		{"/v1/opportunities", "CRM opportunities"},
		{"/v1/plan_groups", "plan groups"},
		{"/v1/activities_export", "activity CSV exports"},
		{"/v1/enrichment", "enrichment"},
	} {
		if p == s.prefix || strings.HasPrefix(p, s.prefix+"/") {
			return s.why
		}
	}
	if cassetteCRMOfCustomer.MatchString(p) {
		return "CRM records of a customer"
	}
	if in.status >= 500 {
		return fmt.Sprintf("a %d of ChartMogul's edge, answered as text/plain", in.status)
	}
	return ""
}

// cassetteInteraction is one recorded exchange.
type cassetteInteraction struct {
	method   string
	path     string // with the query, as recorded
	body     string
	status   int
	response string
}

// cassette is one recorded file.
type cassette struct {
	name         string // relative to cassetteDir, with slashes
	interactions []cassetteInteraction
}

// cassetteText is a body or header of a recording: plain, or base64 under
// the Ruby VCR's !binary tag.
type cassetteText string

func (c *cassetteText) UnmarshalYAML(n *yaml.Node) error {
	switch n.Tag {
	case "!binary", "!!binary", "tag:yaml.org,2002:binary":
		b, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(n.Value), ""))
		if err != nil {
			return fmt.Errorf("line %d: a !binary value that is not base64: %v", n.Line, err)
		}
		*c = cassetteText(b)
		return nil
	case "!!null":
		*c = ""
		return nil
	}
	var s string
	if err := n.Decode(&s); err != nil {
		return err
	}
	*c = cassetteText(s)
	return nil
}

// cassetteFile is either format: go-vcr v1 (interactions) or Ruby's VCR
// (http_interactions).
type cassetteFile struct {
	Interactions []struct {
		Request struct {
			Body   cassetteText `yaml:"body"`
			URL    string       `yaml:"url"`
			Method string       `yaml:"method"`
		} `yaml:"request"`
		Response struct {
			Body cassetteText `yaml:"body"`
			Code int          `yaml:"code"`
		} `yaml:"response"`
	} `yaml:"interactions"`
	HTTPInteractions []struct {
		Request struct {
			Method string `yaml:"method"`
			URI    string `yaml:"uri"`
			Body   struct {
				String cassetteText `yaml:"string"`
			} `yaml:"body"`
		} `yaml:"request"`
		Response struct {
			Status struct {
				Code int `yaml:"code"`
			} `yaml:"status"`
			Body struct {
				String cassetteText `yaml:"string"`
			} `yaml:"body"`
		} `yaml:"response"`
	} `yaml:"http_interactions"`
}

// cassetteLoadAll reads every recording, in name order.
func cassetteLoadAll(t *testing.T) []cassette {
	t.Helper()
	var out []cassette
	err := filepath.WalkDir(cassetteDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !(strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")) {
			return err
		}
		raw, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		var f cassetteFile
		if err := yaml.Unmarshal(raw, &f); err != nil {
			return fmt.Errorf("%s: %v", p, err)
		}
		rel, _ := filepath.Rel(cassetteDir, p)
		c := cassette{name: filepath.ToSlash(rel)}
		add := func(method, rawURL, body string, status int, response string) error {
			u, err := url.Parse(rawURL)
			if err != nil {
				return fmt.Errorf("%s: %v", p, err)
			}
			path := u.EscapedPath()
			if u.RawQuery != "" {
				path += "?" + u.RawQuery
			}
			c.interactions = append(c.interactions, cassetteInteraction{method: strings.ToUpper(method), path: path,
				body: body, status: status, response: response})
			return nil
		}
		for _, in := range f.Interactions {
			if err := add(in.Request.Method, in.Request.URL, string(in.Request.Body), in.Response.Code, string(in.Response.Body)); err != nil {
				return err
			}
		}
		for _, in := range f.HTTPInteractions {
			if err := add(in.Request.Method, in.Request.URI, string(in.Request.Body.String), in.Response.Status.Code, string(in.Response.Body.String)); err != nil {
				return err
			}
		}
		if len(c.interactions) == 0 {
			return fmt.Errorf("%s: no interactions; is it a go-vcr or VCR cassette?", p)
		}
		out = append(out, c)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatalf("no cassettes in %s", cassetteDir)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// cassetteResult is what the replay of one interaction found.
type cassetteResult struct {
	file       string
	index      int
	in         cassetteInteraction
	sentPath   string
	sentBody   string
	status     int
	body       string
	diffs      []string
	outOfScope string
}

// cassetteReplay replays one file against one account.
type cassetteReplay struct {
	t        *testing.T
	c        *e2eClient
	file     cassette
	currency string
	wait     func(t *testing.T)

	strs map[string]string // recorded id or cursor → Recur's
	ints map[string]string // recorded integer id → Recur's, both as decimal text
	n    int               // names fixture objects

	fixtureDS string            // Recur's uuid of the fixture data source
	emails    map[string]bool   // addresses of fixture customers made for by-e-mail routes
	planOf    map[string]string // Recur's data source uuid → its fixture plan's uuid
}

// cassetteFixtureCustomer is a customer the fixture made, with the uuids of
// its records.
type cassetteFixtureCustomer struct {
	uuid, invoice, lineItem, transaction, subscription string
}

var (
	// cassetteIDValue matches the values of answers that are ids.
	cassetteIDValue = regexp.MustCompile(`^(?:(?:ds|cus|pl|inv|li|tr|sub|plg|con|acc)_)?[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	// cassetteRef matches the references to objects in requests.
	cassetteRef = regexp.MustCompile(`(ds|cus|pl|inv|li|tr|sub)_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	// cassetteToken splits text into words, so that integer ids are replaced
	// only where they stand alone (not inside a uuid or a date).
	cassetteToken = regexp.MustCompile(`[0-9A-Za-z_.\-]+`)
	// cassetteCRMOfCustomer matches the CRM routes under a customer.
	cassetteCRMOfCustomer = regexp.MustCompile(`^/v1/customers/[^/]+/(contacts|notes|opportunities|tasks)$`)
	// cassetteAnalytics matches the routes answered from the analytics.
	cassetteAnalytics = regexp.MustCompile(`^/v1/(metrics/|activities|customers/[^/?]+/(activities|subscriptions))`)
)

// send sends a request of the fixture and returns the decoded answer; it
// fails the file's test on anything but success.
func (r *cassetteReplay) send(method, path string, body any) map[string]any {
	r.t.Helper()
	var b []byte
	if body != nil {
		var err error
		if b, err = json.Marshal(body); err != nil {
			r.t.Fatal(err)
		}
	}
	res, err := r.c.send(method, path, b)
	if err != nil {
		r.t.Fatalf("fixture of %s: %v", r.file.name, err)
	}
	if res.status < 200 || res.status > 299 {
		r.t.Fatalf("fixture of %s: %s %s %s answered %s", r.file.name, method, path, b, res)
	}
	out := map[string]any{}
	if len(bytes.TrimSpace(res.body)) > 0 {
		v, ok := cassetteJSON(string(res.body))
		m, isObject := v.(map[string]any)
		if !ok || !isObject {
			r.t.Fatalf("fixture of %s: %s %s answered %s, not a JSON object", r.file.name, method, path, res)
		}
		out = m
	}
	return out
}

func (r *cassetteReplay) next() int { r.n++; return r.n }

// dataSource creates a data source and returns its uuid.
func (r *cassetteReplay) dataSource(name string) string {
	if name == "" {
		name = fmt.Sprintf("Cassette data source %d", r.next())
	}
	return cassetteString(r.send(http.MethodPost, "/v1/data_sources", map[string]any{"name": name})["uuid"])
}

// dataSourceFor returns Recur's data source for a recorded one, creating
// one for a data source the replay has not met.
func (r *cassetteReplay) dataSourceFor(recorded string) string {
	if recorded == "" {
		return r.fixtureDataSource()
	}
	if ds, ok := r.strs[recorded]; ok {
		return ds
	}
	ds := r.dataSource("")
	r.strs[recorded] = ds
	return ds
}

func (r *cassetteReplay) fixtureDataSource() string {
	if r.fixtureDS == "" {
		r.fixtureDS = r.dataSource("Cassette fixture")
	}
	return r.fixtureDS
}

// plan returns the fixture plan of a data source, created on first use.
func (r *cassetteReplay) plan(ds string) string {
	if p, ok := r.planOf[ds]; ok {
		return p
	}
	p := cassetteString(r.send(http.MethodPost, "/v1/plans", map[string]any{"data_source_uuid": ds, "name": "Fixture plan",
		"interval_count": 1, "interval_unit": "month", "external_id": "fixture-plan"})["uuid"])
	r.planOf[ds] = p
	return p
}

// customer creates a customer with billing history in the data source:
// two invoices of the fixture plan in January 2023 (two subscriptions, a
// one-time item, two payments) and two subscriptions scheduled to start in
// 2031 by events. body gives the customer's fields (nil: made up).
func (r *cassetteReplay) customer(ds string, body map[string]any) cassetteFixtureCustomer {
	n := r.next()
	if body == nil {
		body = map[string]any{"external_id": fmt.Sprintf("fixture-cus-%d", n), "name": fmt.Sprintf("Fixture customer %d", n),
			"email": fmt.Sprintf("fixture-%d@example.com", n)}
	}
	body["data_source_uuid"] = ds
	cus := r.send(http.MethodPost, "/v1/customers", body)
	uuid := cassetteString(cus["uuid"])
	plan := r.plan(ds)
	x := func(kind string, i int) string { return fmt.Sprintf("fixture-%s-%d-%d", kind, n, i) }
	sub := func(i int, amount int) map[string]any {
		return map[string]any{"type": "subscription", "subscription_external_id": x("sub", i), "plan_uuid": plan,
			"service_period_start": "2023-01-01", "service_period_end": "2023-02-01", "amount_in_cents": amount, "quantity": 1,
			"external_id": x("li", i)}
	}
	pay := func(i int) map[string]any {
		return map[string]any{"type": "payment", "date": "2023-01-02", "result": "successful", "external_id": x("tr", i)}
	}
	inv := r.send(http.MethodPost, "/v1/import/customers/"+uuid+"/invoices", map[string]any{"invoices": []any{
		map[string]any{"external_id": x("inv", 1), "date": "2023-01-01", "due_date": "2023-01-15", "currency": r.currency,
			"line_items": []any{sub(1, 1000)}, "transactions": []any{pay(1)}},
		map[string]any{"external_id": x("inv", 2), "date": "2023-01-01", "currency": r.currency,
			"line_items":   []any{sub(2, 2000), map[string]any{"type": "one_time", "amount_in_cents": 500, "description": "Setup", "external_id": x("li", 3)}},
			"transactions": []any{pay(2)}},
	}})
	for i := 1; i <= 2; i++ {
		r.send(http.MethodPost, "/v1/subscription_events", map[string]any{"subscription_event": map[string]any{
			"data_source_uuid": ds, "customer_external_id": body["external_id"], "subscription_external_id": x("sub-evt", i),
			"event_type": "subscription_start_scheduled", "event_date": "2023-01-01", "effective_date": "2031-01-01",
			"plan_external_id": "fixture-plan", "currency": r.currency, "amount_in_cents": 1000 * i, "quantity": 1,
			"external_id": x("evt", i)}})
	}
	first := cassettePath(inv, "invoices", 0).(map[string]any)
	li := cassettePath(first, "line_items", 0).(map[string]any)
	return cassetteFixtureCustomer{uuid: uuid, invoice: cassetteString(first["uuid"]), lineItem: cassetteString(li["uuid"]),
		subscription: cassetteString(li["subscription_uuid"]), transaction: cassetteString(cassettePath(first, "transactions", 0).(map[string]any)["uuid"])}
}

// baseFixture gives an account the data a long-lived account has: a data
// source with two plans and two customers with history.
func (r *cassetteReplay) baseFixture() {
	ds := r.fixtureDataSource()
	r.plan(ds)
	r.send(http.MethodPost, "/v1/plans", map[string]any{"data_source_uuid": ds, "name": "Fixture plan 2",
		"interval_count": 3, "interval_unit": "month", "external_id": "fixture-plan-2"})
	r.customer(ds, nil)
	r.customer(ds, nil)
}

// seed creates the objects that answers of the file show but the file does
// not create: data sources, plans and customers (merged ones with their
// merged-in customers), each mapped to the recorded one.
func (r *cassetteReplay) seed() {
	created := map[string]bool{}
	for _, in := range r.file.interactions {
		if v, ok := cassetteJSON(in.response); ok && in.method == http.MethodPost {
			cassetteWalk(v, func(o map[string]any) {
				if u := cassetteString(o["uuid"]); u != "" {
					created[u] = true
				}
			})
		}
	}
	seen := map[string]bool{}
	var dss, plans, customers []map[string]any
	for _, in := range r.file.interactions {
		v, ok := cassetteJSON(in.response)
		if !ok || in.method == http.MethodPost || in.status > 299 || cassetteScope(in) != "" {
			continue
		}
		cassetteWalk(v, func(o map[string]any) {
			u := cassetteString(o["uuid"])
			if u == "" || created[u] || seen[u] {
				return
			}
			has := func(k string) bool { _, ok := o[k]; return ok }
			switch {
			case strings.HasPrefix(u, "ds_") && has("name") && has("system"):
				dss = append(dss, o)
			case strings.HasPrefix(u, "pl_") && has("interval_unit"):
				plans = append(plans, o)
			case strings.HasPrefix(u, "cus_") && has("external_id") && has("data_source_uuid"):
				customers = append(customers, o)
			default:
				return
			}
			seen[u] = true
		})
	}
	for _, o := range dss {
		ds := r.dataSource(cassetteString(o["name"]))
		r.strs[cassetteString(o["uuid"])] = ds
	}
	for _, o := range plans {
		body := map[string]any{"data_source_uuid": r.dataSourceFor(cassetteString(o["data_source_uuid"]))}
		for _, k := range []string{"name", "interval_count", "interval_unit", "external_id"} {
			body[k] = o[k]
		}
		r.mapIDs(o, r.send(http.MethodPost, "/v1/plans", body), "")
	}
	for _, o := range customers {
		ds := r.dataSourceFor(cassetteString(o["data_source_uuid"]))
		body := map[string]any{}
		for _, k := range []string{"external_id", "name", "email", "company", "country", "state", "city", "zip",
			"lead_created_at", "free_trial_started_at", "website_url"} {
			if s := cassetteString(o[k]); s != "" {
				body[k] = s
			}
		}
		if a, ok := o["attributes"].(map[string]any); ok && a["tags"] != nil {
			body["attributes"] = map[string]any{"tags": a["tags"]}
		}
		cus := r.customer(ds, body)
		// A merged customer lists every data source and external id it
		// gathered: create the others and merge them in, then map the
		// merged customer's lists.
		dss, _ := o["data_source_uuids"].([]any)
		exts, _ := o["external_ids"].([]any)
		for i := range min(len(dss), len(exts)) {
			d, e := cassetteString(dss[i]), cassetteString(exts[i])
			if d == cassetteString(o["data_source_uuid"]) && e == cassetteString(o["external_id"]) {
				continue
			}
			other := r.send(http.MethodPost, "/v1/customers", map[string]any{"data_source_uuid": r.dataSourceFor(d), "external_id": e, "name": body["name"]})
			r.send(http.MethodPost, "/v1/customers/merges", map[string]any{"from": map[string]any{"customer_uuid": other["uuid"]},
				"into": map[string]any{"customer_uuid": cus.uuid}})
		}
		r.mapIDs(o, r.send(http.MethodGet, "/v1/customers/"+cus.uuid, nil), "")
	}
}

// provision maps every object the text refers to that the replay has not
// met to a new object of its kind.
// Objects are made in the first data source the text names, so that a
// request such as DELETE /v1/data_sources/{ds}/customers/{cus}/invoices
// finds the customer in the data source.
//
// An unmerge names a customer and the data source and external id merged
// into it: a customer the replay has not met is made merged so.
func (r *cassetteReplay) provision(in cassetteInteraction) {
	if in.method == http.MethodPost && in.path == "/v1/customers/unmerges" {
		var u struct {
			CustomerUUID   string `json:"customer_uuid"`
			DataSourceUUID string `json:"data_source_uuid"`
			ExternalID     string `json:"external_id"`
		}
		if json.Unmarshal([]byte(in.body), &u) == nil && u.CustomerUUID != "" && u.DataSourceUUID != "" {
			if _, ok := r.strs[u.CustomerUUID]; !ok {
				into := r.customer(r.fixtureDataSource(), nil)
				from := r.send(http.MethodPost, "/v1/customers", map[string]any{"data_source_uuid": r.dataSourceFor(u.DataSourceUUID),
					"external_id": u.ExternalID, "name": "Merged customer"})
				r.send(http.MethodPost, "/v1/customers/merges", map[string]any{"from": map[string]any{"customer_uuid": from["uuid"]},
					"into": map[string]any{"customer_uuid": into.uuid}})
				r.strs[u.CustomerUUID] = into.uuid
			}
		}
	}
	// The by-e-mail attribute routes name a customer of the recorder's
	// account by its address: the fixture gets one with that address.
	if in.method == http.MethodPost && strings.HasPrefix(in.path, "/v1/customers/attributes/") {
		var b struct {
			Email string `json:"email"`
		}
		if json.Unmarshal([]byte(in.body), &b) == nil && b.Email != "" && !r.emails[b.Email] {
			if r.emails == nil {
				r.emails = map[string]bool{}
			}
			r.emails[b.Email] = true
			n := r.next()
			r.customer(r.fixtureDataSource(), map[string]any{"external_id": fmt.Sprintf("fixture-cus-%d", n),
				"name": fmt.Sprintf("Fixture customer %d", n), "email": b.Email})
		}
	}
	refs := cassetteRef.FindAllString(in.path+"\n"+in.body, -1)
	ds := ""
	for _, ref := range refs {
		if strings.HasPrefix(ref, "ds_") {
			ds = r.dataSourceFor(ref)
			break
		}
	}
	if ds == "" {
		ds = r.fixtureDataSource()
	}
	for _, ref := range refs {
		if _, ok := r.strs[ref]; ok {
			continue
		}
		switch kind := ref[:strings.IndexByte(ref, '_')]; kind {
		case "ds":
			r.strs[ref] = r.dataSource("")
		case "pl":
			r.strs[ref] = cassetteString(r.send(http.MethodPost, "/v1/plans", map[string]any{"data_source_uuid": ds,
				"name": fmt.Sprintf("Plan %d", r.next()), "interval_count": 1, "interval_unit": "month"})["uuid"])
		default:
			c := r.customer(ds, nil)
			r.strs[ref] = map[string]string{"cus": c.uuid, "inv": c.invoice, "li": c.lineItem, "tr": c.transaction, "sub": c.subscription}[kind]
		}
	}
}

// mapIDs maps the ids of a recorded answer to the values at the same paths
// of Recur's; the first mapping of a recorded value holds.
func (r *cassetteReplay) mapIDs(rec, ours any, key string) {
	switch rv := rec.(type) {
	case map[string]any:
		if ov, ok := ours.(map[string]any); ok {
			for k, v := range rv {
				if o, ok := ov[k]; ok {
					r.mapIDs(v, o, k)
				}
			}
		}
	case []any:
		if ov, ok := ours.([]any); ok && len(rv) > 0 {
			for i, o := range ov {
				if p := cassettePair(rv, o, i); p != nil {
					r.mapIDs(p, o, key)
				}
			}
		}
	case string:
		if os, ok := ours.(string); ok && (key == "cursor" || cassetteIDValue.MatchString(rv)) {
			if _, done := r.strs[rv]; !done {
				r.strs[rv] = os
			}
		}
	case json.Number:
		if on, ok := ours.(json.Number); ok && key == "id" && len(rv.String()) >= 5 {
			if _, done := r.ints[rv.String()]; !done {
				r.ints[rv.String()] = on.String()
			}
		}
	}
}

// rewrite replaces recorded ids and cursors with Recur's; in a path, their
// query-escaped forms too.
func (r *cassetteReplay) rewrite(s string, inPath bool) string {
	keys := make([]string, 0, len(r.strs))
	for k := range r.strs {
		keys = append(keys, k)
	}
	// Longest first, so that no id is replaced inside a longer one.
	sort.Slice(keys, func(i, j int) bool { return len(keys[i]) > len(keys[j]) })
	for _, k := range keys {
		if inPath {
			s = strings.ReplaceAll(s, url.QueryEscape(k), url.QueryEscape(r.strs[k]))
		}
		s = strings.ReplaceAll(s, k, r.strs[k])
	}
	return cassetteToken.ReplaceAllStringFunc(s, func(tok string) string {
		if v, ok := r.ints[tok]; ok {
			return v
		}
		return tok
	})
}

// run replays the file and returns what each interaction found.
func (r *cassetteReplay) run() []cassetteResult {
	t := r.t
	acct := r.send(http.MethodGet, "/v1/account", nil)
	r.currency = cassetteString(acct["currency"])
	ins := r.file.interactions
	if !(ins[0].method == http.MethodPost && ins[0].path == "/v1/data_sources") {
		r.baseFixture()
	}
	r.seed()
	var out []cassetteResult
	for i, in := range ins {
		res := cassetteResult{file: r.file.name, index: i, in: in}
		if res.outOfScope = cassetteScope(in); res.outOfScope != "" {
			out = append(out, res)
			continue
		}
		r.provision(in)
		res.sentPath, res.sentBody = r.rewrite(in.path, true), r.rewrite(in.body, false)
		client := r.c
		if in.status == http.StatusUnauthorized {
			client = r.c.as("rk_cassette_unknown_key_0123456789abcd")
		}
		if cassetteAnalytics.MatchString(res.sentPath) {
			r.wait(t)
		}
		var body []byte
		if res.sentBody != "" {
			body = []byte(res.sentBody)
		}
		got, err := client.send(in.method, res.sentPath, body)
		if err != nil {
			t.Fatalf("%s #%d: %v", r.file.name, i, err)
		}
		res.status, res.body = got.status, string(got.body)
		res.diffs = cassetteDiff(in, got)
		if in.status < 300 && got.status < 300 {
			rec, ok1 := cassetteJSON(in.response)
			ours, ok2 := cassetteJSON(res.body)
			if ok1 && ok2 {
				r.mapIDs(rec, ours, "")
			}
		}
		out = append(out, res)
	}
	return out
}

// cassetteDiff compares Recur's answer with the recorded one.
func cassetteDiff(in cassetteInteraction, got *e2eResponse) []string {
	if in.status != got.status {
		return []string{fmt.Sprintf("status: ChartMogul %d, Recur %d", in.status, got.status)}
	}
	recEmpty, oursEmpty := strings.TrimSpace(in.response) == "", len(bytes.TrimSpace(got.body)) == 0
	rec, recOK := cassetteJSON(in.response)
	ours, oursOK := cassetteJSON(string(got.body))
	switch {
	case recEmpty && oursEmpty:
		return nil
	case recEmpty:
		return []string{"body: ChartMogul empty, Recur " + cassetteKind(ours)}
	case oursEmpty:
		return []string{"body: ChartMogul " + cassetteKind(rec) + ", Recur empty"}
	case !recOK:
		return []string{"body: ChartMogul's is not JSON"}
	case !oursOK:
		return []string{"body: Recur's is not JSON"}
	}
	set := map[string]bool{}
	cassetteCompare("$", rec, ours, false, set)
	out := make([]string, 0, len(set))
	for d := range set {
		out = append(out, d)
	}
	sort.Strings(out)
	return out
}

// cassetteCompare adds the differences between a recorded value and
// Recur's to out; neverNull says the official clients cannot take null
// here.
func cassetteCompare(path string, rec, ours any, neverNull bool, out map[string]bool) {
	rk, ok := cassetteKind(rec), cassetteKind(ours)
	switch {
	case rk == "null":
		return
	case ok == "null":
		if neverNull {
			out[fmt.Sprintf("%s: ChartMogul %s, Recur null", path, rk)] = true
		}
		return
	case rk != ok:
		out[fmt.Sprintf("%s: ChartMogul %s, Recur %s", path, rk, ok)] = true
		return
	}
	switch rv := rec.(type) {
	case map[string]any:
		cassetteCompareObject(path, rv, ours.(map[string]any), rv, out)
	case []any:
		ov := ours.([]any)
		if len(rv) == 0 || len(ov) == 0 {
			return
		}
		for i, o := range ov {
			pair := cassettePair(rv, o, i)
			if pair == nil {
				continue
			}
			pm, ok1 := pair.(map[string]any)
			om, ok2 := o.(map[string]any)
			if ok1 && ok2 {
				// Keys of any recorded element of the same type are
				// allowed: ChartMogul leaves out some keys per element.
				union := map[string]any{}
				for _, e := range rv {
					if m, ok := e.(map[string]any); ok && cassetteSameType(m, om) {
						for k, v := range m {
							union[k] = v
						}
					}
				}
				cassetteCompareObject(path+"[]", pm, om, union, out)
			} else {
				cassetteCompare(path+"[]", pair, o, false, out)
			}
		}
	}
}

// cassetteCompareObject compares a recorded object with Recur's: keys of
// rec that ours lacks are missing, keys of ours that allowed lacks are
// extra.
func cassetteCompareObject(path string, rec, ours, allowed map[string]any, out map[string]bool) {
	if cassetteFreeForm(path) {
		return
	}
	var missing, extra []string
	for k := range rec {
		if _, ok := ours[k]; !ok {
			missing = append(missing, k)
		}
	}
	for k := range ours {
		if _, ok := allowed[k]; !ok {
			extra = append(extra, k)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		out[fmt.Sprintf("%s: missing keys %s", path, strings.Join(missing, ", "))] = true
	}
	if len(extra) > 0 {
		sort.Strings(extra)
		out[fmt.Sprintf("%s: extra keys %s", path, strings.Join(extra, ", "))] = true
	}
	nn := cassetteNeverNull(rec)
	for k, v := range rec {
		if o, ok := ours[k]; ok {
			cassetteCompare(path+"."+k, v, o, nn[k], out)
		}
	}
}

// cassettePair is the recorded element an element of Recur's array is
// compared with: the one with the same external_id, else the one of the
// same type sharing most keys with it (the same index breaking ties), so
// that a reordered answer (ChartMogul lists an invoice's subscription items
// before its one-time items) compares like with like. It is nil when the
// recording has no element of the element's type: there is nothing to
// compare it with.
func cassettePair(rec []any, o any, i int) any {
	om, ok := o.(map[string]any)
	if !ok {
		return rec[min(i, len(rec)-1)]
	}
	var best any
	bestScore := -1
	for j, e := range rec {
		m, ok := e.(map[string]any)
		if !ok || !cassetteSameType(m, om) {
			continue
		}
		score := 0
		for k := range m {
			if _, ok := om[k]; ok {
				score += 4
			}
		}
		if j == i {
			score += 2
		}
		if x := cassetteString(m["external_id"]); x != "" && x == cassetteString(om["external_id"]) {
			score += 1 << 20
		}
		if score > bestScore {
			best, bestScore = e, score
		}
	}
	return best
}

// cassetteSameType reports whether two objects are of the same kind: the
// same "type" member, when both have one.
func cassetteSameType(a, b map[string]any) bool {
	ta, ok1 := a["type"].(string)
	tb, ok2 := b["type"].(string)
	return !ok1 || !ok2 || ta == tb
}

// cassetteFreeForm reports whether the object at path is a map whose keys
// are data rather than schema.
func cassetteFreeForm(path string) bool {
	for _, s := range []string{".custom", ".clearbit", ".stripe", ".status_details"} {
		if strings.HasSuffix(path, s) {
			return true
		}
	}
	return false
}

// cassetteNeverNull names the members of an object that the official
// clients need non-null (spec/import-api.md §9.7), recognising the object
// by its recorded members.
func cassetteNeverNull(o map[string]any) map[string]bool {
	has := func(k string) bool { _, ok := o[k]; return ok }
	set := func(keys ...string) map[string]bool {
		m := map[string]bool{}
		for _, k := range keys {
			m[k] = true
		}
		return m
	}
	switch {
	case has("billing-system-type") || has("customer-since"):
		return set("data_source_uuid", "external_id", "name", "company", "email", "uuid", "id", "status", "mrr", "arr",
			"chartmogul-url", "billing-system-type", "currency", "currency-sign")
	case has("interval_unit"):
		return set("uuid", "name", "interval_count", "interval_unit", "external_id")
	case has("line_items"):
		return set("uuid", "date", "currency")
	case has("event_type"):
		return set("id", "data_source_uuid", "customer_external_id", "event_type", "event_date", "effective_date")
	case has("result") && has("date"):
		return set("uuid", "type", "date", "result")
	case has("system") && has("name"):
		return set("uuid", "name", "created_at", "status", "system")
	case has("amount_in_cents") && has("type"):
		return set("uuid", "type", "amount_in_cents", "quantity", "discount_amount_in_cents", "tax_amount_in_cents",
			"transaction_fees_in_cents", "prorated")
	case has("status_details"):
		return set("id")
	}
	return nil
}

// cassetteKind is the JSON type of a decoded value.
func cassetteKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "bool"
	case json.Number:
		return "number"
	case string:
		return "string"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	}
	return fmt.Sprintf("%T", v)
}

// cassetteJSON decodes one JSON value, keeping numbers exact.
func cassetteJSON(s string) (any, bool) {
	if strings.TrimSpace(s) == "" {
		return nil, false
	}
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil || d.More() {
		return nil, false
	}
	return v, true
}

// cassetteWalk calls f on every object in v, outermost first.
func cassetteWalk(v any, f func(map[string]any)) {
	switch x := v.(type) {
	case map[string]any:
		f(x)
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			cassetteWalk(x[k], f)
		}
	case []any:
		for _, e := range x {
			cassetteWalk(e, f)
		}
	}
}

// cassettePath reads v[key][i].
func cassettePath(v map[string]any, key string, i int) any {
	if a, ok := v[key].([]any); ok && i < len(a) {
		return a[i]
	}
	return map[string]any{}
}

func cassetteString(v any) string {
	s, _ := v.(string)
	return s
}

// cassetteImportRates imports daily EUR, GBP and JPY rates against USD for
// 2014 to 2032 with `sandbox rates import`, as an operator of an account
// billing in those currencies would.
func cassetteImportRates(t *testing.T, dbURL string) {
	t.Helper()
	var b strings.Builder
	b.WriteString("date,currency,rate\n")
	for d := time.Date(2014, 1, 1, 0, 0, 0, 0, time.UTC); d.Year() < 2033; d = d.AddDate(0, 0, 1) {
		day := d.Format("2006-01-02")
		fmt.Fprintf(&b, "%s,EUR,0.9\n%s,GBP,0.8\n%s,JPY,150\n", day, day, day)
	}
	file := filepath.Join(t.TempDir(), "rates.csv")
	if err := os.WriteFile(file, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"rates", "import", "--database", dbURL, file}, e2eEnv(nil), strings.NewReader(""), &stdout, &stderr); err != nil {
		t.Fatalf("sandbox rates import: %v\n%s", err, stderr.String())
	}
}

// TestCassetteReplay replays every recorded exchange with ChartMogul in
// testdata/cassettes against `sandbox serve` on each engine and compares the
// answers' status codes, key sets and JSON types with the recorded ones.
// It fails on a difference cassetteKnownDifferences does not list, and on
// a listed one that no longer occurs.
func TestCassetteReplay(t *testing.T) {
	t.Parallel()
	files := cassetteLoadAll(t)
	for _, db := range storetest.Databases(t) {
		t.Run(db.Engine, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			cassetteImportRates(t, db.URL)
			// The replay makes about a thousand writes, each queueing an
			// analytics recompute, and waits for them before every
			// Metrics API request: more workers keep the wait short.
			srv := startE2EServer(t, db.URL, "--rate-limit", "0", "--import-workers", "8")
			st, err := store.Open(ctx, db.URL, store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			wait := func(t *testing.T) {
				t.Helper()
				end := time.Now().Add(cassetteAnalyticsDeadline)
				for {
					n, err := st.AnalyticsPending(ctx)
					if err != nil {
						t.Fatal(err)
					}
					if n == 0 {
						return
					}
					if time.Now().After(end) {
						t.Fatalf("%d analytics recomputes still pending after %s", n, cassetteAnalyticsDeadline)
					}
					time.Sleep(20 * time.Millisecond)
				}
			}
			var mu sync.Mutex
			var results []cassetteResult
			t.Run("replay", func(t *testing.T) {
				for i, f := range files {
					account, err := st.EnsureAccount(ctx, fmt.Sprintf("cassette-%03d", i))
					if err != nil {
						t.Fatal(err)
					}
					key, err := st.CreateKey(ctx, account.ID, chartmogul.AccessReadWrite)
					if err != nil {
						t.Fatal(err)
					}
					// One file at a time: the wait for the analytics
					// counts every account's pending recomputes, and
					// other files' writes would keep it waiting.
					t.Run(f.name, func(t *testing.T) {
						r := &cassetteReplay{t: t, c: srv.as(key), file: f, wait: wait, strs: map[string]string{},
							ints: map[string]string{}, planOf: map[string]string{}}
						res := r.run()
						mu.Lock()
						results = append(results, res...)
						mu.Unlock()
					})
				}
			})
			if t.Failed() {
				return
			}
			cassetteCheck(t, results)
		})
	}
}

// cassetteCheck fails t for every difference the table does not list and
// every listed difference that did not occur.
func cassetteCheck(t *testing.T, results []cassetteResult) {
	t.Helper()
	sort.Slice(results, func(i, j int) bool {
		if results[i].file != results[j].file {
			return results[i].file < results[j].file
		}
		return results[i].index < results[j].index
	})
	type at struct {
		file  string
		index int
	}
	known := map[at][]string{}
	for _, k := range cassetteKnownDifferences {
		known[at{k.file, k.index}] = append(known[at{k.file, k.index}], k.diff)
	}
	var outOfScope, compared int
	for _, res := range results {
		if res.outOfScope != "" {
			outOfScope++
			continue
		}
		compared++
		want := known[at{res.file, res.index}]
		var unexpected []string
		for _, d := range res.diffs {
			if !slices.Contains(want, d) {
				unexpected = append(unexpected, d)
			}
		}
		var stale []string
		for _, d := range want {
			if !slices.Contains(res.diffs, d) {
				stale = append(stale, d)
			}
		}
		if len(unexpected) > 0 {
			t.Errorf("%s #%d %s %s\n  sent: %s %s %s\n  differences not in cassetteKnownDifferences:\n    %s\n  ChartMogul answered %d: %s\n  Recur answered %d: %s",
				res.file, res.index, res.in.method, res.in.path, res.in.method, res.sentPath, cassetteTrim(res.sentBody, 600),
				strings.Join(unexpected, "\n    "), res.in.status, cassetteTrim(res.in.response, 1500), res.status, cassetteTrim(res.body, 1500))
		}
		if len(stale) > 0 {
			t.Errorf("%s #%d %s %s: cassetteKnownDifferences lists differences that no longer occur; remove them:\n    %s",
				res.file, res.index, res.in.method, res.in.path, strings.Join(stale, "\n    "))
		}
	}
	t.Logf("%d recorded interactions compared, %d out of scope, %d known differences", compared, outOfScope, len(cassetteKnownDifferences))
	if testing.Verbose() {
		for _, res := range results {
			switch {
			case res.outOfScope != "":
				t.Logf("%s #%d %s %s: out of scope (%s)", res.file, res.index, res.in.method, res.in.path, res.outOfScope)
			case len(res.diffs) > 0:
				for _, d := range res.diffs {
					why := "not in cassetteKnownDifferences"
					for _, k := range cassetteKnownDifferences {
						if k.file == res.file && k.index == res.index && k.diff == d {
							why = k.why
						}
					}
					t.Logf("%s #%d %s %s: %s (%s)", res.file, res.index, res.in.method, res.in.path, d, why)
				}
			}
		}
	}
}

func cassetteTrim(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…(" + strconv.Itoa(len(s)) + " bytes)"
}
