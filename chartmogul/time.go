package chartmogul

import (
	"fmt"
	"time"
)

// Wire layouts of timestamps. ChartMogul answers in UTC, but not with one
// layout: invoices, line items, transactions, customers' dates and data
// sources carry milliseconds; subscription events and bulk imports do not.
const (
	LayoutMillis  = "2006-01-02T15:04:05.000Z"
	LayoutSeconds = "2006-01-02T15:04:05Z"
	LayoutDate    = "2006-01-02"
)

// ParseTime parses a timestamp in any of the forms ChartMogul accepts (spec
// §1.3): a date alone ("2022-03-30", midnight UTC); a date and a time
// separated by a space or "T", with optional seconds and fraction
// ("2022-11-10 00:00:00", "2017-05-01T00:00:00.000Z"); and an optional zone
// that is "Z", "UTC", "GMT" or a numeric offset with or without a colon, with
// or without a space before it ("2000-01-01 00:00:00 +0200",
// "2018-12-18T18:39:15+06:00"). A time without a zone is UTC. The result is in
// UTC, truncated to microseconds, which is what Recur stores.
//
// It returns an error that says what was expected; callers prefix the field.
func ParseTime(s string) (time.Time, error) {
	t, ok := parseTime(s)
	if !ok {
		return time.Time{}, fmt.Errorf("must be a date or timestamp such as \"2023-04-02\", \"2023-04-02 21:37:00\" or \"2023-04-02T21:37:00Z\"; got %s", Quote(s))
	}
	return t, nil
}

func parseTime(s string) (time.Time, bool) {
	p := timeParser{s: s}
	year, ok1 := p.digits(4)
	ok2 := p.byte('-')
	month, ok3 := p.digits(2)
	ok4 := p.byte('-')
	day, ok5 := p.digits(2)
	if !(ok1 && ok2 && ok3 && ok4 && ok5) {
		return time.Time{}, false
	}
	// Years outside 1900–2999 are typing mistakes in billing data, and
	// they would not survive formatting back.
	if year < 1900 || year > 2999 || month < 1 || month > 12 || day < 1 || day > daysIn(year, month) {
		return time.Time{}, false
	}
	var hour, minute, sec, nsec int
	offset := 0
	if !p.done() {
		if !p.byte('T') && !p.byte(' ') && !p.byte('t') {
			return time.Time{}, false
		}
		var ok bool
		if hour, ok = p.digits(2); !ok || !p.byte(':') {
			return time.Time{}, false
		}
		if minute, ok = p.digits(2); !ok {
			return time.Time{}, false
		}
		if p.byte(':') {
			if sec, ok = p.digits(2); !ok {
				return time.Time{}, false
			}
			if p.byte('.') || p.byte(',') {
				n := 0
				scale := 100_000_000
				for !p.done() && p.peekDigit() {
					if n < 9 {
						nsec += int(p.s[p.i]-'0') * scale
						scale /= 10
					}
					p.i++
					n++
				}
				if n == 0 {
					return time.Time{}, false
				}
			}
		}
		if hour > 23 || minute > 59 || sec > 59 {
			return time.Time{}, false
		}
		if offset, ok = p.zone(); !ok {
			return time.Time{}, false
		}
	}
	if !p.done() {
		return time.Time{}, false
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC)
	if offset != 0 {
		t = t.Add(-time.Duration(offset) * time.Second)
	}
	return t.Truncate(time.Microsecond), true
}

type timeParser struct {
	s string
	i int
}

func (p *timeParser) done() bool { return p.i >= len(p.s) }

func (p *timeParser) peekDigit() bool { return p.s[p.i] >= '0' && p.s[p.i] <= '9' }

func (p *timeParser) byte(b byte) bool {
	if p.i < len(p.s) && p.s[p.i] == b {
		p.i++
		return true
	}
	return false
}

func (p *timeParser) digits(n int) (int, bool) {
	if p.i+n > len(p.s) {
		return 0, false
	}
	v := 0
	for k := 0; k < n; k++ {
		c := p.s[p.i+k]
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	p.i += n
	return v, true
}

// zone parses what may follow the time: nothing, "Z", " UTC", " GMT", or an
// offset "+0200", "+02:00", "+02", with an optional space before it. It
// returns the offset east of UTC in seconds.
func (p *timeParser) zone() (int, bool) {
	p.byte(' ')
	if p.done() {
		return 0, true
	}
	rest := p.s[p.i:]
	switch rest {
	case "Z", "z", "UTC", "GMT":
		p.i = len(p.s)
		return 0, true
	}
	sign := 1
	switch {
	case p.byte('+'):
	case p.byte('-'):
		sign = -1
	default:
		return 0, false
	}
	h, ok := p.digits(2)
	if !ok || h > 18 {
		return 0, false
	}
	m := 0
	if !p.done() {
		p.byte(':')
		if m, ok = p.digits(2); !ok || m > 59 {
			return 0, false
		}
	}
	return sign * (h*3600 + m*60), true
}

func daysIn(year, month int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// FormatMillis formats t in UTC with milliseconds, as ChartMogul does for
// invoices, line items, transactions and data sources.
func FormatMillis(t time.Time) string { return t.UTC().Format(LayoutMillis) }

// FormatSeconds formats t in UTC without fractions, as ChartMogul does for
// subscription events and bulk imports.
func FormatSeconds(t time.Time) string { return t.UTC().Format(LayoutSeconds) }
