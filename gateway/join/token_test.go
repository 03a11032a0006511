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
