package analytics

import (
	"fmt"
	"math"
	"time"
)

// Day is a calendar date in the account's time zone, counted in days since
// 1970-01-01. Metrics are bucketed by Day: a movement belongs to the day on
// which it happens in the account time zone, and "MRR on a day" means MRR at
// the end of that day.
type Day int32

// OpenEnd is the End of a span that has not ended.
const OpenEnd Day = math.MaxInt32

const secondsPerDay = 24 * 60 * 60

// DayOf returns the calendar day of t in loc (UTC when loc is nil).
func DayOf(t time.Time, loc *time.Location) Day {
	if loc == nil {
		loc = time.UTC
	}
	y, m, d := t.In(loc).Date()
	return DateDay(y, m, d)
}

// DateDay returns the Day of a calendar date. Out-of-range months and days
// are normalised as by time.Date (January 32 is February 1).
func DateDay(year int, month time.Month, day int) Day {
	return Day(time.Date(year, month, day, 0, 0, 0, 0, time.UTC).Unix() / secondsPerDay)
}

// ParseDay parses an ISO date such as "2024-01-31".
func ParseDay(s string) (Day, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return 0, fmt.Errorf("analytics: invalid date %q: want YYYY-MM-DD", s)
	}
	return DateDay(t.Date()), nil
}

// Time returns midnight UTC at the start of d. It is the value to print or
// to compare as a date, not an instant in the account time zone.
func (d Day) Time() time.Time { return time.Unix(int64(d)*secondsPerDay, 0).UTC() }

// Date returns the year, month and day of d.
func (d Day) Date() (year int, month time.Month, day int) { return d.Time().Date() }

// String formats d as YYYY-MM-DD, the date format of the Metrics API.
func (d Day) String() string {
	if d == OpenEnd {
		return "open"
	}
	return d.Time().Format(time.DateOnly)
}

// addMonths moves d by n calendar months, clamping the day of the month to
// the length of the target month (January 31 + 1 month = February 28/29), so
// that stepping back from a month end lands on the previous month end.
func (d Day) addMonths(n int) Day {
	y, m, dd := d.Date()
	return DateDay(clampedDate(y, m, dd, n))
}

// clampedDate adds n months to y-m-d with the day clamped to the target
// month's length.
func clampedDate(y int, m time.Month, d, n int) (int, time.Month, int) {
	total := int(m) - 1 + n
	ty := y + floorDiv(total, 12)
	tm := time.Month(total - floorDiv(total, 12)*12 + 1)
	if last := daysIn(ty, tm); d > last {
		d = last
	}
	return ty, tm, d
}

func daysIn(y int, m time.Month) int {
	return time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

func floorDiv(a, b int) int {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}
