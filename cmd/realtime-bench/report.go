package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/coder/websocket"
)

// report is the outcome of one run, as a table or JSON.
type report struct {
	Options map[string]string `json:"options"`
	Host    string            `json:"host"`

	RowsWritten     int64   `json:"rows_written"`
	WriteRowsPerSec float64 `json:"write_rows_per_sec"`
	Expected        int64   `json:"messages_expected"`
	Delivered       int64   `json:"messages_delivered"`
	Lost            int64   `json:"lost"`
	Duplicated      int64   `json:"duplicated"`
	DeliveredPerSec float64 `json:"delivered_msgs_per_sec"`
	LatencyP50ms    float64 `json:"latency_p50_ms"`
	LatencyP95ms    float64 `json:"latency_p95_ms"`
	LatencyP99ms    float64 `json:"latency_p99_ms"`
	LatencyMaxms    float64 `json:"latency_max_ms"`
	BytesPerSocket  float64 `json:"bytes_per_socket"`
	SocketErrors    int     `json:"socket_errors"`
	// Slow clients (-slow): how many, how many the gateway closed as slow
	// consumers, and the first close reason.
	SlowClients  int    `json:"slow_clients,omitempty"`
	SlowClosed   int    `json:"slow_clients_closed,omitempty"`
	SlowReason   string `json:"slow_close_reason,omitempty"`
	SlowReceived int64  `json:"slow_messages_received,omitempty"`
	SlowOther    string `json:"slow_other_error,omitempty"`
	// SlowClosedByGateway is the gateway's own count of slow consumers it
	// closed (-1: not readable).
	SlowClosedByGateway float64 `json:"slow_closed_by_gateway,omitempty"`
	GatewayCPUPercent   float64 `json:"gateway_cpu_percent"`
	GatewayRSSMiB       float64 `json:"gateway_rss_mib"`
	GatewayPeakRSSMiB   float64 `json:"gateway_peak_rss_mib"`
	RSSPerSocketKiB     float64 `json:"rss_per_idle_socket_kib,omitempty"`
	// RSSPerSocketSettledKiB is the same after -settle.
	RSSPerSocketSettledKiB float64 `json:"rss_per_idle_socket_settled_kib,omitempty"`
	SettleSeconds          float64 `json:"settle_seconds,omitempty"`

	Bare          *burstResult `json:"bare_pgoutput_burst,omitempty"`
	Gateway       *burstResult `json:"gateway_burst,omitempty"`
	GatewayVsBare float64      `json:"gateway_vs_bare,omitempty"`
}

func (o options) summary() map[string]string {
	return map[string]string{
		"sockets": strconv.Itoa(o.sockets), "rate": strconv.Itoa(o.rate), "batch": strconv.Itoa(o.batch),
		"duration": o.duration.String(), "writers": strconv.Itoa(o.writers), "filtered": fmt.Sprint(o.filtered),
		"keys": strconv.Itoa(o.keys), "vsn": o.vsn, "burst": strconv.Itoa(o.burst), "rls": strconv.FormatBool(o.rls),
		"dbcast": strconv.FormatBool(o.dbcast), "slow": strconv.Itoa(o.slow), "slow_share": fmt.Sprint(o.slowShare),
	}
}

func hostInfo() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "model name"); ok {
				model = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	return fmt.Sprintf("%s, %d cores, %s/%s, %s", model, runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, runtime.Version())
}

// addDelivery counts, per client, what it should have received against
// what it did; the clients' readers must have stopped.
func (r *report) addDelivery(clients []*client, w *writes, o options) {
	r.RowsWritten = w.rows
	r.WriteRowsPerSec = float64(w.rows) / w.took.Seconds()
	var lat []time.Duration
	var bytes int64
	var fast int
	for _, c := range clients {
		if c.readEvery > 0 {
			r.addSlow(c)
			continue
		}
		fast++
		r.Expected += int64(w.expected(c.key, o.keys))
		for i := range w.rows {
			want := c.key < 0 || int(i)%o.keys == c.key
			var n uint8
			if int(i) < len(c.seen) {
				n = c.seen[i]
			}
			switch {
			case want && n == 0:
				r.Lost++
			case n > 1:
				r.Duplicated += int64(n - 1)
			case !want && n > 0:
				r.Duplicated += int64(n) // delivered to a client whose filter excludes it
			}
			r.Delivered += int64(n)
		}
		lat = append(lat, c.latencies...)
		bytes += c.bytes
		if c.err != nil {
			r.SocketErrors++
		}
	}
	r.DeliveredPerSec = float64(r.Delivered) / w.took.Seconds()
	r.BytesPerSocket = float64(bytes) / float64(max(1, fast))
	slices.Sort(lat)
	pct := func(p float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
	}
	r.LatencyP50ms, r.LatencyP95ms, r.LatencyP99ms = pct(.50), pct(.95), pct(.99)
	if len(lat) > 0 {
		r.LatencyMaxms = float64(lat[len(lat)-1].Microseconds()) / 1000
	}
}

