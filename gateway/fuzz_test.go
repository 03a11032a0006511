package gateway

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// FuzzParseBinding feeds arbitrary postgres_changes entries to the join
// config parser: it may refuse them, never panic, and what it accepts has
// an event it can route and a stable id.
func FuzzParseBinding(f *testing.F) {
	for _, s := range []string{
		`{"event":"*","schema":"public","table":"todos"}`,
		`{"event":"UPDATE","schema":"public","table":"todos","filter":"id=gt.5"}`,
		`{"event":"INSERT","table":"t","filter":"id=in.(1,2)","select":["a","b"]}`,
		`{"event":"*","schema":"*"}`, `{"filter":"name=like.*x*"}`, `{"select":[]}`, `null`, `[]`, `{"event":1}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		b, err := parseBinding(json.RawMessage(raw))
		if err != nil {
			return
		}
		if !b.wants("INSERT") && !b.wants("UPDATE") && !b.wants("DELETE") {
			t.Fatalf("accepted binding routes nothing: %+v", b)
		}
		if again, _ := parseBinding(json.RawMessage(raw)); again.id != b.id {
			t.Fatalf("id not stable: %d then %d", b.id, again.id)
		}
		_ = b.replyEntry()
	})
}

// FuzzVerifyToken feeds arbitrary tokens to the authenticator: nothing but
// a token signed with the secret is accepted, and nothing panics.
func FuzzVerifyToken(f *testing.F) {
	good, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"exp": time.Now().Add(time.Hour).Unix()}).SignedString([]byte(testSecret))
	for _, s := range []string{good, "", "a.b.c", "eyJhbGciOiJub25lIn0.e30.", strings.Repeat("%", 10), good + "x", " " + good} {
		f.Add(s)
	}
	a := newAuthenticator(testSecret, nil, nil)
	f.Fuzz(func(t *testing.T, token string) {
		if _, err := a.verify(token, true); err != nil {
			return
		}
		// Accepted: the signature must check out with the secret.
		parsed, err := jwt.Parse(cleanToken(token), func(*jwt.Token) (any, error) { return []byte(testSecret), nil },
			jwt.WithValidMethods([]string{"HS256", "HS384", "HS512"}), jwt.WithLeeway(leeway))
		if err != nil || !parsed.Valid {
			t.Fatalf("accepted a token the secret did not sign: %q (%v)", token, err)
		}
	})
}
