package filters

import (
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"
)

// class groups PostgreSQL types by how their values compare.
type class uint8

const (
	classText class = iota
	classInt
	classFloat
	classNumeric
	classBool
	classUUID
	classTime
)

func classOf(typ string) class {
	switch typ {
	case "int2", "int4", "int8", "oid", "xid":
		return classInt
	case "float4", "float8":
		return classFloat
	case "numeric", "money":
		return classNumeric
	case "bool":
		return classBool
	case "uuid":
		return classUUID
	case "timestamp", "timestamptz", "date":
		return classTime
	}
	return classText
}

// typed is a value cast to its column's class, as PostgreSQL would cast the
// filter's text to the column type before comparing.
type typed struct {
	s string
	i int64
	f float64
	r *big.Rat
	t time.Time
	b bool
}

func cast(cl class, text string) (typed, bool) {
	switch cl {
	case classInt:
		i, err := strconv.ParseInt(strings.TrimSpace(text), 10, 64)
		return typed{i: i}, err == nil
	case classFloat:
		f, err := strconv.ParseFloat(strings.TrimSpace(text), 64)
		return typed{f: f}, err == nil
	case classNumeric:
		r, ok := new(big.Rat).SetString(strings.TrimSpace(strings.TrimPrefix(text, "$")))
		return typed{r: r}, ok
	case classBool:
		switch strings.ToLower(strings.TrimSpace(text)) {
		case "t", "true", "y", "yes", "on", "1":
			return typed{b: true}, true
		case "f", "false", "n", "no", "off", "0":
			return typed{b: false}, true
		}
		return typed{}, false
	case classUUID:
		s := strings.ToLower(strings.Trim(strings.ReplaceAll(text, "-", ""), "{}"))
		return typed{s: s}, len(s) == 32
	case classTime:
		t, ok := parseTime(text)
		return typed{t: t}, ok
	}
	return typed{s: text}, true
}

func compare(cl class, a, b typed) int {
	switch cl {
	case classInt:
		return cmpOrdered(a.i, b.i)
	case classFloat:
		return cmpOrdered(a.f, b.f)
	case classNumeric:
		return a.r.Cmp(b.r)
	case classBool:
		switch {
		case a.b == b.b:
			return 0
		case !a.b:
			return -1
		}
		return 1
	case classTime:
		return a.t.Compare(b.t)
	}
	return strings.Compare(a.s, b.s)
}

func cmpOrdered[T int64 | float64](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

var timeLayouts = []string{
	"2006-01-02 15:04:05.999999999-07",
	"2006-01-02 15:04:05.999999999-07:00",
	"2006-01-02 15:04:05.999999999-07:00:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02",
}

// parseTime reads PostgreSQL's text output and the ISO 8601 forms clients
// write. A value without a zone is taken as UTC, as the server runs in UTC.
func parseTime(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if len(s) > 10 && s[10] == 'T' {
		s = s[:10] + " " + s[11:]
	}
	if strings.HasSuffix(s, "Z") {
		s = s[:len(s)-1] + "+00"
	}
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// boundValue is a condition's value (or in-list) cast to one column type.
type boundValue struct {
	typ   string
	class class
	one   typed
	list  []typed
}

func (c *Condition) bind(typ string) (*boundValue, error) {
	b := &boundValue{typ: typ, class: classOf(typ)}
	castOne := func(v string) (typed, error) {
		t, ok := cast(b.class, v)
		if !ok {
			return typed{}, fmt.Errorf("value %q of column %q cannot be cast to its type %s", v, c.Column, typ)
		}
		return t, nil
	}
	var err error
	switch c.Op {
	case OpIn:
		b.list = make([]typed, len(c.List))
		for i, v := range c.List {
			if b.list[i], err = castOne(v); err != nil {
				return nil, err
			}
		}
	case OpEq, OpNeq, OpLt, OpLte, OpGt, OpGte, OpIsDistinct:
		if b.one, err = castOne(c.Value); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// Bind checks the condition against its column's type and caches the cast
// value, so matching does not re-parse it for every change. It must be
// called before the condition is shared with other goroutines.
func (c *Condition) Bind(typ string) error {
	if c.Op == OpIs && (c.Value == "true" || c.Value == "false" || c.Value == "unknown") && classOf(typ) != classBool {
		return fmt.Errorf("is.%s needs a boolean column; %q is %s", c.Value, c.Column, typ)
	}
	b, err := c.bind(typ)
	if err != nil {
		return err
	}
	c.bound = b
	return nil
}

// Match evaluates the condition on a column value of type typ. null is SQL
// NULL; text is PostgreSQL's text output otherwise. Like SQL, a comparison
// with NULL is never true, with or without not., except is and isdistinct.
func (c *Condition) Match(typ string, null bool, text string) bool {
	switch c.Op {
	case OpIs:
		var r bool
		switch c.Value {
		case "null":
			r = null
		case "unknown":
			r = null
		default:
			t, ok := cast(classBool, text)
			r = !null && ok && t.b == (c.Value == "true")
		}
		return r != c.Not
	case OpIsDistinct:
		b := c.boundFor(typ)
		if b == nil {
			return false
		}
		r := null
		if !null {
			v, ok := cast(b.class, text)
			r = !ok || compare(b.class, v, b.one) != 0
		}
		return r != c.Not
	}
	if null {
		return false
	}
	var r bool
	switch c.Op {
	case OpLike, OpIlike, OpMatch, OpImatch:
		r = c.re.MatchString(text)
	default:
		b := c.boundFor(typ)
		if b == nil {
			return false
		}
		v, ok := cast(b.class, text)
		if !ok {
			return false
		}
		r = b.test(c.Op, v)
	}
	return r != c.Not
}

func (c *Condition) boundFor(typ string) *boundValue {
	if c.bound != nil && c.bound.typ == typ {
		return c.bound
	}
	// The column's type changed since the subscription was made (ALTER
	// TABLE): cast again; a value that no longer casts matches nothing.
	b, err := c.bind(typ)
	if err != nil {
		return nil
	}
	return b
}

func (b *boundValue) test(op Operator, v typed) bool {
	switch op {
	case OpIn:
		for _, x := range b.list {
			if compare(b.class, v, x) == 0 {
				return true
			}
		}
		return false
	}
	d := compare(b.class, v, b.one)
	switch op {
	case OpEq:
		return d == 0
	case OpNeq:
		return d != 0
	case OpLt:
		return d < 0
	case OpLte:
		return d <= 0
	case OpGt:
		return d > 0
	case OpGte:
		return d >= 0
	}
	return false
}
