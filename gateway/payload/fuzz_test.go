package payload

import (
	"encoding/json"
	"testing"
)

// FuzzAppendTyped feeds arbitrary PostgreSQL text, array literals
// included, to the typed renderer of the changes payload: it never
// panics, and for types whose elements always render as JSON strings or
// literals (text, bool, timestamps, and arrays of them) the output is
// valid JSON whatever the input. Numeric and json types are left out:
// their text is passed through, trusting PostgreSQL's output.
func FuzzAppendTyped(f *testing.F) {
	for _, s := range []string{`{1,2,NULL}`, `{"a b","c\"d",NULL}`, `{{t,f},{f,t}}`, `[0:1]={1,2}`, `{`, `{"`, `{,}`, `{{}}`,
		`2021-02-16 23:47:47.51613+00`, `t`, ``, "\x00", `{"\\`} {
		f.Add("text", s)
		f.Add("_text", s)
	}
	stringTypes := []string{"text", "_text", "bool", "_bool", "timestamptz", "_timestamptz", "timestamp", "_timestamp", "__text"}
	f.Fuzz(func(t *testing.T, typ, text string) {
		appendTyped(nil, typ, text) // any type: no panic
		for _, typ := range stringTypes {
			if out := appendTyped(nil, typ, text); !json.Valid(out) {
				t.Fatalf("appendTyped(%q, %q) = %s, not JSON", typ, text, out)
			}
		}
	})
}
