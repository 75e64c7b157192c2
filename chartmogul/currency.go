package chartmogul

import (
	"fmt"
	"strings"

	"golang.org/x/text/currency"
)

// notMoney lists ISO 4217 codes that are valid but name no money a
// subscription is billed in: precious metals, bond-market units, special
// drawing rights, and the testing and "no currency" codes.
var notMoney = map[string]bool{
	"XXX": true, "XTS": true, "XAU": true, "XAG": true, "XPD": true, "XPT": true, "XDR": true,
	"XBA": true, "XBB": true, "XBC": true, "XBD": true, "XSU": true, "XUA": true,
}

// newerCodes are current ISO 4217 codes that golang.org/x/text's table does
// not know yet.
var newerCodes = map[string]bool{
	"MRU": true, "VES": true, "VED": true, "SLE": true, "ZWG": true, "XCG": true, "UYW": true,
}

// NormalizeCurrency returns the upper-case ISO 4217 code for s ("usd" and
// "USD" both give "USD"), or false when s is not the code of a currency money
// is billed in. Codes ISO has withdrawn since (MRO, LTL, EEK, HRK, …) are
// accepted: billing history is full of them.
func NormalizeCurrency(s string) (string, bool) {
	if len(s) != 3 {
		return "", false
	}
	code := strings.ToUpper(s)
	if notMoney[code] {
		return "", false
	}
	if newerCodes[code] {
		return code, true
	}
	u, err := currency.ParseISO(code)
	if err != nil || u.String() != code {
		return "", false
	}
	return code, true
}

// CurrencySign returns the narrow symbol of an ISO 4217 code ("$", "€", "£"),
// or the code itself when the currency has no symbol of its own.
func CurrencySign(code string) string {
	u, err := currency.ParseISO(code)
	if err != nil {
		return code
	}
	// The formatter prints "<symbol> <amount>"; the symbol is what precedes
	// the space.
	s := fmt.Sprint(currency.NarrowSymbol(u.Amount(0)))
	if i := strings.LastIndexByte(s, ' '); i > 0 {
		return s[:i]
	}
	return code
}
