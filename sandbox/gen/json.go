package gen

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// Hand-written JSON appenders. The payload is written record by record into
// a reused buffer; nothing here allocates in the steady state.

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string, escaping quotes, backslashes and
// control characters and replacing invalid UTF-8 with U+FFFD, as
// encoding/json does.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendKey appends `,"key":` (or `"key":` when first is true).
func appendKey(b []byte, key string, first bool) []byte {
	if !first {
		b = append(b, ',')
	}
	b = append(b, '"')
	b = append(b, key...)
	return append(b, '"', ':')
}

// field appends `,"key":"value"`; keys and values are known to need no escaping.
func field(b []byte, key, value string) []byte {
	b = appendKey(b, key, false)
	b = append(b, '"')
	b = append(b, value...)
	return append(b, '"')
}

// textField appends `,"key":<value as JSON string>` for free text.
func textField(b []byte, key, value string) []byte {
	return appendString(appendKey(b, key, false), value)
}

// intField appends `,"key":n`.
func intField(b []byte, key string, n int64) []byte {
	return strconv.AppendInt(appendKey(b, key, false), n, 10)
}

// timeField appends `,"key":"<t in style>"`.
func timeField(b []byte, key string, t time.Time, style int) []byte {
	b = appendKey(b, key, false)
	b = append(b, '"')
	b = appendTime(b, t, style)
	return append(b, '"')
}

// appendTime formats t (UTC) as "2006-01-02 15:04:05" or
// "2006-01-02T15:04:05Z".
func appendTime(b []byte, t time.Time, style int) []byte {
	y, mo, d := t.Date()
	hh, mm, ss := t.Clock()
	b = appendPad(b, y, 4)
	b = append(b, '-')
	b = appendPad(b, int(mo), 2)
	b = append(b, '-')
	b = appendPad(b, d, 2)
	if style == styleISO {
		b = append(b, 'T')
	} else {
		b = append(b, ' ')
	}
	b = appendPad(b, hh, 2)
	b = append(b, ':')
	b = appendPad(b, mm, 2)
	b = append(b, ':')
	b = appendPad(b, ss, 2)
	if style == styleISO {
		b = append(b, 'Z')
	}
	return b
}

// appendPad appends the non-negative n in decimal, zero-padded to width.
func appendPad(b []byte, n, width int) []byte {
	var tmp [20]byte
	i := len(tmp)
	for n >= 10 || width > 1 {
		i--
		tmp[i] = byte('0' + n%10)
		n /= 10
		width--
	}
	i--
	tmp[i] = byte('0' + n)
	return append(b, tmp[i:]...)
}

// External ids. All are derived from the customer index, so payloads with
// disjoint customer ranges have disjoint ids:
//
//	cus_000123  inv_000123_007  li_000123_007_1  tr_000123_007_2
//	sub_000123_1  evt_000123_1
//
// The customer part is at least six digits and never contains '_', so the
// ids stay unique past 999999 customers too.

// idField appends `,"key":` and the id (see appendID).
func idField(b []byte, key, prefix string, cust, a, sub int) []byte {
	return appendID(appendKey(b, key, false), prefix, cust, a, sub)
}

// appendID appends the JSON string "<prefix><cust>[_<a>][_<sub>]"; a and sub
// are omitted when negative, a is padded to three digits.
func appendID(b []byte, prefix string, cust, a, sub int) []byte {
	b = append(b, '"')
	b = append(b, prefix...)
	b = appendPad(b, cust, 6)
	if a >= 0 {
		b = append(b, '_')
		b = appendPad(b, a, 3)
	}
	if sub >= 0 {
		b = append(b, '_')
		b = strconv.AppendInt(b, int64(sub), 10)
	}
	return append(b, '"')
}
