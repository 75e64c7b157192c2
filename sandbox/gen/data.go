package gen

// Static tables the generator draws from. Every table is a slice, never a
// map, so that no iteration order can leak into the output.

// plan is one entry of the fixed plan catalogue.
type plan struct {
	id     string // external_id
	name   string
	count  int    // interval_count
	unit   string // interval_unit
	months int    // interval length in months, used for service periods
	tier   int    // 0 basic, 1 pro, 2 business
	price  int64  // list price per seat and interval, in USD cents
}

// Plan families: indices into plans, ordered by tier.
var (
	monthlyPlans   = []int{0, 1, 2}
	quarterlyPlans = []int{3}
	annualPlans    = []int{4, 5, 6}
)

var plans = []plan{
	{"plan_basic_monthly", "Basic Monthly", 1, "month", 1, 0, 2900},
	{"plan_pro_monthly", "Pro Monthly", 1, "month", 1, 1, 7900},
	{"plan_business_monthly", "Business Monthly", 1, "month", 1, 2, 9900},
	{"plan_pro_quarterly", "Pro Quarterly", 3, "month", 3, 1, 21900},
	{"plan_basic_annual", "Basic Annual", 1, "year", 12, 0, 29000},
	{"plan_pro_annual", "Pro Annual", 1, "year", 12, 1, 79000},
	{"plan_business_annual", "Business Annual", 1, "year", 12, 2, 99000},
}

// Currencies. Prices in EUR use the USD figures; GBP prices are 80% of them,
// rounded down to whole pounds.
const (
	curUSD = iota
	curEUR
	curGBP
)

var currencies = []string{"USD", "EUR", "GBP"}

// price returns the list price per seat of plan p in currency cur.
func price(p, cur int) int64 {
	v := plans[p].price
	if cur == curGBP {
		v = v * 8 / 10 / 100 * 100
	}
	return v
}

// setupFee returns the one-time onboarding fee for a plan tier in cents.
func setupFee(tier int) int64 {
	switch tier {
	case 2:
		return 99000
	case 1:
		return 49000
	}
	return 19000
}

// place is a city with its postal code; state is set for US places only.
type place struct {
	city, state, zip string
}

// country describes where a customer lives and how it is billed.
type country struct {
	code     string // ISO 3166-1 alpha-2
	weight   int    // relative frequency
	currency int
	taxBP    int    // VAT/GST in basis points, included in amounts (0 = none)
	suffix   string // company legal-form suffix
	tld      string // e-mail domain suffix
	places   []place
}

