package authz

import "github.com/prometheus/client_golang/prometheus"

// Collector exposes an Authorizer's counters at scrape time.
type Collector struct{ a *Authorizer }

// NewCollector returns the collector of a's counters, for /metrics.
func NewCollector(a *Authorizer) Collector { return Collector{a} }

var (
	checksDesc = prometheus.NewDesc("realtime_authz_checks_total",
		"Visibility checks run: one per table and distinct claims per routing round.", nil, nil)
	rowsDesc = prometheus.NewDesc("realtime_authz_checked_rows_total",
		"Rows checked for visibility, summed over the subjects they were checked for.", nil, nil)
	failuresDesc = prometheus.NewDesc("realtime_authz_check_failures_total",
		"Visibility checks that failed or timed out: their rows were not delivered to those subscribers.", nil, nil)
	staleDesc = prometheus.NewDesc("realtime_authz_snapshot_reloads_total",
		"Routing rounds that found the privilege snapshot too old and read it themselves.", nil, nil)
	waitsDesc = prometheus.NewDesc("realtime_authz_visibility_waits_total",
		"Waits for a commit to become visible to snapshots before checking its rows.", nil, nil)
)

func (m Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{checksDesc, rowsDesc, failuresDesc, staleDesc, waitsDesc} {
		ch <- d
	}
}

func (m Collector) Collect(ch chan<- prometheus.Metric) {
	for d, v := range map[*prometheus.Desc]int64{checksDesc: m.a.Checks.Load(), rowsDesc: m.a.CheckedRows.Load(),
		failuresDesc: m.a.Failures.Load(), staleDesc: m.a.Stale.Load(), waitsDesc: m.a.VisibilityWaits.Load()} {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v))
	}
}
