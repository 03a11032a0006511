package join

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// Every code is exported, refused or not, under its label, with its count.
func TestCounterCollects(t *testing.T) {
	var c Counter
	log := slog.New(slog.DiscardHandler)
	c.Refused(log, "realtime:a", BadConfig(errors.New("x")))
	c.Refused(log, "realtime:a", ReplayOnPublic())
	c.Refused(log, "realtime:b", BadPayload())
	reg := prometheus.NewRegistry()
	reg.MustRegister(&c)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if len(mfs) != 1 || mfs[0].GetName() != "realtime_join_refusals_total" {
		t.Fatalf("gathered %v, want realtime_join_refusals_total alone", mfs)
	}
	got := map[string]float64{}
	for _, m := range mfs[0].GetMetric() {
		got[m.GetLabel()[0].GetValue()] = m.GetCounter().GetValue()
	}
	if len(got) != int(numCodes) {
		t.Errorf("%d codes exported, want %d: %v", len(got), numCodes, got)
	}
	for label, want := range map[string]float64{"bad_config": 2, "bad_payload": 1, "rate_limited": 0} {
		if got[label] != want {
			t.Errorf("join_refusals_total{code=%q} = %v, want %v", label, got[label], want)
		}
	}
}

// A flood logs at debug and the gateway's own trouble warns, with the code
// and the reason the client was sent.
func TestCounterLogs(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var c Counter
	c.Refused(log, "realtime:a", RateLimited(3))
	c.Refused(log, "realtime:a", ClusterUnavailable(errors.New("down")))
	c.Refused(log, "realtime:a", BadPayload())
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	for i, want := range []string{"level=DEBUG", "level=WARN", "level=INFO"} {
		if i >= len(lines) || !strings.Contains(lines[i], want) {
			t.Fatalf("log line %d lacks %s:\n%s", i, want, buf.String())
		}
	}
	if !strings.Contains(lines[1], `code=cluster_unavailable`) || !strings.Contains(lines[1], "(down); retry") {
		t.Errorf("log line lacks the code or the reason: %s", lines[1])
	}
}
