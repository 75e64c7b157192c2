package analytics

import (
	"math"
	"math/big"
	"time"
)

// averageMonthDays is the length of an average month (365.25 / 12) used to
// normalise day-based plans; ChartMogul's recorded 7-day-plan MRR (1000 →
// 4348) matches it and no other common choice.
const (
	averageMonthNum = 487 // 30.4375 = 487 / 16
	averageMonthDen = 16
)

// maxAbsAmount bounds line item amounts so that normalisation cannot
// overflow int64; it is about 11 trillion in major units.
const maxAbsAmount = 1 << 50

// monthlyRatio returns num/den such that a charge for one billing interval
// of p is worth charge × num / den per month.
func monthlyRatio(p Plan) (num, den int64) {
	n := int64(p.IntervalCount)
	switch p.IntervalUnit {
	case UnitMonth:
		return 1, n
	case UnitYear:
		return 1, 12 * n
	default: // UnitDay; validated before use
		return averageMonthNum, averageMonthDen * n
	}
}

// roundDiv returns n/d rounded to the nearest integer, halves away from
// zero. d must be positive.
func roundDiv(n, d int64) int64 {
	q, r := n/d, n%d
	if r < 0 {
		r = -r
	}
	if r >= d-r { // 2r >= d without overflow
		if n < 0 {
			q--
		} else {
			q++
		}
	}
	return q
}

// roundRatio returns a × b / c rounded half away from zero, computed
// exactly. c must be positive.
func roundRatio(a, b, c *big.Int) int64 {
	var num, q, r, twice big.Int
	num.Mul(a, b)
	q.QuoRem(&num, c, &r)
	twice.Abs(&r).Lsh(&twice, 1)
	if twice.Cmp(c) >= 0 {
		if num.Sign() < 0 {
			q.Sub(&q, big.NewInt(1))
		} else {
			q.Add(&q, big.NewInt(1))
		}
	}
	return q.Int64()
}

// roundMul converts amount at rate, rounding half away from zero.
func roundMul(amount int64, rate float64) int64 {
	if rate == 1 {
		return amount
	}
	return int64(math.Round(float64(amount) * rate))
}

// netAmount is the part of a line item that counts as revenue: the amount
// without tax. Discounts are already deducted from the amount.
func netAmount(it *LineItem) int64 { return it.AmountInCents - it.TaxAmountInCents }

// fullPriceMRR normalises a charge for one whole billing interval to a month.
func fullPriceMRR(it *LineItem) int64 {
	num, den := monthlyRatio(it.Plan)
	return roundDiv(netAmount(it)*num, den)
}

// proratedMRR normalises a prorated charge: net × monthly factor × (full
// period ÷ charged period), both periods in seconds (metrics.md §2.2).
func proratedMRR(it *LineItem, full time.Duration) int64 {
	num, den := monthlyRatio(it.Plan)
	charged := int64(it.ServicePeriodEnd.Sub(it.ServicePeriodStart) / time.Second)
	fullSec := int64(full / time.Second)
	if charged <= 0 || fullSec <= 0 { // sub-second periods; validated away
		return fullPriceMRR(it)
	}
	a := big.NewInt(netAmount(it) * num)
	b := big.NewInt(fullSec)
	c := new(big.Int).Mul(big.NewInt(den), big.NewInt(charged))
	return roundRatio(a, b, c)
}

// addPlanIntervals moves t by n billing intervals of p in calendar terms in
// loc; month and year steps clamp the day of the month.
func addPlanIntervals(t time.Time, p Plan, n int, loc *time.Location) time.Time {
	tt := t.In(loc)
	switch p.IntervalUnit {
	case UnitDay:
		return tt.AddDate(0, 0, n*p.IntervalCount)
	case UnitYear:
		n *= 12
	}
	y, m, d := tt.Date()
	y, m, d = clampedDate(y, m, d, n*p.IntervalCount)
	return time.Date(y, m, d, tt.Hour(), tt.Minute(), tt.Second(), tt.Nanosecond(), loc)
}

// estimatedFullPeriod estimates the full service period a prorated item is
// a part of (metrics.md §2.3, inference):
//  1. the latest non-prorated item of the subscription covering it;
//  2. else, when a non-prorated item starts or ends where it ends, one plan
//     interval back from its end;
//  3. else one plan interval forward from its start.
func estimatedFullPeriod(it *LineItem, items []*LineItem, loc *time.Location) time.Duration {
	var cover *LineItem
	atBoundary := false
	for _, o := range items {
		if o.Prorated || o.Type != LineItemSubscription {
			continue
		}
		if !o.ServicePeriodStart.After(it.ServicePeriodStart) && !o.ServicePeriodEnd.Before(it.ServicePeriodEnd) {
			cover = o // items are sorted, so the last match starts latest
		}
		if o.ServicePeriodStart.Equal(it.ServicePeriodEnd) || o.ServicePeriodEnd.Equal(it.ServicePeriodEnd) {
			atBoundary = true
		}
	}
	switch {
	case cover != nil:
		return cover.ServicePeriodEnd.Sub(cover.ServicePeriodStart)
	case atBoundary:
		return it.ServicePeriodEnd.Sub(addPlanIntervals(it.ServicePeriodEnd, it.Plan, -1, loc))
	default:
		return addPlanIntervals(it.ServicePeriodStart, it.Plan, 1, loc).Sub(it.ServicePeriodStart)
	}
}
