package join

import (
	"encoding/json"
	"strings"
)

// Token returns the token a client's payload carries: the first of raws
// that is a non-empty JSON string (a join's user_token before its
// access_token; an access_token refresh's one). null, numbers and the like
// are no token.
func Token(raws ...json.RawMessage) string {
	for _, r := range raws {
		var s string
		if len(r) > 0 && r[0] == '"' && json.Unmarshal(r, &s) == nil && s != "" {
			return s
		}
	}
	return ""
}

// Opaque reports whether token is one of Supabase's opaque API keys
// (sb_publishable_..., sb_secret_...), which a client may send where a JWT
// goes: it says nothing of a user, so it is no channel token.
func Opaque(token string) bool { return strings.HasPrefix(token, "sb_") }
