package authz

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestNewSubjectRequiresRoleAndExp(t *testing.T) {
	for name, claims := range map[string]map[string]any{
		"no role":     {"exp": 1},
		"empty role":  {"role": "", "exp": 1},
		"role number": {"role": 7, "exp": 1},
		"no exp":      {"role": "anon"},
		"exp null":    {"role": "anon", "exp": nil},
		"exp string":  {"role": "anon", "exp": "4102444800"},
	} {
		if _, err := NewSubject(claims); !errors.Is(err, ErrMissingClaims) {
			t.Errorf("%s: NewSubject = %v, want ErrMissingClaims", name, err)
		}
	}
	if _, err := NewSubject(map[string]any{"role": strings.Repeat("r", 64), "exp": 1}); err == nil {
		t.Error("a 64-byte role was accepted")
	}
}

func TestSubjectSettings(t *testing.T) {
	s, err := ParseClaims([]byte(`{"sub":"u1","role":"authenticated","exp":12345678901234567890,"app":{"b":1,"a":2}}`))
	if err != nil {
		t.Fatal(err)
	}
	if s.Role != "authenticated" || s.Sub != "u1" || s.ClaimRole != "authenticated" {
		t.Fatalf("subject = %+v", s)
	}
	// Sorted keys and exact numbers: policies comparing exp must see what was signed.
	if want := `{"app":{"a":2,"b":1},"exp":12345678901234567890,"role":"authenticated","sub":"u1"}`; s.Claims != want {
		t.Fatalf("Claims = %s, want %s", s.Claims, want)
	}
	t2, _ := ParseClaims([]byte(`{"role":"authenticated","app":{"a":2,"b":1},"sub":"u1","exp":12345678901234567890}`))
	if t2.Key() != s.Key() {
		t.Fatal("the same claims in another order got another group key")
	}
	t3, _ := ParseClaims([]byte(`{"role":"authenticated","sub":"u2","exp":1}`))
	if t3.Key() == s.Key() {
		t.Fatal("different claims share a group key")
	}
	n, _ := ParseClaims([]byte(`{"role":"anon","sub":42,"exp":1}`))
	if n.Sub != "42" {
		t.Fatalf("numeric sub = %q", n.Sub)
	}
}

// FuzzParseClaims: no panic; what is accepted has a role and exp, travels
// as a text parameter (no NUL), and its Claims text is JSON that parses
// back to the same subject.
func FuzzParseClaims(f *testing.F) {
	for _, s := range []string{`{"role":"anon","exp":1}`, `{"role":"authenticated","sub":"x","exp":1.5e9,"a":[1,{"b":null}]}`,
		`{"role":"a\u0000b","exp":1}`, `{"role":"anon","exp":1,"sub":"\u0000"}`, `[]`, `null`, `{"role":"anon","exp":1} x`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		s, err := ParseClaims(payload)
		if err != nil {
			return
		}
		if s.Role == "" || len(s.Role) > maxRoleLen || strings.ContainsRune(s.Claims+s.Sub+s.Role, 0) {
			t.Fatalf("accepted a subject that cannot be set: %+v", s)
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(s.Claims), &m); err != nil || !isNumber(m["exp"]) {
			t.Fatalf("Claims %q is not the claims object: %v", s.Claims, err)
		}
		again, err := ParseClaims([]byte(s.Claims))
		if err != nil || again.Key() != s.Key() || again.Sub != s.Sub {
			t.Fatalf("round trip: %+v, %v; want %+v", again, err, s)
		}
	})
}
