package authz

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ErrMissingClaims is returned for a token without a role or an exp: the
// original refuses such a token with exactly this text, capital included.
//
//lint:ignore ST1005 the text is the original's reply, which clients show
var ErrMissingClaims = errors.New("Fields `role` and `exp` are required in JWT")

// maxRoleLen is PostgreSQL's NAMEDATALEN-1: a longer role cannot exist, and
// PostgreSQL would silently truncate it to one that might.
const maxRoleLen = 63

// Subject is who a channel acts as in the database: a role and the claims
// that policies read. It is immutable; a token refresh makes a new one.
type Subject struct {
	// Role is the claims' role, the PostgreSQL role checks run as.
	Role string
	// Claims is the claims object as compact JSON with sorted keys, the
	// value of request.jwt.claims.
	Claims string
	// Sub and ClaimRole are the legacy request.jwt.claim.sub and
	// request.jwt.claim.role settings that older policies read.
	Sub, ClaimRole string
	// key identifies subjects that see the same rows: one visibility check
	// serves every subscriber with the same key.
	key string
}

// Key is the grouping key of visibility checks: equal keys, equal answers.
func (s *Subject) Key() string { return s.key }

// NewSubject reads a verified token's claims. It requires role (a
// non-empty string) and exp, as the original does.
func NewSubject(claims map[string]any) (*Subject, error) {
	role, _ := claims["role"].(string)
	if !isNumber(claims["exp"]) || role == "" {
		return nil, ErrMissingClaims
	}
	if len(role) > maxRoleLen || !utf8.ValidString(role) || strings.ContainsRune(role, 0) {
		return nil, fmt.Errorf("role %q is not a PostgreSQL role name", role)
	}
	// encoding/json sorts map keys, so equal claims give equal text.
	enc, err := json.Marshal(claims)
	if err != nil {
		return nil, fmt.Errorf("encode claims: %w", err)
	}
	if strings.ContainsRune(string(enc), 0) {
		// A NUL cannot travel in a text parameter.
		return nil, errors.New("claims must not contain NUL characters")
	}
	s := &Subject{Role: role, Claims: string(enc), Sub: claimText(claims["sub"]), ClaimRole: role}
	s.key = role + "\x00" + s.Claims
	return s, nil
}

// ParseClaims reads a JWT payload (the JSON object of claims) into a
// Subject, keeping numbers exact.
func ParseClaims(payload []byte) (*Subject, error) {
	dec := json.NewDecoder(strings.NewReader(string(payload)))
	dec.UseNumber()
	var claims map[string]any
	if err := dec.Decode(&claims); err != nil {
		return nil, fmt.Errorf("claims: %w", err)
	}
	if claims == nil {
		return nil, errors.New("claims must be a JSON object")
	}
	if dec.More() {
		return nil, errors.New("claims: trailing data")
	}
	return NewSubject(claims)
}

// isNumber reports whether a decoded JSON value is a number (exp: null or
// "soon" is no expiry).
func isNumber(v any) bool {
	switch v.(type) {
	case json.Number, float64, int64, int:
		return true
	}
	return false
}

// claimText renders a claim as PostgREST puts it in request.jwt.claim.*:
// strings as they are, anything else as JSON.
func claimText(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		if strings.ContainsRune(v, 0) {
			return ""
		}
		return v
	case json.Number:
		return v.String()
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	b, _ := json.Marshal(v)
	return string(b)
}
