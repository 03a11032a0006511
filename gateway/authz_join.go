package gateway

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pgrealtime/realtime/gateway/authz"
	"github.com/pgrealtime/realtime/gateway/join"
)

// authzMetrics exposes the authorizer's counters at scrape time.
type authzMetrics struct{ a *authz.Authorizer }

var (
	authzChecks = prometheus.NewDesc("realtime_authz_checks_total",
		"Visibility checks run: one per table and distinct claims per routing round.", nil, nil)
	authzRows = prometheus.NewDesc("realtime_authz_checked_rows_total",
		"Rows checked for visibility, summed over the subjects they were checked for.", nil, nil)
	authzFailures = prometheus.NewDesc("realtime_authz_check_failures_total",
		"Visibility checks that failed or timed out: their rows were not delivered to those subscribers.", nil, nil)
	authzStale = prometheus.NewDesc("realtime_authz_snapshot_reloads_total",
		"Routing rounds that found the privilege snapshot too old and read it themselves.", nil, nil)
	authzWaits = prometheus.NewDesc("realtime_authz_visibility_waits_total",
		"Waits for a commit to become visible to snapshots before checking its rows.", nil, nil)
)

func (m authzMetrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{authzChecks, authzRows, authzFailures, authzStale, authzWaits} {
		ch <- d
	}
}

func (m authzMetrics) Collect(ch chan<- prometheus.Metric) {
	for d, v := range map[*prometheus.Desc]int64{authzChecks: m.a.Checks.Load(), authzRows: m.a.CheckedRows.Load(),
		authzFailures: m.a.Failures.Load(), authzStale: m.a.Stale.Load(), authzWaits: m.a.VisibilityWaits.Load()} {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v))
	}
}

// roleWait bounds how long a join waits to learn what its role may read.
const roleWait = 5 * time.Second

// acquireRole makes the authorizer follow the role of a channel that
// receives database changes, and checks that the gateway may act as it.
// It returns why the join must be refused.
func (c *conn) acquireRole(ch *channel) *join.Refusal {
	a := c.srv.hub.authz
	if a == nil || ch.subj == nil || ch.topic == nil && len(ch.subs) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), roleWait)
	defer cancel()
	if err := a.Acquire(ctx, ch.subj.Role); err != nil {
		return join.Role(err)
	}
	ch.role = ch.subj.Role
	return nil
}
