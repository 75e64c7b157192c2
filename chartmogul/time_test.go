package chartmogul_test

import (
	"strings"
	"testing"
	"time"

	"github.com/recurhq/recur/chartmogul"
)

// utc is a shorthand for a UTC instant in the tables below.
func utc(y int, mo time.Month, d, h, mi, s, ns int) time.Time {
	return time.Date(y, mo, d, h, mi, s, ns, time.UTC)
}

// parseTimeOK lists every form of spec §1.3, and the variations ParseTime
// documents, with the UTC instant each one means.
var parseTimeOK = []struct {
	in   string
	want time.Time
}{
	// A date alone is midnight UTC.
	{"2022-03-30", utc(2022, 3, 30, 0, 0, 0, 0)},
	{"2024-02-29", utc(2024, 2, 29, 0, 0, 0, 0)}, // leap year
	{"2000-02-29", utc(2000, 2, 29, 0, 0, 0, 0)}, // divisible by 400: leap
	{"2023-04-30", utc(2023, 4, 30, 0, 0, 0, 0)},
	{"2023-12-31", utc(2023, 12, 31, 0, 0, 0, 0)},

	// A time without a zone is UTC; the separator is a space or T.
	{"2022-11-10 00:00:00", utc(2022, 11, 10, 0, 0, 0, 0)},
	{"2023-04-02 21:37:00", utc(2023, 4, 2, 21, 37, 0, 0)},
	{"2023-04-02T21:37:00", utc(2023, 4, 2, 21, 37, 0, 0)},
	{"2023-04-02t21:37:00", utc(2023, 4, 2, 21, 37, 0, 0)},
	{"2023-04-02T23:59:59", utc(2023, 4, 2, 23, 59, 59, 0)},

	// Seconds are optional.
	{"2023-04-02 21:37", utc(2023, 4, 2, 21, 37, 0, 0)},
	{"2023-04-02T21:37Z", utc(2023, 4, 2, 21, 37, 0, 0)},
	{"2023-04-02 21:37 +0200", utc(2023, 4, 2, 19, 37, 0, 0)},

	// Fractions, with a dot or a comma, truncated to microseconds.
	{"2017-05-01T00:00:00.000Z", utc(2017, 5, 1, 0, 0, 0, 0)},
	{"2017-05-01T00:00:00.5Z", utc(2017, 5, 1, 0, 0, 0, 500_000_000)},
	{"2017-05-01T00:00:00,25Z", utc(2017, 5, 1, 0, 0, 0, 250_000_000)},
	{"2017-05-01T00:00:00.123456Z", utc(2017, 5, 1, 0, 0, 0, 123_456_000)},
	{"2017-05-01T00:00:00.1234567Z", utc(2017, 5, 1, 0, 0, 0, 123_456_000)},
	{"2017-05-01T00:00:00.123456789Z", utc(2017, 5, 1, 0, 0, 0, 123_456_000)},
	{"2017-05-01T00:00:00.123456789999", utc(2017, 5, 1, 0, 0, 0, 123_456_000)}, // digits past 9 ignored
	{"2017-05-01 00:00:00.999999999 UTC", utc(2017, 5, 1, 0, 0, 0, 999_999_000)},

	// Zones: Z, UTC, GMT, with or without a space before them.
	{"2016-01-01T12:00:00Z", utc(2016, 1, 1, 12, 0, 0, 0)},
	{"2016-01-01T12:00:00z", utc(2016, 1, 1, 12, 0, 0, 0)},
	{"2016-01-01T12:00:00 Z", utc(2016, 1, 1, 12, 0, 0, 0)},
	{"2023-12-14T15:33:55Z", utc(2023, 12, 14, 15, 33, 55, 0)},
	{"2016-01-01 12:00:00 UTC", utc(2016, 1, 1, 12, 0, 0, 0)},
	{"2016-01-01 12:00:00UTC", utc(2016, 1, 1, 12, 0, 0, 0)},
	{"2016-01-01 12:00:00 GMT", utc(2016, 1, 1, 12, 0, 0, 0)},
	{"2016-01-01T12:00:00GMT", utc(2016, 1, 1, 12, 0, 0, 0)},

	// Numeric offsets are honoured: +0200, +02:00, +02, -05, with or without a space.
	{"2000-01-01 00:00:00 +0200", utc(1999, 12, 31, 22, 0, 0, 0)},
	{"2000-01-01 00:00:00+0200", utc(1999, 12, 31, 22, 0, 0, 0)},
	{"2018-12-18T18:39:15+06:00", utc(2018, 12, 18, 12, 39, 15, 0)},
	{"2018-12-18T18:39:15 +06:00", utc(2018, 12, 18, 12, 39, 15, 0)},
	{"2018-12-18T18:39:15+06", utc(2018, 12, 18, 12, 39, 15, 0)},
	{"2018-12-18T18:39:15-05", utc(2018, 12, 18, 23, 39, 15, 0)},
	{"2018-12-18 18:39:15 -05", utc(2018, 12, 18, 23, 39, 15, 0)},
	{"2018-12-18T18:39:15-0530", utc(2018, 12, 19, 0, 9, 15, 0)},
	{"2018-12-18T18:39:15-05:30", utc(2018, 12, 19, 0, 9, 15, 0)},
	{"2018-12-18T18:39:15+00:00", utc(2018, 12, 18, 18, 39, 15, 0)},
	{"2018-12-18T18:39:15-00:00", utc(2018, 12, 18, 18, 39, 15, 0)},
	{"2018-12-18T18:39:15+18:00", utc(2018, 12, 18, 0, 39, 15, 0)}, // the largest offset
	{"2018-12-18T18:39:15-18:00", utc(2018, 12, 19, 12, 39, 15, 0)},
	{"2023-12-31T23:30:00-01:00", utc(2024, 1, 1, 0, 30, 0, 0)},   // crosses a year
	{"2024-03-01T00:30:00+01:00", utc(2024, 2, 29, 23, 30, 0, 0)}, // back into a leap day
	{"2018-12-18T18:39:15.999999999+01:00", utc(2018, 12, 18, 17, 39, 15, 999_999_000)},
}

