package join

import (
	"errors"
	"fmt"
	"testing"

	"github.com/pgrealtime/realtime/gateway/authz"
)

// TestRefusalTexts pins every refusal's reason byte for byte: clients show
// them, and some match on the original's leading code word.
func TestRefusalTexts(t *testing.T) {
	boom := errors.New("boom")
	for _, tc := range []struct {
		got  *Refusal
		code code
		want string
	}{
		{BadPayload(), codeBadPayload, "join payload must be a JSON object"},
		{RateLimited(5), codeRateLimited, "ClientJoinRateLimitReached: Too many joins per second (at most 5 per socket)"},
		{TooManyChannels(100), codeTooManyChannels, "ChannelRateLimitReached: Too many channels (at most 100 per socket)"},
		{InvalidToken(errors.New("Token has expired 3 seconds ago")), codeInvalidToken, "InvalidJWTToken: Token has expired 3 seconds ago"},
		{Initializing(), codeInitializing, "InitializingProjectConnection: Connecting to the project database"},
		{NoTopicName(), codeBadTopic, "TopicNameRequired: You must provide a topic name"},
		{BadTopic(boom), codeBadTopic, "boom"},
		{BadConfig(boom), codeBadConfig, "invalid join config: boom"},
		{BadBinding(boom), codeBadConfig, "boom"},
		{ReplayOnPublic(), codeBadConfig, "Replay is only available on private channels: join with config.private=true"},
		{Undeliverable("table public.nope does not exist"), codeUndeliverable, "table public.nope does not exist"},
		{PrivateRead("room1"), codeUnauthorized, "Unauthorized: You do not have permissions to read from this Channel topic: room1"},
		{Role(fmt.Errorf("acquire: %w", &authz.RoleError{Role: "x", Reason: "no such role"})), codeRoleRefused, "Unauthorized: " + (&authz.RoleError{Role: "x", Reason: "no such role"}).Error()},
		{Role(boom), codePrivilegesUnavailable, "UnableToCheckPrivileges: cannot read what this role may see (boom); retry"},
		{ClusterUnavailable(boom), codeClusterUnavailable, "ClusterUnavailable: this gateway cannot reach its cluster right now (boom); retry"},
	} {
		if tc.got.code != tc.code || tc.got.Reason() != tc.want {
			t.Errorf("refusal = %v %q, want %v %q", tc.got.code, tc.got.Reason(), tc.code, tc.want)
		}
	}
}

func TestRefusalCodesHaveLabels(t *testing.T) {
	seen := map[string]bool{}
	for c, name := range codeNames {
		if name == "" || seen[name] {
			t.Errorf("refusal code %d has label %q: want a distinct one", c, name)
		}
		seen[name] = true
	}
}
