package chartmogul

import (
	"strings"
	"sync"
	"unicode"

	"golang.org/x/text/language"
	"golang.org/x/text/language/display"
	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"
)

// iso3166 lists the officially assigned ISO 3166-1 alpha-2 codes, plus XK
// (Kosovo), which billing systems use although ISO has not assigned it.
// golang.org/x/text knows more regions than these (reserved and withdrawn
// codes such as UK, SU or YU), so the list decides what a country is and
// x/text only supplies the English names.
const iso3166 = "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ " +
	"CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR " +
	"GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP " +
	"KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT " +
	"MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW " +
	"SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG " +
	"UM US UY UZ VA VC VE VG VI VN VU WF WS XK YE YT ZA ZM ZW"

// countryAliases are names people write that differ from the English
// display names x/text gives.
var countryAliases = map[string]string{
	"usa": "US", "united states of america": "US", "u.s.": "US", "u.s.a.": "US", "america": "US",
	"uk": "GB", "great britain": "GB", "england": "GB", "scotland": "GB", "wales": "GB", "northern ireland": "GB",
	"britain": "GB", "holland": "NL", "the netherlands": "NL", "czech republic": "CZ", "russia": "RU",
	"south korea": "KR", "korea": "KR", "north korea": "KP", "vietnam": "VN", "iran": "IR", "syria": "SY",
	"taiwan": "TW", "bolivia": "BO", "venezuela": "VE", "tanzania": "TZ", "laos": "LA", "moldova": "MD",
	"ivory coast": "CI", "cote d'ivoire": "CI", "myanmar": "MM", "burma": "MM", "macedonia": "MK",
	"democratic republic of the congo": "CD", "republic of the congo": "CG", "congo": "CG", "vatican": "VA",
	"uae": "AE", "turkey": "TR", "swaziland": "SZ", "cape verde": "CV", "east timor": "TL", "palestine": "PS",
	"hong kong": "HK", "macau": "MO", "macao": "MO",
	"north macedonia": "MK", "turkiye": "TR", "eswatini": "SZ", "viet nam": "VN", "cabo verde": "CV",
	"republic of korea": "KR", "korea, republic of": "KR", "democratic people's republic of korea": "KP",
	"russian federation": "RU", "iran, islamic republic of": "IR", "syrian arab republic": "SY",
	"lao people's democratic republic": "LA", "republic of moldova": "MD", "united republic of tanzania": "TZ",
	"bolivia, plurinational state of": "BO", "venezuela, bolivarian republic of": "VE", "czechia": "CZ",
	"state of palestine": "PS", "holy see": "VA", "brunei darussalam": "BN", "timor-leste": "TL",
	"falkland islands (malvinas)": "FK", "micronesia, federated states of": "FM", "taiwan, province of china": "TW",
}

// foldName reduces a country name to what comparisons need: lower case,
// accents removed ("Türkiye", "Curaçao"), "&" read as "and", "St." as
// "Saint", "the", punctuation and repeated spaces dropped.
func foldName(s string) string {
	folded, _, err := transform.String(transform.Chain(norm.NFD, runes.Remove(runes.In(unicode.Mn)), norm.NFC), s)
	if err == nil {
		s = folded
	}
	s = strings.ToLower(s)
	s = strings.ReplaceAll(s, "&", " and ")
	s = strings.Map(func(r rune) rune {
		switch r {
		case '.', ',', '’', '\'', '(', ')', '-':
			return ' '
		}
		return r
	}, s)
	words := strings.Fields(s)
	out := words[:0]
	for _, w := range words {
		switch w {
		case "st":
			w = "saint"
		case "the":
			continue
		}
		out = append(out, w)
	}
	return strings.Join(out, " ")
}

type countryTable struct {
	names  map[string]string // code -> English name
	byName map[string]string // lower-case name or code -> code
}

var countries = sync.OnceValue(func() countryTable {
	t := countryTable{names: map[string]string{}, byName: map[string]string{}}
	names := display.English.Regions()
	for _, code := range strings.Fields(iso3166) {
		name := code
		if r, err := language.ParseRegion(code); err == nil {
			if n := names.Name(r); n != "" {
				name = n
			}
		}
		t.names[code] = name
		t.byName[strings.ToLower(code)] = code
		t.byName[foldName(name)] = code
		// x/text's names carry qualifiers such as "Congo - Kinshasa" or
		// "Myanmar (Burma)"; the part before the qualifier is what people type.
		if i := strings.IndexAny(name, "(-"); i > 0 {
			short := foldName(name[:i])
			if _, taken := t.byName[short]; !taken {
				t.byName[short] = code
			}
		}
	}
	for alias, code := range countryAliases {
		t.byName[foldName(alias)] = code
	}
	return t
})

// LookupCountry returns the ISO 3166-1 alpha-2 code for s, which may be a code
// in any case ("us") or an English name ("United States", "Germany"). ok is
// false when s names no country.
func LookupCountry(s string) (code string, ok bool) {
	t := countries()
	if code, ok = t.byName[strings.ToLower(strings.TrimSpace(s))]; ok {
		return code, true
	}
	code, ok = t.byName[foldName(s)]
	return code, ok
}