// addSlow counts a slow client apart: what it got, and whether the gateway
// closed it as a slow consumer (1008).
func (r *report) addSlow(c *client) {
	r.SlowClients++
	r.SlowReceived += c.received.Load()
	var ce websocket.CloseError
	switch {
	case websocket.CloseStatus(c.err) == websocket.StatusPolicyViolation:
		r.SlowClosed++
		if errors.As(c.err, &ce) && r.SlowReason == "" {
			r.SlowReason = ce.Reason
		}
	case c.err != nil && r.SlowOther == "":
		// Closed some other way (a write timeout, a reset): say how.
		r.SlowOther = c.err.Error()
	}
}

func (r *report) writeJSON(w io.Writer) {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(r)
}

func (r *report) writeTable(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k, format string, v ...any) { fmt.Fprintf(tw, "%s\t"+format+"\n", append([]any{k}, v...)...) }
	row("host", "%s", r.Host)
	o := r.Options
	if o["dbcast"] == "true" {
		row("run", "%s sockets (vsn %s) on one private channel, %s realtime.send/s in transactions of %s, for %s", o["sockets"], o["vsn"], o["rate"], o["batch"], o["duration"])
	} else {
		row("run", "%s sockets (vsn %s, %s filtered), %s rows/s in transactions of %s, for %s", o["sockets"], o["vsn"], o["filtered"], o["rate"], o["batch"], o["duration"])
	}
	if r.RowsWritten > 0 {
		row("rows written", "%d (%.0f/s achieved)", r.RowsWritten, r.WriteRowsPerSec)
		row("messages", "%d delivered of %d expected: %d lost, %d duplicated", r.Delivered, r.Expected, r.Lost, r.Duplicated)
		row("delivered", "%.0f msgs/s", r.DeliveredPerSec)
		row("commit to receive", "p50 %.2f ms, p95 %.2f ms, p99 %.2f ms, max %.2f ms", r.LatencyP50ms, r.LatencyP95ms, r.LatencyP99ms, r.LatencyMaxms)
		row("bytes per socket", "%.0f", r.BytesPerSocket)
		row("gateway CPU", "%.0f%% of one core", r.GatewayCPUPercent)
	}
	row("gateway RSS", "%.1f MiB (peak %.1f MiB)", r.GatewayRSSMiB, r.GatewayPeakRSSMiB)
	if r.RSSPerSocketKiB > 0 {
		row("RSS per idle socket", "%.1f KiB", r.RSSPerSocketKiB)
		if r.RSSPerSocketSettledKiB > 0 {
			row("after idling", "%.1f KiB at %.0f s", r.RSSPerSocketSettledKiB, r.SettleSeconds)
		}
	} else {
		row("RSS per idle socket", "not measured below %d sockets, where the gateway's fixed overhead dominates", minSocketsForRSS)
	}
	if r.Bare != nil {
		row("burst, bare pgoutput", "%d rows in %.3f s: %.0f rows/s", r.Bare.Rows, r.Bare.Seconds, r.Bare.RowsPerSec)
	}
	if r.Gateway != nil {
		row("burst, gateway to a socket", "%d rows in %.3f s: %.0f rows/s (%.0f%% of bare)", r.Gateway.Rows, r.Gateway.Seconds, r.Gateway.RowsPerSec, 100*r.GatewayVsBare)
	}
	if r.SlowClients > 0 {
		row("slow clients", "%d, %d saw the slow-consumer close (%q), %d messages read in all; the gateway closed %.0f as slow consumers", r.SlowClients, r.SlowClosed, r.SlowReason, r.SlowReceived, r.SlowClosedByGateway)
		if r.SlowOther != "" {
			row("slow clients' other end", "%s", r.SlowOther)
		}
	}
	if r.SocketErrors > 0 {
		row("socket errors", "%d", r.SocketErrors)
	}
	tw.Flush()
}

// minSocketsForRSS is the fewest sockets from which RSS growth over the
// sockets says something per socket: at about 23 KiB each, 1,000 sockets
// add some 22 MiB, well above the few MiB the runtime's heap and GC targets
// move on their own. At 100 the figure was mostly that noise.
const minSocketsForRSS = 1000
