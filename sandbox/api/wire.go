package api

import (
	"strconv"
	"strings"
	"time"

	"github.com/recurhq/recur/chartmogul"
)

// The wire shapes of ChartMogul's objects. Field order, key spelling
// (hyphens included), nulls and layouts of times follow the recorded
// responses in testdata/cassettes; the official clients decode these with
// fixed types (spec §9.7), so numbers are numbers and never null where a
// client expects one.

func millis(t time.Time) string { return chartmogul.FormatMillis(t) }

func optMillis(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := chartmogul.FormatMillis(*t)
	return &s
}

type dataSourceJSON struct {
	UUID      string `json:"uuid"`
	Name      string `json:"name"`
	System    string `json:"system"`
	CreatedAt string `json:"created_at"`
	Status    string `json:"status"`
	// WebhookURL is Recur's extension (api/webhooks.go), shown only when
	// set so that the recorded key set stays as it is otherwise.
	WebhookURL string `json:"webhook_url,omitempty"`
}

func toDataSource(d *chartmogul.DataSource) dataSourceJSON {
	return dataSourceJSON{UUID: d.UUID, Name: d.Name, System: d.System, CreatedAt: millis(d.CreatedAt), Status: "idle", WebhookURL: d.WebhookURL}
}

type accountJSON struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Currency    string `json:"currency"`
	TimeZone    string `json:"time_zone"`
	WeekStartOn string `json:"week_start_on"`
}

type addressJSON struct {
	Country    *string `json:"country"`
	State      *string `json:"state"`
	City       string  `json:"city"`
	AddressZip *string `json:"address_zip"`
}

type attributesJSON struct {
	Custom   map[string]any `json:"custom"`
	Clearbit map[string]any `json:"clearbit"`
	Stripe   map[string]any `json:"stripe"`
	Tags     []string       `json:"tags"`
}

type customerJSON struct {
	ID                 int64          `json:"id"`
	UUID               string         `json:"uuid"`
	ExternalID         string         `json:"external_id"`
	Name               string         `json:"name"`
	Email              string         `json:"email"`
	Status             string         `json:"status"`
	CustomerSince      *string        `json:"customer-since"`
	Attributes         attributesJSON `json:"attributes"`
	DataSourceUUID     string         `json:"data_source_uuid"`
	DataSourceUUIDs    []string       `json:"data_source_uuids"`
	ExternalIDs        []string       `json:"external_ids"`
	Company            string         `json:"company"`
	Country            *string        `json:"country"`
	State              *string        `json:"state"`
	City               string         `json:"city"`
	Zip                *string        `json:"zip"`
	LeadCreatedAt      *string        `json:"lead_created_at"`
	FreeTrialStartedAt *string        `json:"free_trial_started_at"`
	Address            addressJSON    `json:"address"`
	MRR                int64          `json:"mrr"`
	ARR                int64          `json:"arr"`
	BillingSystemURL   *string        `json:"billing-system-url"`
	ChartMogulURL      string         `json:"chartmogul-url"`
	BillingSystemType  string         `json:"billing-system-type"`
	Currency           string         `json:"currency"`
	CurrencySign       string         `json:"currency-sign"`
	Owner              *string        `json:"owner"`
	WebsiteURL         *string        `json:"website_url"`
}

// customerURL is the customer's page in Recur's dashboard, where ChartMogul
// links to its own app.
func customerURL(base string, c *chartmogul.Customer) string {
	name := strings.Map(func(r rune) rune {
		if r == ' ' || r == '/' || r == '#' || r == '?' {
			return '_'
		}
		return r
	}, c.Name)
	return base + "/#/customers/" + strconv.FormatInt(c.ID, 10) + "-" + name
}

