package httpapi

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pgrealtime/realtime/replication"
)

func TestHealth(t *testing.T) {
	down := &Stats{Sockets: 2, Replication: replication.Status{Slot: "realtime", ConfirmedLSN: 0x16B3748, LagBytes: 10,
		Reconnects: 1, LastError: "connection refused"}}
	for _, tc := range []struct {
		stats  *Stats
		status int
		body   string
	}{
		{nil, 200, `{"confirmed_lsn":"0/0","lag_bytes":0,"live":true,"reconnects":0,"slot":"","sockets":3,"temporary":false}` + "\n"},
		{down, 503, `{"confirmed_lsn":"0/16B3748","lag_bytes":10,"last_error":"connection refused","live":false,"reconnects":1,"slot":"realtime","sockets":2,"temporary":false}` + "\n"},
	} {
		ta := newTestAPI(t, Config{}, &fakeCore{stats: tc.stats})
		for _, path := range []string{"/health", "/"} {
			status, ctype, body := request(t, http.DefaultClient, "GET", ta.url+path, "", nil)
			if status != tc.status || ctype != "application/json" || body != tc.body {
				t.Errorf("GET %s = %d %s %s, want %d %s", path, status, ctype, body, tc.status, tc.body)
			}
		}
	}
}

func TestMetrics(t *testing.T) {
	if status, _, _ := request(t, http.DefaultClient, "GET", newTestAPI(t, Config{}, nil).url+"/metrics", "", nil); status != http.StatusNotFound {
		t.Errorf("/metrics without ExposeMetrics: %d, want 404", status)
	}
	extra := prometheus.NewCounter(prometheus.CounterOpts{Name: "realtime_extra_total", Help: "A collector of the core's."})
	extra.Add(7)
	stats := &Stats{Sockets: 4, Channels: 5, Lag: 1500 * time.Millisecond, Changes: 6, Messages: 8, Bytes: 900,
		Disconnects: []Count{{"slow_consumer", 2}, {"shutdown", 0}}, Refused: 3, RouterWait: 2 * time.Second,
		Live: true, Replication: replication.Status{LagBytes: 11, Reconnects: 1, ConfirmedLSN: 42}}
	ta := newTestAPI(t, Config{ExposeMetrics: true, Collectors: []prometheus.Collector{extra}}, &fakeCore{stats: stats})
	_, _, body := request(t, http.DefaultClient, "GET", ta.url+"/metrics", "", nil)
	for _, want := range []string{"realtime_sockets 4", "realtime_channels 5", "realtime_replication_lag_seconds 1.5",
		"realtime_changes_total 6", "realtime_messages_sent_total 8", "realtime_bytes_sent_total 900",
		`realtime_disconnects_total{reason="slow_consumer"} 2`, `realtime_disconnects_total{reason="shutdown"} 0`,
		"realtime_bad_frames_total 0", "realtime_panics_total 0", "realtime_refused_connections_total 3",
		"realtime_router_wait_seconds_total 2", "realtime_replication_live 1", "realtime_replication_lag_bytes 11",
		"realtime_replication_reconnects_total 1", "realtime_replication_confirmed_lsn 42", "realtime_extra_total 7",
		"# HELP realtime_sockets Open WebSocket connections.\n# TYPE realtime_sockets gauge"} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q:\n%s", want, body)
		}
	}
}