var countries = []country{
	{"US", 500, curUSD, 0, "Inc.", ".com", []place{
		{"San Francisco", "CA", "94103"}, {"Los Angeles", "CA", "90012"}, {"New York", "NY", "10001"},
		{"Brooklyn", "NY", "11201"}, {"Austin", "TX", "78701"}, {"Houston", "TX", "77002"},
		{"Seattle", "WA", "98101"}, {"Boston", "MA", "02110"}, {"Chicago", "IL", "60601"},
		{"Denver", "CO", "80202"}, {"Miami", "FL", "33131"}, {"Portland", "OR", "97201"},
		{"Atlanta", "GA", "30303"}, {"Raleigh", "NC", "27601"}, {"Salt Lake City", "UT", "84101"},
		{"Philadelphia", "PA", "19103"}, {"Minneapolis", "MN", "55401"}, {"Phoenix", "AZ", "85004"},
		{"Nashville", "TN", "37203"}, {"Columbus", "OH", "43215"}, {"Madison", "WI", "53703"},
		{"Pittsburgh", "PA", "15222"}, {"San Diego", "CA", "92101"}, {"Washington", "DC", "20001"},
	}},
	{"GB", 120, curGBP, 2000, "Ltd", ".co.uk", []place{
		{"London", "", "EC1A 1BB"}, {"London", "", "SW1A 2AA"}, {"Manchester", "", "M1 1AE"},
		{"Edinburgh", "", "EH1 1YZ"}, {"Bristol", "", "BS1 4DJ"}, {"Leeds", "", "LS1 4DY"},
		{"Cambridge", "", "CB2 1TN"}, {"Glasgow", "", "G1 1XQ"},
	}},
	{"DE", 100, curEUR, 1900, "GmbH", ".de", []place{
		{"Berlin", "", "10115"}, {"München", "", "80331"}, {"Hamburg", "", "20095"},
		{"Köln", "", "50667"}, {"Frankfurt am Main", "", "60311"}, {"Stuttgart", "", "70173"},
		{"Leipzig", "", "04109"},
	}},
	{"FR", 80, curEUR, 2000, "SAS", ".fr", []place{
		{"Paris", "", "75002"}, {"Lyon", "", "69002"}, {"Marseille", "", "13001"},
		{"Toulouse", "", "31000"}, {"Bordeaux", "", "33000"}, {"Nantes", "", "44000"},
	}},
	{"CA", 70, curUSD, 500, "Inc.", ".ca", []place{
		{"Toronto", "", "M5V 2T6"}, {"Vancouver", "", "V6B 1A1"}, {"Montréal", "", "H2Y 1C6"},
		{"Calgary", "", "T2P 1J9"}, {"Ottawa", "", "K1P 1J1"},
	}},
	{"AU", 60, curUSD, 1000, "Pty Ltd", ".com.au", []place{
		{"Sydney", "", "2000"}, {"Melbourne", "", "3000"}, {"Brisbane", "", "4000"},
		{"Perth", "", "6000"}, {"Adelaide", "", "5000"},
	}},
	{"NL", 15, curEUR, 2100, "B.V.", ".nl", []place{{"Amsterdam", "", "1012 AB"}, {"Utrecht", "", "3511 AA"}}},
	{"IE", 10, curEUR, 2300, "Ltd", ".ie", []place{{"Dublin", "", "D02 X285"}, {"Cork", "", "T12 W8DT"}}},
	{"ES", 10, curEUR, 2100, "S.L.", ".es", []place{{"Madrid", "", "28013"}, {"Barcelona", "", "08002"}}},
	{"SE", 8, curEUR, 2500, "AB", ".se", []place{{"Stockholm", "", "111 20"}, {"Göteborg", "", "411 04"}}},
	{"IT", 8, curEUR, 2200, "S.r.l.", ".it", []place{{"Milano", "", "20121"}, {"Roma", "", "00184"}}},
	{"CH", 5, curUSD, 0, "AG", ".ch", []place{{"Zürich", "", "8001"}, {"Genève", "", "1204"}}},
	{"JP", 5, curUSD, 0, "K.K.", ".jp", []place{{"Tokyo", "", "100-0005"}, {"Osaka", "", "530-0001"}}},
	{"SG", 4, curUSD, 0, "Pte. Ltd.", ".sg", []place{{"Singapore", "", "018989"}}},
	{"IN", 3, curUSD, 0, "Pvt. Ltd.", ".in", []place{{"Bengaluru", "", "560001"}, {"Mumbai", "", "400001"}}},
	{"BR", 2, curUSD, 0, "Ltda.", ".com.br", []place{{"São Paulo", "", "01310-100"}}},
}

// countryWeight is the sum of all country weights.
var countryWeight = func() int {
	n := 0
	for _, c := range countries {
		n += c.weight
	}
	return n
}()

// usSalesTaxBP gives a few US states a sales tax (basis points); a customer
// in a listed state is taxed only some of the time (see build).
var usSalesTaxBP = []struct {
	state string
	bp    int
}{
	{"CA", 725}, {"NY", 400}, {"TX", 625}, {"WA", 650}, {"MA", 625}, {"IL", 625},
	{"FL", 600}, {"GA", 400}, {"PA", 600}, {"TN", 700}, {"OH", 575}, {"NC", 475},
}

// word is a display string and its ASCII slug for e-mail addresses.
type word struct {
	text, slug string
}

var firstNames = []word{
	{"James", "james"}, {"Mary", "mary"}, {"Robert", "robert"}, {"Patricia", "patricia"},
	{"John", "john"}, {"Jennifer", "jennifer"}, {"Michael", "michael"}, {"Linda", "linda"},
	{"David", "david"}, {"Elizabeth", "elizabeth"}, {"William", "william"}, {"Sarah", "sarah"},
	{"Daniel", "daniel"}, {"Emily", "emily"}, {"Thomas", "thomas"}, {"Olivia", "olivia"},
	{"Lukas", "lukas"}, {"Sophie", "sophie"}, {"Jonas", "jonas"}, {"Léa", "lea"},
	{"Chloé", "chloe"}, {"Hugo", "hugo"}, {"Zoë", "zoe"}, {"José", "jose"},
	{"Aisha", "aisha"}, {"Wei", "wei"}, {"Priya", "priya"}, {"Kenji", "kenji"},
	{"Søren", "soren"}, {"Mateo", "mateo"}, {"Ava", "ava"}, {"Noah", "noah"},
	{"Grace", "grace"}, {"Ethan", "ethan"}, {"Hannah", "hannah"}, {"Oliver", "oliver"},
	{"Isla", "isla"}, {"Liam", "liam"}, {"Amelia", "amelia"}, {"Finn", "finn"},
}

