package token

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"strings"
	"time"
	"unicode"

	"github.com/golang-jwt/jwt/v5"

	"github.com/pgrealtime/realtime/gateway/authz"
)

// Verifier verifies the JWTs of secure channels: HMAC with JWT_SECRET,
// and RSA, ECDSA or Ed25519 with the keys of JWT_JWKS. It is immutable
// once built, so any number of goroutines may use it at once.
type Verifier struct {
	keys       []Key
	methods    []string
	validators map[string]any
	now        func() time.Time
}

// leeway tolerates small clock differences between the token issuer and us
// for nbf and iat only: exp is judged on our own clock, without grace, so a
// channel never receives after its token's expiry.
const leeway = 5 * time.Second

// NewVerifier builds a Verifier that accepts tokens signed with secret
// (HMAC; "" for none) or with one of jwks, and whose claims equal every
// entry of validators (JWT_CLAIM_VALIDATORS; nil for none).
func NewVerifier(secret string, jwks []Key, validators map[string]any) *Verifier {
	var keys []Key
	if secret != "" {
		keys = append(keys, Key{family: "HS", key: []byte(secret)})
	}
	keys = append(keys, jwks...)
	return &Verifier{keys: keys, methods: methodsFor(keys), validators: validators, now: time.Now}
}

// key picks the keys that may verify t: those of its algorithm's family,
// narrowed to its kid when a key carries that kid.
func (a *Verifier) key(t *jwt.Token) (any, error) {
	fam := family(t.Method.Alg())
	kid, _ := t.Header["kid"].(string)
	var all, byKid []jwt.VerificationKey
	for _, k := range a.keys {
		if k.family != fam {
			continue
		}
		all = append(all, k.key)
		if kid != "" && k.kid == kid {
			byKid = append(byKid, k.key)
		}
	}
	if len(byKid) > 0 {
		all = byKid
	}
	switch len(all) {
	case 0:
		return nil, fmt.Errorf("no key for %s tokens is configured", t.Method.Alg())
	case 1:
		return all[0], nil
	}
	return jwt.VerificationKeySet{Keys: all}, nil
}

// cleanToken undoes what proxies and copy-paste do to tokens: URL encoding
// and stray whitespace, as the original does.
func cleanToken(t string) string {
	if u, err := url.QueryUnescape(t); err == nil {
		t = u
	}
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, t)
}

// Verify checks token and returns its expiry (zero when it has none and
// requireExp is false). An error's text is the reason the original gives
// in its replies, fit to show a client as it is.
func (a *Verifier) Verify(token string, requireExp bool) (time.Time, error) {
	exp, _, err := a.VerifyClaims(token, requireExp)
	return exp, err
}

// VerifyClaims is Verify that also returns the token's claims (numbers as
// json.Number, so claims reach policies as they were signed).
func (a *Verifier) VerifyClaims(token string, requireExp bool) (time.Time, map[string]any, error) {
	token = cleanToken(token)
	if token == "" {
		return time.Time{}, nil, errors.New("no token: send one as the apikey query parameter, the x-api-key header, or user_token/access_token in the join payload")
	}
	now := a.now()
	opts := []jwt.ParserOption{
		jwt.WithValidMethods(a.methods),
		jwt.WithLeeway(leeway),
		jwt.WithTimeFunc(func() time.Time { return now }),
		jwt.WithJSONNumber(),
	}
	if requireExp {
		opts = append(opts, jwt.WithExpirationRequired())
	}
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(token, claims, a.key, opts...)
	if err != nil {
		return time.Time{}, nil, describeJWTError(err, claims, now)
	}
	for k, want := range a.validators {
		if got, ok := claims[k]; !ok || !sameClaim(got, want) {
			return time.Time{}, nil, fmt.Errorf("claim %q must be %v", k, want)
		}
	}
	exp, _ := claims.GetExpirationTime()
	if exp == nil {
		return time.Time{}, claims, nil
	}
	// The parser granted exp the leeway meant for nbf and iat.
	if !now.Before(exp.Time) {
		return time.Time{}, nil, &replyError{fmt.Sprintf("Token has expired %d seconds ago", int(now.Sub(exp.Time).Seconds()))}
	}
	return exp.Time, claims, nil
}

// sameClaim compares a claim (numbers as json.Number, also nested) with a
// validator value from JWT_CLAIM_VALIDATORS (numbers as float64).
func sameClaim(got, want any) bool {
	if b, err := json.Marshal(got); err == nil {
		var plain any
		if json.Unmarshal(b, &plain) == nil {
			got = plain
		}
	}
	return reflect.DeepEqual(got, want)
}

// replyError carries a reason text exactly as the original puts it in its
// replies ("Token has expired 12 seconds ago"), capitals included, so
// clients that show it read what they would read from the original.
type replyError struct{ reason string }

func (e *replyError) Error() string { return e.reason }

func describeJWTError(err error, claims jwt.MapClaims, now time.Time) error {
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		if exp, _ := claims.GetExpirationTime(); exp != nil {
			return &replyError{fmt.Sprintf("Token has expired %d seconds ago", int(now.Sub(exp.Time).Seconds()))}
		}
		return &replyError{"Token has expired"}
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return &replyError{authz.ErrMissingClaims.Error()}
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return &replyError{"Failed to validate JWT signature"}
	case errors.Is(err, jwt.ErrTokenUnverifiable), errors.Is(err, jwt.ErrTokenInvalidClaims), errors.Is(err, jwt.ErrTokenNotValidYet):
		return &replyError{fmt.Sprintf("The token is not valid: %v", err)}
	}
	return &replyError{"The token provided is not a valid JWT"}
}