func toCustomer(c *chartmogul.Customer, account *chartmogul.Account, base string) customerJSON {
	country, state := optString(c.Country), optString(c.State)
	var countryName, stateName *string
	if c.Country != "" {
		countryName = optString(chartmogul.CountryName(c.Country))
		if c.State != "" {
			stateName = optString(chartmogul.StateName(c.Country, c.State))
		}
	} else if c.State != "" {
		stateName = state
	}
	return customerJSON{
		ID: c.ID, UUID: c.UUID, ExternalID: c.ExternalID, Name: c.Name, Email: c.Email,
		Status:         cmpOr(c.Status, cmpOr(c.LeadStatus, "New Lead")),
		Attributes:     attributesJSON{Custom: orEmpty(c.Custom), Clearbit: map[string]any{}, Stripe: map[string]any{}, Tags: append([]string{}, c.Tags...)},
		DataSourceUUID: c.DataSourceUUID, DataSourceUUIDs: dataSourceUUIDsOf(c), ExternalIDs: externalIDsOf(c),
		Company: c.Company, Country: country, State: state, City: c.City, Zip: optString(c.Zip),
		LeadCreatedAt: optMillis(c.LeadCreatedAt), FreeTrialStartedAt: optMillis(c.FreeTrialStartedAt),
		Address:           addressJSON{Country: countryName, State: stateName, City: c.City, AddressZip: optString(c.Zip)},
		ChartMogulURL:     customerURL(base, c),
		BillingSystemType: chartmogul.DataSourceSystemCustom,
		Currency:          account.Currency, CurrencySign: chartmogul.CurrencySign(account.Currency),
		WebsiteURL: optString(c.WebsiteURL), Owner: optString(c.Owner),
		CustomerSince: optOffset(c.CustomerSince), MRR: c.MRR, ARR: c.ARR,
	}
}

