package filters

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseFilter(t *testing.T) {
	tests := []struct {
		in   string
		want Filter
	}{
		{"id=eq.1", Filter{{Column: "id", Op: OpEq, Value: "1"}}},
		{"status_id=in.(1,2,3)", Filter{{Column: "status_id", Op: OpIn, List: []string{"1", "2", "3"}}}},
		{`name=in.("a,b",c)`, Filter{{Column: "name", Op: OpIn, List: []string{"a,b", "c"}}}},
		{"id=not.eq.5", Filter{{Column: "id", Not: true, Op: OpEq, Value: "5"}}},
		{"a=gt.1,b=lte.2", Filter{{Column: "a", Op: OpGt, Value: "1"}, {Column: "b", Op: OpLte, Value: "2"}}},
		{`name=eq."x,y.z"`, Filter{{Column: "name", Op: OpEq, Value: "x,y.z"}}},
		{`name=eq."say \"hi\""`, Filter{{Column: "name", Op: OpEq, Value: `say "hi"`}}},
		{"deleted_at=is.NULL", Filter{{Column: "deleted_at", Op: OpIs, Value: "null"}}},
		{"v=eq.a.b", Filter{{Column: "v", Op: OpEq, Value: "a.b"}}},
	}
	for _, tc := range tests {
		got, err := ParseFilter(tc.in)
		if err != nil {
			t.Fatalf("ParseFilter(%q): %v", tc.in, err)
		}
		for i := range got {
			got[i].re = nil
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Fatalf("ParseFilter(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

func TestParseFilterErrors(t *testing.T) {
	for in, want := range map[string]string{
		"":                "column=op.value",
		"undefined":       "column=op.value",
		"id":              "column=op.value",
		"id=foo.1":        `unknown operator "foo"`,
		"id=eq":           `unknown operator "eq"`,
		"id=in.1,2":       "parentheses",
		"id=in.(1,2":      "unbalanced",
		`name=eq."abc`:    "unterminated",
		"name=is.maybe":   "null, true, false or unknown",
		"name=match.[a":   "regular expression",
		"=eq.1":           "column=op.value",
		"a=eq.1,,b=eq.2":  "column=op.value",
		"a=eq.1)":         "unbalanced",
		`a=eq."x"y"`:      "unterminated",
		`a=in.("x"y",1)`:  "quote",
		"a=not.bogus.1":   "unknown operator",
		"a=like":          "unknown operator",
		"status_id=eq1.2": "unknown operator",
	} {
		_, err := ParseFilter(in)
		var fe *FilterError
		if !errors.As(err, &fe) || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseFilter(%q) err = %v, want FilterError containing %q", in, err, want)
		}
	}
}

func cond(t *testing.T, f string) *Condition {
	t.Helper()
	p, err := ParseFilter(f)
	if err != nil {
		t.Fatal(err)
	}
	return &p[0]
}

func TestConditionMatchTyped(t *testing.T) {
	const null = "\x00"
	tests := []struct {
		filter, typ, value string
		want               bool
	}{
		{"id=eq.05", "int8", "5", true},
		{"id=eq.5", "int8", "6", false},
		{"id=neq.5", "int4", "6", true},
		{"id=neq.5", "int4", null, false},
		{"id=not.eq.5", "int4", null, false},
		{"id=gt.9", "int4", "10", true}, // numeric, not text, order
		{"id=lt.9", "int4", "10", false},
		{"price=eq.12.5", "numeric", "12.50", true},
		{"price=gte.12.50", "numeric", "12.5", true},
		{"x=lt.0.5", "float8", "0.25", true},
		{"ok=eq.true", "bool", "t", true},
		{"ok=eq.false", "bool", "t", false},
		{"id=in.(1,2,3)", "int8", "2", true},
		{"id=in.(1,2,3)", "int8", "4", false},
		{"id=not.in.(1,2,3)", "int8", "4", true},
		{"u=in.(A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11)", "uuid", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", true},
		{"name=in.(a,b)", "text", "b", true},
		{"name=eq.B", "text", "b", false},
		{"at=gt.2021-01-01", "timestamptz", "2021-02-16 23:47:47.51613+00", true},
		{"at=eq.2021-02-16T23:47:47.51613Z", "timestamptz", "2021-02-16 23:47:47.51613+00", true},
		{"at=lt.2021-02-16T23:00:00Z", "timestamp", "2021-02-16 23:47:47", false},
		{"d=is.null", "text", null, true},
		{"d=not.is.null", "text", null, false},
		{"d=not.is.null", "text", "x", true},
		{"ok=is.true", "bool", "t", true},
		{"ok=is.false", "bool", null, false},
		{"name=like.Re*", "text", "Reboque", true},
		{"name=like.%boq_e", "text", "Reboque", true},
		{"name=like.re%", "text", "Reboque", false},
		{"name=ilike.re%", "text", "Reboque", true},
		{"name=match.^R.+e$", "text", "Reboque", true},
		{"name=imatch.^r", "text", "Reboque", true},
		{"n=isdistinct.1", "int4", null, true},
		{"n=isdistinct.1", "int4", "1", false},
		{"n=isdistinct.1", "int4", "2", true},
		{"n=not.isdistinct.1", "int4", "1", true},
	}
	for _, tc := range tests {
		c := cond(t, tc.filter)
		if err := c.Bind(tc.typ); err != nil {
			t.Fatalf("%s Bind(%s): %v", tc.filter, tc.typ, err)
		}
		if got := c.Match(tc.typ, tc.value == null, tc.value); got != tc.want {
			t.Errorf("%s on %s %q = %v, want %v", tc.filter, tc.typ, tc.value, got, tc.want)
		}
	}
}

func TestBindRejectsUncastableValues(t *testing.T) {
	for _, tc := range []struct{ filter, typ string }{
		{"id=eq.abc", "int8"},
		{"id=in.(1,x)", "int4"},
		{"u=eq.nope", "uuid"},
		{"at=gt.yesterday", "timestamptz"},
		{"ok=eq.maybe", "bool"},
		{"name=is.true", "text"},
	} {
		if err := cond(t, tc.filter).Bind(tc.typ); err == nil {
			t.Errorf("%s on %s: Bind succeeded, want an error", tc.filter, tc.typ)
		}
	}
}

func TestTypeChangeAfterBind(t *testing.T) {
	c := cond(t, "id=eq.7")
	if err := c.Bind("int4"); err != nil {
		t.Fatal(err)
	}
	if !c.Match("text", false, "7") || c.Match("text", false, "07") {
		t.Fatal("after ALTER to text the value must compare as text")
	}
}

func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{"id=eq.1", `a=in.(1,"2,3")`, "a=not.like.x*", `b=eq."q\"",c=gt.2`, "x=match.(a|b)"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		fl, err := ParseFilter(s)
		if err != nil {
			return
		}
		for i := range fl {
			c := &fl[i]
			if c.Column == "" || !operators[c.Op] {
				t.Fatalf("ParseFilter(%q) gave %+v", s, c)
			}
			for _, typ := range []string{"int8", "text", "numeric", "bool", "uuid", "timestamptz"} {
				if c.Bind(typ) == nil {
					c.Match(typ, false, "12")
					c.Match(typ, true, "")
				}
			}
		}
	})
}
