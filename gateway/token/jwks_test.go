package token

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const testSecret = "super-secret-jwt-token-with-at-least-32-characters"

var b64 = base64.RawURLEncoding.EncodeToString

func rsaJWK(t *testing.T, kid string, pub *rsa.PublicKey) map[string]string {
	t.Helper()
	return map[string]string{"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig", "n": b64(pub.N.Bytes()), "e": b64(big.NewInt(int64(pub.E)).Bytes())}
}

func ecJWK(t *testing.T, kid string, pub *ecdsa.PublicKey) map[string]string {
	t.Helper()
	raw, err := pub.Bytes() // 0x04 || X || Y
	if err != nil {
		t.Fatal(err)
	}
	n := (len(raw) - 1) / 2
	return map[string]string{"kty": "EC", "kid": kid, "crv": "P-256", "x": b64(raw[1 : 1+n]), "y": b64(raw[1+n:])}
}

func jwksText(t *testing.T, keys ...map[string]string) string {
	t.Helper()
	b, err := json.Marshal(map[string]any{"keys": keys})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func signWith(t *testing.T, m jwt.SigningMethod, kid string, key crypto.PrivateKey, exp time.Time) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, jwt.MapClaims{"role": "authenticated", "exp": exp.Unix()})
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Asymmetric tokens verify with the JWKS key their kid names; a token that
// names no kid still verifies against the keys of its family; what any
// other key signed, or what claims an algorithm no key has, is refused.
func TestJWKSVerifiesAsymmetricTokens(t *testing.T) {
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	otherRSA, _ := rsa.GenerateKey(rand.Reader, 2048)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	edPub, edKey, _ := ed25519.GenerateKey(rand.Reader)
	keys, err := ParseJWKS(jwksText(t, rsaJWK(t, "r1", &rsaKey.PublicKey), rsaJWK(t, "r2", &otherRSA.PublicKey), ecJWK(t, "e1", &ecKey.PublicKey),
		map[string]string{"kty": "OKP", "crv": "Ed25519", "kid": "d1", "x": b64(edPub)}))
	if err != nil {
		t.Fatal(err)
	}
	a := NewVerifier("", keys, nil)
	hour := time.Now().Add(time.Hour)
	for name, tok := range map[string]string{
		"RS256 kid r1":  signWith(t, jwt.SigningMethodRS256, "r1", rsaKey, hour),
		"RS256 kid r2":  signWith(t, jwt.SigningMethodRS256, "r2", otherRSA, hour),
		"RS256 no kid":  signWith(t, jwt.SigningMethodRS256, "", rsaKey, hour),
		"PS256 kid r1":  signWith(t, jwt.SigningMethodPS256, "r1", rsaKey, hour),
		"ES256 kid e1":  signWith(t, jwt.SigningMethodES256, "e1", ecKey, hour),
		"EdDSA kid d1":  signWith(t, jwt.SigningMethodEdDSA, "d1", edKey, hour),
		"unknown kid":   signWith(t, jwt.SigningMethodES256, "rotated-away", ecKey, hour),
		"RS512 another": signWith(t, jwt.SigningMethodRS512, "r1", rsaKey, hour),
	} {
		if _, err := a.Verify(tok, true); err != nil {
			t.Errorf("%s refused: %v", name, err)
		}
	}

	stranger, _ := rsa.GenerateKey(rand.Reader, 2048)
	pubDER, _ := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	for name, c := range map[string]struct{ tok, reason string }{
		"signed by a stranger": {signWith(t, jwt.SigningMethodRS256, "r1", stranger, hour), "signature"},
		"wrong kid's key":      {signWith(t, jwt.SigningMethodRS256, "r2", rsaKey, hour), "signature"},
		// Algorithm confusion: HMAC keyed with the public key everyone knows.
		"HS256 keyed with the public PEM": {signWith(t, jwt.SigningMethodHS256, "r1", pubPEM, hour), "signature"},
		"HS256 keyed with n":              {signWith(t, jwt.SigningMethodHS256, "r1", rsaKey.N.Bytes(), hour), "signature"},
		"expired":                         {signWith(t, jwt.SigningMethodES256, "e1", ecKey, time.Now().Add(-time.Hour)), "expired"},
		"alg none":                        {noneToken(t, hour), "signature"},
	} {
		_, err := a.Verify(c.tok, true)
		if err == nil || !strings.Contains(err.Error(), c.reason) {
			t.Errorf("%s: got %v, want an error about %q", name, err, c.reason)
		}
	}
}

func noneToken(t *testing.T, exp time.Time) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{"exp": exp.Unix()}).SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// A secret and a JWKS together: HS tokens use the secret, the others the set.
func TestSecretAndJWKSTogether(t *testing.T) {
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	keys, err := ParseJWKS(jwksText(t, ecJWK(t, "e1", &ecKey.PublicKey)))
	if err != nil {
		t.Fatal(err)
	}
	a := NewVerifier(testSecret, keys, map[string]any{"role": "authenticated"})
	hour := time.Now().Add(time.Hour)
	for _, tok := range []string{signWith(t, jwt.SigningMethodHS256, "", []byte(testSecret), hour), signWith(t, jwt.SigningMethodES256, "e1", ecKey, hour)} {
		if _, err := a.Verify(tok, true); err != nil {
			t.Errorf("refused: %v", err)
		}
	}
	anon, _ := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{"role": "anon", "exp": hour.Unix()}).SignedString(ecKey)
	if _, err := a.Verify(anon, true); err == nil || !strings.Contains(err.Error(), `"role"`) {
		t.Errorf("claim validator not applied to JWKS tokens: %v", err)
	}
}

// Bad key sets are configuration errors that say what is wrong.
func TestJWKSConfigErrors(t *testing.T) {
	for text, want := range map[string]string{
		`not json`:    "not JSON",
		`{"keys":[]}`: "no signing key",
		`{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"}]}`:             "too weak",
		`{"keys":[{"kty":"EC","crv":"P-256","x":"AA","y":"AA"}]}`:    "32 bytes",
		`{"keys":[{"kty":"EC","crv":"secp256k1"}]}`:                  "P-256",
		`{"keys":[{"kty":"foo"}]}`:                                   "key type",
		`{"keys":[{"kty":"RSA","use":"enc","n":"AQAB","e":"AQAB"}]}`: "no signing key",
	} {
		_, err := ParseJWKS(text)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want %q", text, err, want)
		}
	}
	// A point not on the curve is refused, not trusted.
	bad := `{"kty":"EC","crv":"P-256","x":"` + b64(make([]byte, 32)) + `","y":"` + b64(append(make([]byte, 31), 1)) + `"}`
	if _, err := ParseJWKS(bad); err == nil {
		t.Error("a point off the curve was accepted")
	}
}
