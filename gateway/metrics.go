package gateway

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/pgrealtime/realtime/gateway/authz"
	"github.com/pgrealtime/realtime/gateway/outbox"
)

// metrics exposes the gateway's counters in the Prometheus format. It reads
// the counters the server and hub keep anyway, at scrape time, so the hot
// path pays for nothing but the hub's latency histogram.
type metrics struct {
	s        *Server
	registry *prometheus.Registry

	sockets, channels, changes, messages, bytes, disconnects, badFrames, panics, refused, lagSeconds *prometheus.Desc
	live, lag, reconnects, confirmed, routerWait                                                     *prometheus.Desc
}

func newMetrics(s *Server) *metrics {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("realtime_"+name, help, labels, nil)
	}
	m := &metrics{
		s:           s,
		registry:    prometheus.NewRegistry(),
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
	m.registry.MustRegister(m, s.hub.latency, &s.hub.db, &s.joinRefusals)
	if a := s.hub.authz; a != nil {
		m.registry.MustRegister(authz.NewCollector(a))
	}
	return m
}

func (m *metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{m.sockets, m.channels, m.lagSeconds, m.changes, m.messages, m.bytes, m.disconnects, m.badFrames,
		m.panics, m.refused, m.live, m.lag, m.reconnects, m.confirmed, m.routerWait} {
		ch <- d
	}
}

func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	s := m.s
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	gauge(m.sockets, float64(s.Sockets()))
	gauge(m.channels, float64(s.hub.stats.channels.Load()))
	gauge(m.lagSeconds, time.Duration(s.hub.stats.lag.Load()).Seconds())
	counter(m.changes, float64(s.hub.stats.changes.Load()))
	counter(m.messages, float64(s.hub.stats.messages.Load()))
	counter(m.bytes, float64(s.hub.stats.bytes.Load()))
	for r := range outbox.NumReasons {
		counter(m.disconnects, float64(s.disconnects[r].Load()), r.String())
	}
	counter(m.badFrames, float64(s.badFrames.Load()))
	counter(m.panics, float64(s.panics.Load()))
	counter(m.refused, float64(s.refused.Load()))
	counter(m.routerWait, time.Duration(s.routerWait.Load()).Seconds())
	live, st := s.live()
	if live {
		gauge(m.live, 1)
	} else {
		gauge(m.live, 0)
	}
	gauge(m.lag, float64(st.LagBytes))
	counter(m.reconnects, float64(st.Reconnects))
	gauge(m.confirmed, float64(st.ConfirmedLSN))
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}
