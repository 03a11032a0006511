package httpapi

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics exposes the core's Stats in the Prometheus format, read at
// scrape time, next to the collectors the core hands over (Config.Collectors).
type metrics struct {
	core Core

	sockets, channels, changes, messages, bytes, disconnects, badFrames, panics, refused, lagSeconds *prometheus.Desc
	live, lag, reconnects, confirmed, routerWait                                                     *prometheus.Desc
}

// metricsHandler serves a registry of the core's stats and extra.
func metricsHandler(core Core, extra []prometheus.Collector) http.Handler {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("realtime_"+name, help, labels, nil)
	}
	m := &metrics{
		core:        core,
		sockets:     d("sockets", "Open WebSocket connections."),
		channels:    d("channels", "Joined channels (topics) over all sockets."),
		lagSeconds:  d("replication_lag_seconds", "Commit-to-routing delay of the last transaction routed: how far behind PostgreSQL the gateway delivers."),
		changes:     d("changes_total", "Row changes decoded from the replication stream and routed."),
		messages:    d("messages_sent_total", "Change frames queued for sockets."),
		bytes:       d("bytes_sent_total", "Bytes of change frames queued for sockets."),
		disconnects: d("disconnects_total", "Sockets closed, by reason.", "reason"),
		badFrames:   d("bad_frames_total", "Client frames that could not be decoded."),
		panics:      d("panics_total", "Recovered panics (bugs) while serving sockets."),
		refused:     d("refused_connections_total", "WebSocket upgrades refused (auth, vsn, shutdown)."),
		live:        d("replication_live", "1 when the replication stream is running."),
		lag:         d("replication_lag_bytes", "WAL retained by the replication slot."),
		reconnects:  d("replication_reconnects_total", "Replication sessions that failed and were retried."),
		confirmed:   d("replication_confirmed_lsn", "Last LSN confirmed to PostgreSQL."),
		routerWait:  d("router_wait_seconds_total", "Time routing spent waiting for sockets whose queues were full; every subscriber waited with it."),
	}
	registry := prometheus.NewRegistry()
	registry.MustRegister(m)
	registry.MustRegister(extra...)
	return promhttp.HandlerFor(registry, promhttp.HandlerOpts{})
}

func (m *metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{m.sockets, m.channels, m.lagSeconds, m.changes, m.messages, m.bytes, m.disconnects, m.badFrames,
		m.panics, m.refused, m.live, m.lag, m.reconnects, m.confirmed, m.routerWait} {
		ch <- d
	}
}

func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	s := m.core.Stats()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	gauge(m.sockets, float64(s.Sockets))
	gauge(m.channels, float64(s.Channels))
	gauge(m.lagSeconds, s.Lag.Seconds())
	counter(m.changes, float64(s.Changes))
	counter(m.messages, float64(s.Messages))
	counter(m.bytes, float64(s.Bytes))
	for _, c := range s.Disconnects {
		counter(m.disconnects, float64(c.N), c.Label)
	}
	counter(m.badFrames, float64(s.BadFrames))
	counter(m.panics, float64(s.Panics))
	counter(m.refused, float64(s.Refused))
	counter(m.routerWait, s.RouterWait.Seconds())
	live := 0.0
	if s.Live {
		live = 1
	}
	gauge(m.live, live)
	gauge(m.lag, float64(s.Replication.LagBytes))
	counter(m.reconnects, float64(s.Replication.Reconnects))
	gauge(m.confirmed, float64(s.Replication.ConfirmedLSN))
}
