package gateway

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestJoinRefusalsCounted refuses joins for several causes over a real
// socket and reads the counts back from /metrics.
func TestJoinRefusalsCounted(t *testing.T) {
	ts := newTestServer(t, func(c *Options) { c.ExposeMetrics, c.MaxChannelsPerSocket = true, 1 })
	c := ts.dial(t, "vsn=2.0.0")
	for _, frame := range []string{
		`["1","1","realtime:","phx_join",{"config":{}}]`,                              // bad_topic
		`["2","2","realtime:a","phx_join",[1]]`,                                       // bad_payload
		`["3","3","realtime:a","phx_join",{"config":{"broadcast":{"self":"maybe"}}}]`, // bad_config
		`["4","4","realtime:a","phx_join",{"config":{"broadcast":{"replay":{}}}}]`,    // bad_config
		`["5","5","realtime:a","phx_join",{"config":{}}]`,                             // ok
		`["6","6","realtime:b","phx_join",{"config":{}}]`,                             // too_many_channels
	} {
		c.send(frame)
		c.readV2()
	}
	resp, err := http.Get(ts.httpURL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, want := range []string{
		`realtime_join_refusals_total{code="bad_topic"} 1`,
		`realtime_join_refusals_total{code="bad_payload"} 1`,
		`realtime_join_refusals_total{code="bad_config"} 2`,
		`realtime_join_refusals_total{code="too_many_channels"} 1`,
		`realtime_join_refusals_total{code="rate_limited"} 0`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}
