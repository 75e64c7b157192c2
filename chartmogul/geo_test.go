package chartmogul_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/recurhq/recur/chartmogul"
)

// officialISO3166 is the list of officially assigned ISO 3166-1 alpha-2
// codes (249, as of iso-codes 4.15), written out here independently of
// geo.go so that the test is an oracle, not a copy.
const officialISO3166 = `
AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ
BL BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR
CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR
GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU
ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ
LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ
MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF
PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI
SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR
TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW`

// TestCountryCodes walks every two-letter code AA..ZZ: exactly the 249
// official codes and XK are countries, each its own code with a name.
func TestCountryCodes(t *testing.T) {
	official := strings.Fields(officialISO3166)
	if len(official) != 249 {
		t.Fatalf("the oracle lists %d codes, want 249", len(official))
	}
	want := append(slices.Clone(official), "XK")
	slices.Sort(want)
	var got []string
	for a := 'A'; a <= 'Z'; a++ {
		for b := 'A'; b <= 'Z'; b++ {
			code := string([]rune{a, b})
			name := chartmogul.CountryName(code)
			c, ok := chartmogul.LookupCountry(code)
			if name == "" {
				// Only an alias ("UK" for GB) may look like a code.
				if ok && c == code {
					t.Errorf("LookupCountry(%q) = %q, true, but CountryName(%q) is empty", code, c, code)
				}
				continue
			}
			got = append(got, code)
			if !ok || c != code {
				t.Errorf("LookupCountry(%q) = %q, %v; want %q, true", code, c, ok, code)
			}
			if lc, ok := chartmogul.LookupCountry(strings.ToLower(code)); !ok || lc != code {
				t.Errorf("LookupCountry(%q) = %q, %v; want %q, true", strings.ToLower(code), lc, ok, code)
			}
			// The name leads back to the code.
			if nc, ok := chartmogul.LookupCountry(name); !ok || nc != code {
				t.Errorf("LookupCountry(CountryName(%q) = %q) = %q, %v", code, name, nc, ok)
			}
		}
	}
	if len(got) != 250 {
		t.Errorf("%d codes are countries, want 250 (249 + XK)", len(got))
	}
	if !slices.Equal(got, want) {
		for _, c := range want {
			if !slices.Contains(got, c) {
				t.Errorf("%s is missing", c)
			}
		}
		for _, c := range got {
			if !slices.Contains(want, c) {
				t.Errorf("%s is not an assigned code", c)
			}
		}
	}
}

