package gateway

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/pgrealtime/realtime/gateway/authz"
)

// TestRefusalTexts pins every refusal's reason byte for byte: clients show
// them, and some match on the original's leading code word.
func TestRefusalTexts(t *testing.T) {
	boom := errors.New("boom")
	for _, tc := range []struct {
		got  *refusal
		code refusalCode
		want string
	}{
		{refuseBadPayload(), refusalBadPayload, "join payload must be a JSON object"},
		{refuseJoinRate(5), refusalRateLimited, "ClientJoinRateLimitReached: Too many joins per second (at most 5 per socket)"},
		{refuseTooManyChannels(100), refusalTooManyChannels, "ChannelRateLimitReached: Too many channels (at most 100 per socket)"},
		{refuseToken(errors.New("Token has expired 3 seconds ago")), refusalInvalidToken, "InvalidJWTToken: Token has expired 3 seconds ago"},
		{refuseInitializing(), refusalInitializing, "InitializingProjectConnection: Connecting to the project database"},
		{refuseNoTopicName(), refusalBadTopic, "TopicNameRequired: You must provide a topic name"},
		{refuseTopic(boom), refusalBadTopic, "boom"},
		{refuseJoinConfig(boom), refusalBadConfig, "invalid join config: boom"},
		{refuseBinding(boom), refusalBadConfig, "boom"},
		{refuseReplayOnPublic(), refusalBadConfig, "Replay is only available on private channels: join with config.private=true"},
		{refuseUndeliverable("table public.nope does not exist"), refusalUndeliverable, "table public.nope does not exist"},
		{refusePrivateRead("room1"), refusalUnauthorized, "Unauthorized: You do not have permissions to read from this Channel topic: room1"},
		{refuseRole(fmt.Errorf("acquire: %w", &authz.RoleError{Role: "x", Reason: "no such role"})), refusalRoleRefused, "Unauthorized: " + (&authz.RoleError{Role: "x", Reason: "no such role"}).Error()},
		{refuseRole(boom), refusalPrivilegesUnavailable, "UnableToCheckPrivileges: cannot read what this role may see (boom); retry"},
		{refuseCluster(boom), refusalClusterUnavailable, "ClusterUnavailable: this gateway cannot reach its cluster right now (boom); retry"},
	} {
		if tc.got.code != tc.code || tc.got.msg != tc.want {
			t.Errorf("refusal = %v %q, want %v %q", tc.got.code, tc.got.msg, tc.code, tc.want)
		}
	}
}

func TestRefusalCodesHaveLabels(t *testing.T) {
	seen := map[string]bool{}
	for c, name := range refusalCodeNames {
		if name == "" || seen[name] {
			t.Errorf("refusal code %d has label %q: want a distinct one", c, name)
		}
		seen[name] = true
	}
}

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
