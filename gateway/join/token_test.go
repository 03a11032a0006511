package join

import (
	"encoding/json"
	"testing"
)

func TestToken(t *testing.T) {
	for _, tc := range []struct {
		raws []string
		want string
	}{
		{nil, ""},
		{[]string{`"a.b.c"`, `"x.y.z"`}, "a.b.c"},
		{[]string{`""`, `"x.y.z"`}, "x.y.z"},
		{[]string{`null`, `"x.y.z"`}, "x.y.z"},
		{[]string{``, `"x.y.z"`}, "x.y.z"},
		{[]string{`12`, `{"t":"a"}`, `["a"]`}, ""},
		{[]string{`"a\u002eb"`}, "a.b"},
		{[]string{`"unterminated`}, ""},
	} {
		raws := make([]json.RawMessage, len(tc.raws))
		for i, r := range tc.raws {
			raws[i] = json.RawMessage(r)
		}
		if got := Token(raws...); got != tc.want {
			t.Errorf("Token(%q) = %q, want %q", tc.raws, got, tc.want)
		}
	}
}

// Supabase's opaque API keys are no channel token; JWTs are.
func TestOpaque(t *testing.T) {
	for token, want := range map[string]bool{"sb_publishable_abc": true, "sb_secret_x": true, "eyJhbGciOi.x.y": false, "": false} {
		if Opaque(token) != want {
			t.Errorf("Opaque(%q) = %v", token, !want)
		}
	}
}