func TestLookupCountry(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // "" for none
	}{
		// codes, in any case, trimmed
		{"US", "US"}, {"us", "US"}, {"uS", "US"}, {" DE ", "DE"}, {"\tgb\n", "GB"}, {"XK", "XK"},
		// English names, in any case
		{"Germany", "DE"}, {"germany", "DE"}, {"GERMANY", "DE"}, {"United States", "US"}, {"United Kingdom", "GB"},
		{"France", "FR"}, {"Czechia", "CZ"}, {"Kosovo", "XK"}, {"Japan", "JP"}, {"Brazil", "BR"},
		{"Côte d’Ivoire", "CI"}, {"Curaçao", "CW"}, {"Åland Islands", "AX"}, {"Bosnia & Herzegovina", "BA"},
		{"St. Lucia", "LC"}, {"Hong Kong SAR China", "HK"}, {"Myanmar (Burma)", "MM"}, {"Congo - Kinshasa", "CD"},
		{"Congo - Brazzaville", "CG"}, {"Palestinian Territories", "PS"}, {"Vatican City", "VA"}, {"Timor-Leste", "TL"},
		// the part of a qualified name before the qualifier
		{"Myanmar", "MM"}, {"Hong Kong", "HK"}, {"Macau", "MO"},
		// aliases
		{"USA", "US"}, {"usa", "US"}, {"U.S.", "US"}, {"U.S.A.", "US"}, {"United States of America", "US"}, {"America", "US"},
		{"UK", "GB"}, {"uk", "GB"}, {"Great Britain", "GB"}, {"Britain", "GB"}, {"England", "GB"}, {"Scotland", "GB"},
		{"Wales", "GB"}, {"Northern Ireland", "GB"}, {"Holland", "NL"}, {"The Netherlands", "NL"}, {"Netherlands", "NL"},
		{"Czech Republic", "CZ"}, {"Russia", "RU"}, {"South Korea", "KR"}, {"Korea", "KR"}, {"North Korea", "KP"},
		{"Vietnam", "VN"}, {"Iran", "IR"}, {"Syria", "SY"}, {"Taiwan", "TW"}, {"Bolivia", "BO"}, {"Venezuela", "VE"},
		{"Tanzania", "TZ"}, {"Laos", "LA"}, {"Moldova", "MD"}, {"Ivory Coast", "CI"}, {"Cote d'Ivoire", "CI"},
		{"Burma", "MM"}, {"Macedonia", "MK"}, {"Democratic Republic of the Congo", "CD"}, {"Republic of the Congo", "CG"},
		{"Congo", "CG"}, {"Vatican", "VA"}, {"UAE", "AE"}, {"Turkey", "TR"}, {"Swaziland", "SZ"}, {"Cape Verde", "CV"},
		{"East Timor", "TL"}, {"Palestine", "PS"}, {"Macao", "MO"},
		// not countries: reserved, withdrawn, made up, empty
		{"", ""}, {"  ", ""}, {"Narnia", ""}, {"EU", ""}, {"UN", ""}, {"SU", ""}, {"YU", ""}, {"AN", ""}, {"CS", ""},
		{"TP", ""}, {"ZR", ""}, {"QO", ""}, {"XX", ""}, {"ZZ", ""}, {"U", ""}, {"USAA", ""}, {"USD", ""}, {"DEU", ""},
		{"840", ""}, {"United", ""},
	} {
		got, ok := chartmogul.LookupCountry(tc.in)
		if ok != (tc.want != "") || got != tc.want {
			t.Errorf("LookupCountry(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.want != "")
		}
	}
}

// TestLookupCountryISONames shows that common spellings of country names,
// including the ISO 3166 English short names themselves, are not
// recognised, because x/text spells them with "&" and "St.".
func TestLookupCountryISONames(t *testing.T) {
	for in, want := range map[string]string{
		"Bosnia and Herzegovina": "BA", "Trinidad and Tobago": "TT", "Antigua and Barbuda": "AG",
		"Saint Lucia": "LC", "Saint Kitts and Nevis": "KN", "Saint Vincent and the Grenadines": "VC",
		"Sao Tome and Principe": "ST", "Turks and Caicos Islands": "TC", "Saint Pierre and Miquelon": "PM",
		"Wallis and Futuna": "WF", "North Macedonia": "MK", "Türkiye": "TR", "Eswatini": "SZ", "Curacao": "CW",
		"Aland Islands": "AX", "Viet Nam": "VN", "Cabo Verde": "CV", "Republic of Korea": "KR",
	} {
		if got, ok := chartmogul.LookupCountry(in); !ok || got != want {
			t.Errorf("LookupCountry(%q) = %q, %v; want %q, true", in, got, ok, want)
		}
	}
}

func TestCountryName(t *testing.T) {
	for code, want := range map[string]string{
		"US": "United States", "DE": "Germany", "GB": "United Kingdom", "FR": "France", "XK": "Kosovo",
		"CI": "Côte d’Ivoire", "CD": "Congo - Kinshasa",
		// unknown or not upper case: no name
		"us": "", "UK": "", "EU": "", "": "", "USA": "",
	} {
		if got := chartmogul.CountryName(code); got != want {
			t.Errorf("CountryName(%q) = %q, want %q", code, got, want)
		}
	}
}

