package filters

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// Operator is a PostgREST-style filter operator of postgres_changes.
type Operator string

// The operators the current original accepts. eq, neq, lt, lte, gt, gte and
// in are long-standing; the others arrived in 2026.
const (
	OpEq         Operator = "eq"
	OpNeq        Operator = "neq"
	OpLt         Operator = "lt"
	OpLte        Operator = "lte"
	OpGt         Operator = "gt"
	OpGte        Operator = "gte"
	OpIn         Operator = "in"
	OpIs         Operator = "is"
	OpLike       Operator = "like"
	OpIlike      Operator = "ilike"
	OpMatch      Operator = "match"
	OpImatch     Operator = "imatch"
	OpIsDistinct Operator = "isdistinct"
)

var operators = map[Operator]bool{OpEq: true, OpNeq: true, OpLt: true, OpLte: true, OpGt: true, OpGte: true,
	OpIn: true, OpIs: true, OpLike: true, OpIlike: true, OpMatch: true, OpImatch: true, OpIsDistinct: true}

const operatorList = "eq, neq, lt, lte, gt, gte, in, is, like, ilike, match, imatch, isdistinct"

// Condition is one column=op.value test.
type Condition struct {
	Column string
	Not    bool
	Op     Operator
	// Value is the unquoted value; List holds the elements of in.(...).
	Value string
	List  []string

	re *regexp.Regexp // like, ilike, match, imatch
	// bound is the value (or list) cast to the column's type by Bind.
	bound *boundValue
}

// Filter is a conjunction of conditions: every one must hold.
type Filter []Condition

// FilterError says why a filter cannot be used.
type FilterError struct {
	Filter string
	Reason string
}

func (e *FilterError) Error() string {
	return fmt.Sprintf("invalid filter %q: %s", e.Filter, e.Reason)
}

// ParseFilter parses "col=op.value[,col=op.value...]". Values may be
// double-quoted (with backslash escapes) to hold commas, parentheses or
// quotes; in takes a parenthesised list: id=in.(1,2,3).
func ParseFilter(s string) (Filter, error) {
	bad := func(format string, args ...any) (Filter, error) {
		return nil, &FilterError{Filter: s, Reason: fmt.Sprintf(format, args...)}
	}
	if strings.TrimSpace(s) == "" || s == "undefined" {
		return bad("a filter has the form column=op.value, e.g. id=eq.1")
	}
	parts, err := splitTopLevel(s, ',')
	if err != nil {
		return bad("%v", err)
	}
	f := make(Filter, 0, len(parts))
	for _, p := range parts {
		c, reason := parseCondition(p)
		if reason != "" {
			return bad("%s", reason)
		}
		f = append(f, c)
	}
	return f, nil
}

func parseCondition(p string) (Condition, string) {
	col, rest, ok := strings.Cut(p, "=")
	col = strings.TrimSpace(col)
	if !ok || col == "" {
		return Condition{}, fmt.Sprintf("%q: a condition has the form column=op.value", p)
	}
	c := Condition{Column: col}
	if r, ok := strings.CutPrefix(rest, "not."); ok {
		c.Not, rest = true, r
	}
	op, value, ok := strings.Cut(rest, ".")
	c.Op = Operator(op)
	if !ok || !operators[c.Op] {
		return Condition{}, fmt.Sprintf("%q: unknown operator %q (use %s, optionally after not.)", p, op, operatorList)
	}
	if c.Op == OpIn {
		inner, ok := strings.CutPrefix(value, "(")
		if ok {
			inner, ok = strings.CutSuffix(inner, ")")
		}
		if !ok {
			return Condition{}, fmt.Sprintf("%q: in takes a list in parentheses, e.g. %s=in.(1,2,3)", p, col)
		}
		items, err := splitTopLevel(inner, ',')
		if err != nil {
			return Condition{}, fmt.Sprintf("%q: %v", p, err)
		}
		for _, it := range items {
			v, err := unquote(strings.TrimSpace(it))
			if err != nil {
				return Condition{}, fmt.Sprintf("%q: %v", p, err)
			}
			c.List = append(c.List, v)
		}
		return c, ""
	}
	v, err := unquote(value)
	if err != nil {
		return Condition{}, fmt.Sprintf("%q: %v", p, err)
	}
	c.Value = v
	switch c.Op {
	case OpIs:
		switch strings.ToLower(v) {
		case "null", "true", "false", "unknown":
			c.Value = strings.ToLower(v)
		default:
			return Condition{}, fmt.Sprintf("%q: is takes null, true, false or unknown", p)
		}
	case OpLike, OpIlike, OpMatch, OpImatch:
		if !utf8.ValidString(v) {
			return Condition{}, fmt.Sprintf("%q: the pattern is not valid UTF-8", p)
		}
		expr := v
		switch c.Op {
		case OpLike, OpIlike:
			expr = likePattern(v, c.Op == OpIlike)
		case OpImatch:
			expr = "(?i)" + expr
		}
		re, err := regexp.Compile(expr)
		if err != nil {
			return Condition{}, fmt.Sprintf("%q: invalid regular expression: %v", p, err)
		}
		c.re = re
	}
	return c, ""
}

// splitTopLevel splits s on sep outside double quotes and parentheses.
func splitTopLevel(s string, sep byte) ([]string, error) {
	var parts []string
	depth, start, quoted := 0, 0, false
	for i := 0; i < len(s); i++ {
		switch ch := s[i]; {
		case quoted && ch == '\\':
			i++
		case ch == '"':
			quoted = !quoted
		case quoted:
		case ch == '(':
			depth++
		case ch == ')':
			if depth--; depth < 0 {
				return nil, fmt.Errorf("unbalanced ')' at byte %d", i)
			}
		case ch == sep && depth == 0:
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	if quoted {
		return nil, fmt.Errorf("unterminated quoted value")
	}
	if depth != 0 {
		return nil, fmt.Errorf("unbalanced '('")
	}
	return append(parts, s[start:]), nil
}

// unquote removes PostgREST double quotes and their backslash escapes.
func unquote(v string) (string, error) {
	if len(v) == 0 || v[0] != '"' {
		return v, nil
	}
	if len(v) < 2 || v[len(v)-1] != '"' {
		return "", fmt.Errorf("value %s: a quoted value must end with a quote", v)
	}
	var b strings.Builder
	inner := v[1 : len(v)-1]
	for i := 0; i < len(inner); i++ {
		if inner[i] == '\\' && i+1 < len(inner) {
			i++
		} else if inner[i] == '"' {
			return "", fmt.Errorf("value %s: quotes inside a quoted value need a backslash", v)
		}
		b.WriteByte(inner[i])
	}
	return b.String(), nil
}

// likePattern turns a LIKE pattern into an anchored regexp. PostgREST lets
// clients write * for %, since % is awkward in URLs.
func likePattern(p string, fold bool) string {
	var b strings.Builder
	if fold {
		b.WriteString("(?i)")
	}
	b.WriteString("(?s)^")
	escaped := false
	for _, r := range p {
		switch {
		case escaped:
			b.WriteString(regexp.QuoteMeta(string(r)))
			escaped = false
		case r == '\\':
			escaped = true
		case r == '%' || r == '*':
			b.WriteString(".*")
		case r == '_':
			b.WriteString(".")
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteString("$")
	return b.String()
}