func TestParseTime(t *testing.T) {
	for _, tc := range parseTimeOK {
		t.Run(tc.in, func(t *testing.T) {
			got, err := chartmogul.ParseTime(tc.in)
			if err != nil {
				t.Fatalf("ParseTime(%q): %v", tc.in, err)
			}
			if !got.Equal(tc.want) {
				t.Errorf("ParseTime(%q) = %s, want %s", tc.in, got.Format(time.RFC3339Nano), tc.want.Format(time.RFC3339Nano))
			}
			if got.Location() != time.UTC {
				t.Errorf("ParseTime(%q) is in %v, want UTC", tc.in, got.Location())
			}
			if got.Nanosecond()%1000 != 0 {
				t.Errorf("ParseTime(%q) = %s, not truncated to microseconds", tc.in, got.Format(time.RFC3339Nano))
			}
		})
	}
}

// parseTimeBad lists inputs ParseTime must refuse.
var parseTimeBad = []string{
	// empty and garbage
	"", " ", "\t", "null", "garbage", "now", "today", "yesterday", "April 2, 2023", "2 April 2023",
	// impossible dates
	"2023-02-30", "2023-02-29", "1900-02-29", "2023-04-31", "2023-13-01", "2023-00-10", "2023-01-00", "2023-01-32",
	// impossible times
	"2023-04-02 24:00:00", "2023-04-02 24:00", "2023-04-02 23:60:00", "2023-04-02 23:59:60", "2023-04-02 99:00:00",
	// trailing text
	"2023-04-02 21:37:00 trailing", "2023-04-02T21:37:00Zx", "2023-04-02T21:37:00ZZ", "2023-04-02x",
	"2023-04-02T21:37:00+02:00 x", "2023-04-02T21:37:00+02:00 ", "2023-04-02T21:37:00+020000", "2023-04-02T21:37:00 UTC+1",
	// zones that are not Z, UTC, GMT or an offset
	"2023-04-02T21:37:00 EST", "2023-04-02T21:37:00 CET", "2023-04-02T21:37:00utc", "2023-04-02T21:37:00 Europe/Berlin",
	// malformed offsets
	"2023-04-02T21:37:00+2", "2023-04-02T21:37:00+02:", "2023-04-02T21:37:00+0", "2023-04-02T21:37:00+", "2023-04-02T21:37:00-",
	"2023-04-02T21:37:00+19:00", "2023-04-02T21:37:00+02:60", "2023-04-02T21:37:00+02:5", "2023-04-02T21:37:00+02-00",
	// a zone on a date alone, leading space, a space after a date alone
	"2022-03-30Z", "2022-03-30 UTC", " 2023-04-02", "2023-04-02 ",
	// 2-digit and 3-digit years, short fields, other separators
	"23-04-02", "023-04-02", "23-04-02 21:37:00", "2023-4-2", "2023-04-2", "2023-4-02", "02.04.2023", "04/02/2023", "2023/04/02", "2023.04.02",
	"20230402", "20230402T213700Z", "+2023-04-02", "-2023-04-02", "12023-04-02",
	// number-like strings: unix seconds and milliseconds
	"1680471420", "1680471420000", "1680471420.5", "0", "-1", "1e9",
	// incomplete times
	"2023-04-02T", "2023-04-02 ", "2023-04-02T21", "2023-04-02T21:", "2023-04-02T21:3", "2023-04-02T21:37:",
	"2023-04-02T21:37:0", "2023-04-02T21:37:00.", "2023-04-02T21:37:00.Z", "2023-04-02T21:37.5", "2023-04-02T2137",
	"2023-04-02_21:37:00", "2023-04-02  21:37:00",
	// non-ASCII digits and invalid UTF-8
	"２０２３-04-02", "2023-04-02\xff", "\xff",
}