func TestNormalizeState(t *testing.T) {
	for _, tc := range []struct {
		country, in string
		want        string
		ok          bool
	}{
		// United States: short code, ISO 3166-2 code or English name, any case, trimmed.
		{"US", "California", "CA", true},
		{"US", "california", "CA", true},
		{"US", "CALIFORNIA", "CA", true},
		{"US", "CA", "CA", true},
		{"US", "ca", "CA", true},
		{"US", "US-CA", "CA", true},
		{"US", "us-ca", "CA", true},
		{"US", "  CA ", "CA", true},
		{"US", "District of Columbia", "DC", true},
		{"US", "New York", "NY", true},
		{"US", "Georgia", "GA", true}, // the state, not the country
		{"US", "Puerto Rico", "PR", true},
		{"US", "Armed Forces Europe", "AE", true},
		{"US", "Bavaria", "", false},
		{"US", "ON", "", false},
		{"US", "CA-ON", "", false},
		{"US", "US-ON", "", false},
		{"US", "", "", false},
		{"US", "Calif.", "", false},
		// Canada and Australia are checked too.
		{"CA", "Ontario", "ON", true},
		{"CA", "QC", "QC", true},
		{"CA", "CA-BC", "BC", true},
		{"CA", "California", "", false},
		{"AU", "NSW", "NSW", true},
		{"AU", "Western Australia", "WA", true},
		{"AU", "au-vic", "VIC", true},
		{"AU", "Texas", "", false},
		// Other countries' states are kept as sent, trimmed.
		{"DE", "Bayern", "Bayern", true},
		{"DE", " BY ", "BY", true},
		{"DE", "   ", "", false},
		{"", "California", "California", true},
	} {
		got, ok := chartmogul.NormalizeState(tc.country, tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("NormalizeState(%q, %q) = %q, %v; want %q, %v", tc.country, tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestStateName(t *testing.T) {
	for _, tc := range []struct{ country, code, want string }{
		{"US", "CA", "California"},
		{"US", "DC", "District of Columbia"},
		{"CA", "QC", "Quebec"},
		{"AU", "NSW", "New South Wales"},
		{"US", "XX", "XX"},
		{"DE", "BY", "BY"},
	} {
		if got := chartmogul.StateName(tc.country, tc.code); got != tc.want {
			t.Errorf("StateName(%q, %q) = %q, want %q", tc.country, tc.code, got, tc.want)
		}
	}
}

func TestNormalizeCurrency(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"USD", "USD"}, {"usd", "USD"}, {"Usd", "USD"}, {"uSd", "USD"}, {"EUR", "EUR"}, {"eur", "EUR"},
		{"GBP", "GBP"}, {"JPY", "JPY"}, {"CHF", "CHF"}, {"INR", "INR"}, {"BRL", "BRL"}, {"XOF", "XOF"},
		{"XAF", "XAF"}, {"XCD", "XCD"}, {"XPF", "XPF"}, {"BYN", "BYN"}, {"STN", "STN"},
		// Valid ISO 4217 codes that are not money a subscription is billed in.
		{"XXX", ""}, {"xxx", ""}, {"XTS", ""}, {"XAU", ""}, {"xau", ""}, {"XAG", ""}, {"XPD", ""}, {"XPT", ""},
		{"XDR", ""}, {"XBA", ""}, {"XBB", ""}, {"XBC", ""}, {"XBD", ""}, {"XSU", ""}, {"XUA", ""},
		// Not codes at all.
		{"", ""}, {"US", ""}, {"USDD", ""}, {" USD", ""}, {"USD ", ""}, {"ABC", ""}, {"ZZZ", ""}, {"BTC", ""},
		{"EURO", ""}, {"$", ""}, {"€", ""}, {"123", ""}, {"U$D", ""},
	} {
		got, ok := chartmogul.NormalizeCurrency(tc.in)
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("NormalizeCurrency(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.want != "")
		}
	}
}

// TestNormalizeCurrencyCurrentCodes shows that currencies introduced since
// the CLDR data of golang.org/x/text was cut are refused, while codes that
// ISO has withdrawn are accepted.
func TestNormalizeCurrencyCurrentCodes(t *testing.T) {
	for _, code := range []string{"MRU", "VES", "VED", "SLE", "ZWG", "XCG"} {
		if got, ok := chartmogul.NormalizeCurrency(code); !ok || got != code {
			t.Errorf("NormalizeCurrency(%q) = %q, %v; want %q, true", code, got, ok, code)
		}
	}
}

func TestCurrencySign(t *testing.T) {
	for code, want := range map[string]string{
		"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "INR": "₹", "BRL": "R$", "PLN": "zł", "SEK": "kr",
		// no symbol of its own, or no currency: the code
		"CHF": "CHF", "ZZZ": "ZZZ", "": "",
	} {
		if got := chartmogul.CurrencySign(code); got != want {
			t.Errorf("CurrencySign(%q) = %q, want %q", code, got, want)
		}
	}
}