// CountryName returns the English name of an ISO 3166-1 alpha-2 code, or ""
// for an unknown code.
func CountryName(code string) string { return countries().names[code] }

// subdivisions lists, for the countries whose states Recur checks, the code
// and English name of each first-level subdivision. ChartMogul uses states
// for the United States only; Canada and Australia are checked too because
// their billing systems send provinces the same way.
var subdivisions = map[string][][2]string{
	"US": {
		{"AL", "Alabama"}, {"AK", "Alaska"}, {"AZ", "Arizona"}, {"AR", "Arkansas"}, {"CA", "California"},
		{"CO", "Colorado"}, {"CT", "Connecticut"}, {"DE", "Delaware"}, {"DC", "District of Columbia"},
		{"FL", "Florida"}, {"GA", "Georgia"}, {"HI", "Hawaii"}, {"ID", "Idaho"}, {"IL", "Illinois"},
		{"IN", "Indiana"}, {"IA", "Iowa"}, {"KS", "Kansas"}, {"KY", "Kentucky"}, {"LA", "Louisiana"},
		{"ME", "Maine"}, {"MD", "Maryland"}, {"MA", "Massachusetts"}, {"MI", "Michigan"}, {"MN", "Minnesota"},
		{"MS", "Mississippi"}, {"MO", "Missouri"}, {"MT", "Montana"}, {"NE", "Nebraska"}, {"NV", "Nevada"},
		{"NH", "New Hampshire"}, {"NJ", "New Jersey"}, {"NM", "New Mexico"}, {"NY", "New York"},
		{"NC", "North Carolina"}, {"ND", "North Dakota"}, {"OH", "Ohio"}, {"OK", "Oklahoma"}, {"OR", "Oregon"},
		{"PA", "Pennsylvania"}, {"RI", "Rhode Island"}, {"SC", "South Carolina"}, {"SD", "South Dakota"},
		{"TN", "Tennessee"}, {"TX", "Texas"}, {"UT", "Utah"}, {"VT", "Vermont"}, {"VA", "Virginia"},
		{"WA", "Washington"}, {"WV", "West Virginia"}, {"WI", "Wisconsin"}, {"WY", "Wyoming"},
		{"AS", "American Samoa"}, {"GU", "Guam"}, {"MP", "Northern Mariana Islands"}, {"PR", "Puerto Rico"},
		{"VI", "U.S. Virgin Islands"}, {"UM", "U.S. Minor Outlying Islands"},
		{"AA", "Armed Forces Americas"}, {"AE", "Armed Forces Europe"}, {"AP", "Armed Forces Pacific"},
	},
	"CA": {
		{"AB", "Alberta"}, {"BC", "British Columbia"}, {"MB", "Manitoba"}, {"NB", "New Brunswick"},
		{"NL", "Newfoundland and Labrador"}, {"NS", "Nova Scotia"}, {"NT", "Northwest Territories"},
		{"NU", "Nunavut"}, {"ON", "Ontario"}, {"PE", "Prince Edward Island"}, {"QC", "Quebec"},
		{"SK", "Saskatchewan"}, {"YT", "Yukon"},
	},
	"AU": {
		{"ACT", "Australian Capital Territory"}, {"NSW", "New South Wales"}, {"NT", "Northern Territory"},
		{"QLD", "Queensland"}, {"SA", "South Australia"}, {"TAS", "Tasmania"}, {"VIC", "Victoria"},
		{"WA", "Western Australia"},
	},
}

type stateTable struct {
	names  map[string]string // "US-CA" -> "California"
	byName map[string]string // "US/california", "US/ca", "US/us-ca" -> "CA"
}

var states = sync.OnceValue(func() stateTable {
	t := stateTable{names: map[string]string{}, byName: map[string]string{}}
	for country, list := range subdivisions {
		for _, s := range list {
			code, name := s[0], s[1]
			t.names[country+"-"+code] = name
			for _, key := range []string{code, name, country + "-" + code} {
				t.byName[country+"/"+strings.ToLower(key)] = code
			}
		}
	}
	return t
})

// NormalizeState returns the short code of state s in country (an ISO 3166-1
// alpha-2 code). s may be the short code ("CA"), the ISO 3166-2 code
// ("US-CA") or the English name ("California"), in any case. For countries
// whose subdivisions Recur does not know, s is returned trimmed and ok is
// true. ok is false when the country's subdivisions are known and s is none
// of them: ChartMogul then drops the state.
func NormalizeState(country, s string) (code string, ok bool) {
	s = strings.TrimSpace(s)
	if _, known := subdivisions[country]; !known {
		return s, s != ""
	}
	code, ok = states().byName[country+"/"+strings.ToLower(s)]
	return code, ok
}

// StateName returns the English name of a state code within country, or the
// code itself when Recur does not know the country's subdivisions.
func StateName(country, code string) string {
	if name, ok := states().names[country+"-"+code]; ok {
		return name
	}
	return code
}
