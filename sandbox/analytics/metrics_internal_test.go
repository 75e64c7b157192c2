package analytics

import "testing"

// Figures recorded from ChartMogul's Metrics API (ruby cassettes
// ChartMogul_Metrics_AllKeyMetric, ChartMogul_Metrics_MRR).
func TestRecordedMetricFormulas(t *testing.T) {
	april := windowStats{endMRR: 383859969, endCust: 585}
	if v := april.values(); v.ARPA != 656170 || v.ARR != 4606319628 {
		t.Errorf("April ARPA %d ARR %d, want 656170 4606319628", v.ARPA, v.ARR)
	}
	may := windowStats{startMRR: 383859969, endMRR: 670280904, endCust: 602}
	may.flows[FlowNewBusiness], may.flows[FlowExpansion] = 572899, 286342340
	may.flows[FlowContraction], may.flows[FlowChurn], may.flows[FlowReactivation] = -226820, -64750, 5000
	v := may.values()
	if v.MRRChurnRate != -74.52 || v.ARPA != 1113423 || v.ARR != 8043370848 {
		t.Errorf("May net MRR churn %v ARPA %d ARR %d, want -74.52 1113423 8043370848", v.MRRChurnRate, v.ARPA, v.ARR)
	}
	// ASP truncates: 2489791 new-business MRR over 54 new customers.
	asp := windowStats{newCust: 54}
	asp.flows[FlowNewBusiness] = 2489791
	if got := asp.values().ASP; got != 46107 {
		t.Errorf("ASP %d, want 46107", got)
	}
	vals := []MetricValues{{ARPA: 656170, CustomerChurnRate: 0.56}, {ARPA: 1113423, CustomerChurnRate: 1.71}}
	if a, b := ltv(vals, 0, 0), ltv(vals, 1, 0); a != 117173214 || b != 65112456 {
		t.Errorf("LTV %d %d, want 117173214 65112456", a, b)
	}
	if got := ltv([]MetricValues{{ARPA: 15620}}, 0, 0); got != 0 {
		t.Errorf("LTV without churn %d, want 0", got)
	}
	// Customer churn rate: 1 of 3 → 33.33.
	if got := (&windowStats{startCust: 3, churned: 1}).values().CustomerChurnRate; got != 33.33 {
		t.Errorf("churn rate %v", got)
	}
}