func orEmpty(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

type planJSON struct {
	UUID           string `json:"uuid"`
	DataSourceUUID string `json:"data_source_uuid"`
	Name           string `json:"name"`
	IntervalCount  int64  `json:"interval_count"`
	IntervalUnit   string `json:"interval_unit"`
	ExternalID     string `json:"external_id"`
}

func toPlan(p *chartmogul.Plan) planJSON {
	return planJSON{UUID: p.UUID, DataSourceUUID: p.DataSourceUUID, Name: p.Name, IntervalCount: p.IntervalCount, IntervalUnit: p.IntervalUnit, ExternalID: p.ExternalID}
}

// subscriptionItemJSON is a subscription or trial line item, oneTimeItemJSON
// a one-time one: ChartMogul answers them with different keys.
type subscriptionItemJSON struct {
	UUID                      string  `json:"uuid"`
	ExternalID                *string `json:"external_id"`
	Type                      string  `json:"type"`
	SubscriptionUUID          string  `json:"subscription_uuid"`
	SubscriptionExternalID    string  `json:"subscription_external_id"`
	Prorated                  bool    `json:"prorated"`
	ProrationType             *string `json:"proration_type"`
	ServicePeriodStart        *string `json:"service_period_start"`
	ServicePeriodEnd          *string `json:"service_period_end"`
	SubscriptionSetExternalID string  `json:"subscription_set_external_id,omitempty"`
	CancelledAt               *string `json:"cancelled_at,omitzero"`
	PlanUUID                  string  `json:"plan_uuid"`
	AmountInCents             int64   `json:"amount_in_cents"`
	Quantity                  int64   `json:"quantity"`
	DiscountCode              string  `json:"discount_code"`
	DiscountAmountInCents     int64   `json:"discount_amount_in_cents"`
	TaxAmountInCents          int64   `json:"tax_amount_in_cents"`
	TransactionFeesInCents    int64   `json:"transaction_fees_in_cents"`
	AccountCode               string  `json:"account_code"`
	TransactionFeesCurrency   *string `json:"transaction_fees_currency"`
	DiscountDescription       *string `json:"discount_description"`
	EventOrder                *int64  `json:"event_order"`
	// BalanceTransfer appears only in GET /v1/invoices, as ChartMogul's
	// newer answers of that list have it and its other answers do not.
	BalanceTransfer *bool `json:"balance_transfer,omitzero"`
	disabledState
}

type oneTimeItemJSON struct {
	UUID                    string  `json:"uuid"`
	ExternalID              *string `json:"external_id"`
	Type                    string  `json:"type"`
	Description             *string `json:"description"`
	AmountInCents           int64   `json:"amount_in_cents"`
	Quantity                int64   `json:"quantity"`
	DiscountCode            string  `json:"discount_code"`
	DiscountAmountInCents   int64   `json:"discount_amount_in_cents"`
	TaxAmountInCents        int64   `json:"tax_amount_in_cents"`
	TransactionFeesInCents  int64   `json:"transaction_fees_in_cents"`
	AccountCode             string  `json:"account_code"`
	TransactionFeesCurrency *string `json:"transaction_fees_currency"`
	DiscountDescription     *string `json:"discount_description"`
	EventOrder              *int64  `json:"event_order"`
	BalanceTransfer         *bool   `json:"balance_transfer,omitzero"`
	disabledState
}

func toLineItem(li *chartmogul.LineItem) any {
	if !li.IsRecurring() {
		return oneTimeItemJSON{UUID: li.UUID, ExternalID: optString(li.ExternalID), Type: li.Type, Description: optString(li.Description),
			AmountInCents: li.AmountInCents, Quantity: li.Quantity, DiscountCode: li.DiscountCode,
			DiscountAmountInCents: li.DiscountAmountInCents, TaxAmountInCents: li.TaxAmountInCents,
			TransactionFeesInCents: li.TransactionFeesInCents, AccountCode: li.AccountCode,
			TransactionFeesCurrency: optString(li.TransactionFeesCurrency), DiscountDescription: optString(li.DiscountDescription),
			EventOrder: li.EventOrder, disabledState: stateOf(li.Disabled, li.DisabledAt, li.DisabledBy, false)}
	}
	return subscriptionItemJSON{UUID: li.UUID, ExternalID: optString(li.ExternalID), Type: li.Type,
		SubscriptionUUID: li.SubscriptionUUID, SubscriptionExternalID: li.SubscriptionExternalID,
		Prorated: li.Prorated, ProrationType: optString(li.ProrationType),
		ServicePeriodStart: optMillis(li.ServicePeriodStart), ServicePeriodEnd: optMillis(li.ServicePeriodEnd),
		SubscriptionSetExternalID: li.SubscriptionSetExternalID, CancelledAt: optMillis(li.CancelledAt), PlanUUID: li.PlanUUID,
		AmountInCents: li.AmountInCents, Quantity: li.Quantity, DiscountCode: li.DiscountCode,
		DiscountAmountInCents: li.DiscountAmountInCents, TaxAmountInCents: li.TaxAmountInCents,
		TransactionFeesInCents: li.TransactionFeesInCents, AccountCode: li.AccountCode,
		TransactionFeesCurrency: optString(li.TransactionFeesCurrency), DiscountDescription: optString(li.DiscountDescription),
		EventOrder: li.EventOrder, disabledState: stateOf(li.Disabled, li.DisabledAt, li.DisabledBy, false)}
}

type transactionJSON struct {
	UUID                    string  `json:"uuid"`
	ExternalID              *string `json:"external_id"`
	AmountInCents           *int64  `json:"amount_in_cents"`
	Type                    string  `json:"type"`
	Date                    string  `json:"date"`
	Result                  string  `json:"result"`
	TransactionFeesInCents  *int64  `json:"transaction_fees_in_cents"`
	TransactionFeesCurrency *string `json:"transaction_fees_currency"`
	disabledState
}

func toTransaction(t *chartmogul.Transaction) transactionJSON {
	return transactionJSON{UUID: t.UUID, ExternalID: optString(t.ExternalID), AmountInCents: t.AmountInCents, Type: t.Type,
		Date: millis(t.Date), Result: t.Result, TransactionFeesInCents: t.TransactionFeesInCents, TransactionFeesCurrency: optString(t.TransactionFeesCurrency),
		disabledState: stateOf(t.Disabled, t.DisabledAt, t.DisabledBy, false)}
}

type invoiceJSON struct {
	UUID         string            `json:"uuid"`
	CustomerUUID string            `json:"customer_uuid,omitempty"`
	Date         string            `json:"date"`
	DueDate      *string           `json:"due_date"`
	Errors       map[string]string `json:"errors"`
	ExternalID   string            `json:"external_id"`
	Currency     string            `json:"currency"`
	LineItems    []any             `json:"line_items"`
	Transactions []transactionJSON `json:"transactions"`
	disabledState
}

func toInvoice(inv *chartmogul.Invoice, withCustomer bool) invoiceJSON {
	j := invoiceJSON{UUID: inv.UUID, Date: millis(inv.Date), DueDate: optMillis(inv.DueDate), Errors: map[string]string{},
		ExternalID: inv.ExternalID, Currency: inv.Currency, LineItems: make([]any, len(inv.LineItems)),
		Transactions: make([]transactionJSON, len(inv.Transactions)), disabledState: stateOf(inv.Disabled, inv.DisabledAt, inv.DisabledBy, false)}
	if withCustomer {
		j.CustomerUUID = inv.CustomerUUID
	}
	for i := range inv.LineItems {
		j.LineItems[i] = toLineItem(&inv.LineItems[i])
	}
	for i := range inv.Transactions {
		j.Transactions[i] = toTransaction(&inv.Transactions[i])
	}
	return j
}

type eventJSON struct {
	ID                        int64             `json:"id"`
	DataSourceUUID            string            `json:"data_source_uuid"`
	CustomerExternalID        string            `json:"customer_external_id"`
	SubscriptionSetExternalID *string           `json:"subscription_set_external_id"`
	SubscriptionExternalID    *string           `json:"subscription_external_id"`
	PlanExternalID            *string           `json:"plan_external_id"`
	EventDate                 string            `json:"event_date"`
	EffectiveDate             string            `json:"effective_date"`
	EventType                 string            `json:"event_type"`
	ExternalID                *string           `json:"external_id"`
	Errors                    map[string]string `json:"errors"`
	CreatedAt                 string            `json:"created_at"`
	UpdatedAt                 string            `json:"updated_at"`
	Quantity                  *int64            `json:"quantity"`
	Currency                  *string           `json:"currency"`
	AmountInCents             *int64            `json:"amount_in_cents"`
	TaxAmountInCents          *int64            `json:"tax_amount_in_cents"`
	RetractedEventID          *string           `json:"retracted_event_id"`
	EventOrder                *int64            `json:"event_order"`
	Disabled                  bool              `json:"disabled"`
	DisabledAt                *string           `json:"disabled_at"`
	// Retracted is Recur's extension: whether an enabled retraction
	// withdraws the event (see package bulk's retractions).
	Retracted bool `json:"retracted"`
}

func toEvent(e *chartmogul.SubscriptionEvent) eventJSON {
	return eventJSON{ID: e.ID, DataSourceUUID: e.DataSourceUUID, CustomerExternalID: e.CustomerExternalID,
		SubscriptionSetExternalID: optString(e.SubscriptionSetExternalID), SubscriptionExternalID: optString(e.SubscriptionExternalID),
		PlanExternalID: optString(e.PlanExternalID), EventDate: chartmogul.FormatSeconds(e.EventDate), EffectiveDate: chartmogul.FormatSeconds(e.EffectiveDate),
		EventType: e.EventType, ExternalID: optString(e.ExternalID), Errors: map[string]string{},
		CreatedAt: chartmogul.FormatSeconds(e.CreatedAt), UpdatedAt: chartmogul.FormatSeconds(e.UpdatedAt),
		Quantity: e.Quantity, Currency: optString(e.Currency), AmountInCents: e.AmountInCents, TaxAmountInCents: e.TaxAmountInCents,
		RetractedEventID: optString(e.RetractedEventID), EventOrder: e.EventOrder,
		Disabled: e.Disabled, DisabledAt: optEventSeconds(e.DisabledAt), Retracted: e.RetractedBy != 0}
}

func optEventSeconds(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := chartmogul.FormatSeconds(*t)
	return &s
}

// withBalanceTransfer adds balance_transfer to an invoice's line items: GET
// /v1/invoices answers with it, ChartMogul's other invoice answers without.
func withBalanceTransfer(j *invoiceJSON, inv *chartmogul.Invoice) {
	for i := range j.LineItems {
		bt := inv.LineItems[i].BalanceTransfer
		switch li := j.LineItems[i].(type) {
		case subscriptionItemJSON:
			li.BalanceTransfer = &bt
			j.LineItems[i] = li
		case oneTimeItemJSON:
			li.BalanceTransfer = &bt
			j.LineItems[i] = li
		}
	}
}
