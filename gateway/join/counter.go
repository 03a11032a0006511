package join

import (
	"context"
	"log/slog"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

var refusalsDesc = prometheus.NewDesc("realtime_join_refusals_total", "Channel joins refused, by code.", []string{"code"}, nil)

// Counter counts refused joins by code and logs each once. It is a
// prometheus.Collector, read at scrape time, so a refusal costs one atomic
// add. The zero value is ready; it must not be copied.
type Counter struct {
	n [numCodes]atomic.Int64
}

// Refused counts r and logs it on log, for topic.
func (c *Counter) Refused(log *slog.Logger, topic string, r *Refusal) {
	c.n[r.code].Add(1)
	log.Log(context.Background(), r.code.level(), "join refused", "topic", topic, "code", r.code.String(), "reason", r.reason)
}

// Describe implements prometheus.Collector.
func (c *Counter) Describe(ch chan<- *prometheus.Desc) { ch <- refusalsDesc }

// Collect implements prometheus.Collector: every code, refused or not, so
// a dashboard's rate has a series to start from.
func (c *Counter) Collect(ch chan<- prometheus.Metric) {
	for code := range numCodes {
		ch <- prometheus.MustNewConstMetric(refusalsDesc, prometheus.CounterValue, float64(c.n[code].Load()), code.String())
	}
}