func TestParseTimeRejects(t *testing.T) {
	for _, in := range parseTimeBad {
		t.Run(in, func(t *testing.T) {
			got, err := chartmogul.ParseTime(in)
			if err == nil {
				t.Fatalf("ParseTime(%q) = %s, want an error", in, got.Format(time.RFC3339Nano))
			}
			if !got.IsZero() {
				t.Errorf("ParseTime(%q) returned %s with its error, want the zero time", in, got)
			}
			want := `must be a date or timestamp such as "2023-04-02", "2023-04-02 21:37:00" or "2023-04-02T21:37:00Z"; got ` + chartmogul.Quote(in)
			if err.Error() != want {
				t.Errorf("ParseTime(%q) error\n got %s\nwant %s", in, err, want)
			}
		})
	}
}

// TestParseTimeMessage pins the exact text a user sees, including the
// quoting of long and invalid values.
func TestParseTimeMessage(t *testing.T) {
	const prefix = `must be a date or timestamp such as "2023-04-02", "2023-04-02 21:37:00" or "2023-04-02T21:37:00Z"; got `
	for _, tc := range []struct{ in, got string }{
		{"2023-02-30", `"2023-02-30"`},
		{"", `""`},
		{`say "hi"`, `"say \"hi\""`},
		{"2023-04-02\xff", `"2023-04-02\xff"`},
		{strings.Repeat("9", 100), `"` + strings.Repeat("9", 80) + `"…`},
		// Cut at a rune boundary: 79 ASCII bytes and a 2-byte rune straddle byte 80.
		{strings.Repeat("a", 79) + "é" + "zzz", `"` + strings.Repeat("a", 79) + `"…`},
	} {
		_, err := chartmogul.ParseTime(tc.in)
		if err == nil {
			t.Fatalf("ParseTime(%q): no error", tc.in)
		}
		if want := prefix + tc.got; err.Error() != want {
			t.Errorf("ParseTime(%q) error\n got %s\nwant %s", tc.in, err, want)
		}
	}
}

