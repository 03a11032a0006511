package token

import (
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// FuzzVerifyToken feeds arbitrary tokens to the Verifier: nothing but
// a token signed with the secret is accepted, and nothing panics.
func FuzzVerifyToken(f *testing.F) {
	good, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"exp": time.Now().Add(time.Hour).Unix()}).SignedString([]byte(testSecret))
	for _, s := range []string{good, "", "a.b.c", "eyJhbGciOiJub25lIn0.e30.", strings.Repeat("%", 10), good + "x", " " + good} {
		f.Add(s)
	}
	a := NewVerifier(testSecret, nil, nil)
	f.Fuzz(func(t *testing.T, token string) {
		if _, err := a.Verify(token, true); err != nil {
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
