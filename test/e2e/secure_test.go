package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/pgrealtime/realtime/test/harness"
)

const jwtSecret = "a-very-secret-jwt-secret-of-at-least-32-chars"

func signHS256(t *testing.T, exp time.Time, secret string) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"role": "anon", "exp": exp.Unix()}).SignedString([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestV1SecureChannels: the v1 image's default SECURE_CHANNELS=true with
// STREAM payloads, which crashes the original on the first change, works
// with realtime-js 1.7.5: a valid token receives, a join with an expired
// user_token gets the reason, a socket with a bad token never opens.
func TestV1SecureChannels(t *testing.T) {
	t.Parallel()
	if skipNode != "" {
		t.Skip(skipNode)
	}
	// The tokens' role must exist and may read the table, as in a Supabase project.
	db := newDatabase(t, harness.SupabaseRoles, "GRANT SELECT ON public.service TO anon")
	gw := startGateway(t, db.url, "SECURE_CHANNELS=true", "JWT_SECRET="+jwtSecret)
	valid := signHS256(t, time.Now().Add(time.Hour), jwtSecret)
	topic := "realtime:public:service:status_id=eq.2"

	good := gw.startClient(t, "valid token", clientConfig{Params: map[string]string{"apikey": valid},
		Channels: []channel{{Topic: topic, Events: []string{"UPDATE"}, Params: map[string]string{"user_token": valid}}}})
	good.joined(t, topic)
	expired := gw.startClient(t, "expired user_token", clientConfig{Params: map[string]string{"apikey": valid},
		Channels: []channel{{Topic: topic, Events: []string{"UPDATE"}, Params: map[string]string{"user_token": signHS256(t, time.Now().Add(-time.Minute), jwtSecret)}}}})
	refusal := expired.expect(t, "the join refusal", waitJoin, isKind("joined", "join_error"))
	if refusal.Kind != "join_error" || !strings.Contains(string(refusal.Response), "Token has expired") {
		t.Fatalf("join with an expired user_token: %v", refusal)
	}
	forged := gw.startClient(t, "wrong secret", clientConfig{Params: map[string]string{"apikey": signHS256(t, time.Now().Add(time.Hour), "not-the-secret-not-the-secret-not-the-secret")},
		Channels: []channel{{Topic: topic, Events: []string{"UPDATE"}}}})
	forged.expect(t, "the socket refusal", waitJoin, isKind("error", "close"))

	db.exec(t, `UPDATE public.service SET status_id = 2 WHERE id = 1`)
	moved := good.expect(t, "the move", waitChange, isEvent(topic, "UPDATE", nil)).change(t)
	checkRecord(t, "record", moved.Record, row("id", "1", "name", "Reboque", "status_id", "2"))
	if l := forged.all(0, isKind("joined", "event")); len(l) != 0 {
		t.Fatalf("a socket with a forged token joined or received: %v", l)
	}
}