// TestParseTimeLenient documents what ParseTime accepts beyond the
// documented forms, so that a change of it is a decision, not an accident.
func TestParseTimeLenient(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Time
	}{
		// A space after a time without a zone is taken as the optional
		// space before an absent zone (but a space after a date alone, or
		// after an offset, is refused: see parseTimeBad).
		{"2023-04-02 21:37:00 ", utc(2023, 4, 2, 21, 37, 0, 0)},
		{"2023-04-02 21:37 ", utc(2023, 4, 2, 21, 37, 0, 0)},
		// Years from 1900 to 2999.
		{"1970-01-01", utc(1970, 1, 1, 0, 0, 0, 0)},
		{"1900-01-01", utc(1900, 1, 1, 0, 0, 0, 0)},
		{"2999-12-31", utc(2999, 12, 31, 0, 0, 0, 0)},
	} {
		got, err := chartmogul.ParseTime(tc.in)
		if err != nil || !got.Equal(tc.want) {
			t.Errorf("ParseTime(%q) = %s, %v; want %s", tc.in, got, err, tc.want)
		}
	}
}

// TestParseTimeYearRange shows that ParseTime accepts years that Recur can
// neither tell from "no date" nor write back out in a form it reads.
func TestParseTimeYearRange(t *testing.T) {
	for _, in := range []string{"0001-01-01", "0000-01-01T00:00:00+01:00", "9999-12-31T23:59:59-18:00"} {
		got, err := chartmogul.ParseTime(in)
		if err != nil {
			continue // refusing is one acceptable fix
		}
		if got.IsZero() {
			t.Errorf("ParseTime(%q) = the zero time, which callers read as a missing date", in)
		}
		if back, err := chartmogul.ParseTime(chartmogul.FormatMillis(got)); err != nil || !back.Equal(got) {
			t.Errorf("ParseTime(%q) = %s, which does not survive FormatMillis and ParseTime: %q, %v", in, got, chartmogul.FormatMillis(got), err)
		}
	}
}

func TestFormat(t *testing.T) {
	berlin := time.FixedZone("CEST", 2*3600)
	tm := time.Date(2023, 4, 2, 23, 37, 5, 123_456_789, berlin)
	if got, want := chartmogul.FormatMillis(tm), "2023-04-02T21:37:05.123Z"; got != want {
		t.Errorf("FormatMillis = %q, want %q", got, want)
	}
	if got, want := chartmogul.FormatSeconds(tm), "2023-04-02T21:37:05Z"; got != want {
		t.Errorf("FormatSeconds = %q, want %q", got, want)
	}
	// What Recur writes, it reads back (to the precision written).
	for _, s := range []string{chartmogul.FormatMillis(tm), chartmogul.FormatSeconds(tm), tm.UTC().Format(chartmogul.LayoutDate)} {
		if _, err := chartmogul.ParseTime(s); err != nil {
			t.Errorf("ParseTime(%q): %v", s, err)
		}
	}
}

// FuzzParseTime checks that ParseTime never panics, that it either returns a
// UTC time truncated to microseconds or an error with the documented text,
// and that what it accepts survives a round trip through FormatMillis for the
// years Recur can write (TestParseTimeYearRange covers the others).
func FuzzParseTime(f *testing.F) {
	for _, tc := range parseTimeOK {
		f.Add(tc.in)
	}
	for _, in := range parseTimeBad {
		f.Add(in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := chartmogul.ParseTime(s)
		if err != nil {
			if !got.IsZero() {
				t.Fatalf("ParseTime(%q) = %s with error %v", s, got, err)
			}
			if !strings.HasPrefix(err.Error(), "must be a date or timestamp such as ") {
				t.Fatalf("ParseTime(%q): unexpected error text %q", s, err)
			}
			return
		}
		if got.Location() != time.UTC {
			t.Fatalf("ParseTime(%q) in %v, want UTC", s, got.Location())
		}
		if got.Nanosecond()%1000 != 0 {
			t.Fatalf("ParseTime(%q) = %s, not truncated to microseconds", s, got.Format(time.RFC3339Nano))
		}
		if y := got.Year(); y >= 1 && y <= 9999 {
			back, err := chartmogul.ParseTime(got.Format("2006-01-02T15:04:05.000000Z"))
			if err != nil || !back.Equal(got) {
				t.Fatalf("ParseTime(%q) = %s does not round-trip: %s, %v", s, got.Format(time.RFC3339Nano), back, err)
			}
		}
	})
}