var lastNames = []word{
	{"Smith", "smith"}, {"Johnson", "johnson"}, {"Williams", "williams"}, {"Brown", "brown"},
	{"Jones", "jones"}, {"Garcia", "garcia"}, {"Miller", "miller"}, {"Davis", "davis"},
	{"Martinez", "martinez"}, {"Wilson", "wilson"}, {"Anderson", "anderson"}, {"Taylor", "taylor"},
	{"Thomas", "thomas"}, {"Moore", "moore"}, {"Martin", "martin"}, {"Lee", "lee"},
	{"Müller", "mueller"}, {"Schmidt", "schmidt"}, {"Schneider", "schneider"}, {"Fischer", "fischer"},
	{"Dubois", "dubois"}, {"Lefèvre", "lefevre"}, {"Moreau", "moreau"}, {"Bernard", "bernard"},
	{"O'Brien", "obrien"}, {"Murphy", "murphy"}, {"Nguyen", "nguyen"}, {"Chen", "chen"},
	{"Patel", "patel"}, {"Tanaka", "tanaka"}, {"Kowalski", "kowalski"}, {"Rossi", "rossi"},
	{"Jensen", "jensen"}, {"Novak", "novak"}, {"Walker", "walker"}, {"Wright", "wright"},
	{"Clarke", "clarke"}, {"Evans", "evans"}, {"Hughes", "hughes"}, {"Fernández", "fernandez"},
}

var companyHeads = []word{
	{"Acme", "acme"}, {"Bright", "bright"}, {"Blue Harbor", "blueharbor"}, {"Northwind", "northwind"},
	{"Lumen", "lumen"}, {"Quantum", "quantum"}, {"Redwood", "redwood"}, {"Silverline", "silverline"},
	{"Summit", "summit"}, {"Evergreen", "evergreen"}, {"Copper", "copper"}, {"Nimbus", "nimbus"},
	{"Orbit", "orbit"}, {"Pioneer", "pioneer"}, {"Atlas", "atlas"}, {"Beacon", "beacon"},
	{"Cobalt", "cobalt"}, {"Falcon", "falcon"}, {"Granite", "granite"}, {"Harbor", "harbor"},
	{"Ironclad", "ironclad"}, {"Juniper", "juniper"}, {"Kestrel", "kestrel"}, {"Maple", "maple"},
	{"Meridian", "meridian"}, {"Nova", "nova"}, {"Oakridge", "oakridge"}, {"Polar", "polar"},
	{"Prism", "prism"}, {"Sparrow", "sparrow"}, {"Tidal", "tidal"}, {"Vertex", "vertex"},
}

var companyTails = []word{
	{"Analytics", "analytics"}, {"Labs", "labs"}, {"Software", "software"}, {"Systems", "systems"},
	{"Logistics", "logistics"}, {"Health", "health"}, {"Studio", "studio"}, {"Robotics", "robotics"},
	{"Media", "media"}, {"Consulting", "consulting"}, {"Networks", "networks"}, {"Foods", "foods"},
	{"Energy", "energy"}, {"Travel", "travel"}, {"Finance", "finance"}, {"Design", "design"},
	{"Cloud", "cloud"}, {"Games", "games"}, {"Learning", "learning"}, {"Security", "security"},
	{"Printing", "printing"}, {"Ventures", "ventures"}, {"Data", "data"}, {"Works", "works"},
}

// coupon is a discount applied to the first periods of a subscription.
type coupon struct {
	code, description string
	percent           int
	periods           int // number of invoices discounted; 0 = every invoice
}

var coupons = []coupon{
	{"WELCOME20", "20% off the first 3 months", 20, 3},
	{"ANNUAL15", "15% off the first year", 15, 1},
	{"PARTNER10", "10% partner discount", 10, 0},
	{"STARTUP50", "50% off for startups, first 6 months", 50, 6},
}

// Event types emitted by the generator (see spec §6.2).
const (
	evCancellationScheduled = "subscription_cancellation_scheduled"
	evCancellationRetracted = "scheduled_subscription_cancellation_retracted"
	evStartScheduled        = "subscription_start_scheduled"
	evUpdateScheduled       = "subscription_update_scheduled"
)
