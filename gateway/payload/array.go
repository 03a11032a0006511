package payload

import (
	"strings"
)

// appendArray renders a PostgreSQL array literal ({1,2,3}, {"a b",NULL},
// {{1,2},{3,4}}) as a JSON array whose elements are typed by elem. It
// reports false for text it cannot read (bounds like [0:1]={...}), which the
// caller then sends as a string.
func appendArray(dst []byte, elem, text string) ([]byte, bool) {
	p := arrayParser{s: text, elem: elem, out: dst}
	if !p.array() || p.i != len(p.s) {
		return dst, false
	}
	return p.out, true
}

type arrayParser struct {
	s    string
	i    int
	elem string
	out  []byte
}

func (p *arrayParser) array() bool {
	if p.i >= len(p.s) || p.s[p.i] != '{' {
		return false
	}
	p.i++
	p.out = append(p.out, '[')
	if p.i < len(p.s) && p.s[p.i] == '}' {
		p.i++
		p.out = append(p.out, ']')
		return true
	}
	for n := 0; ; n++ {
		if n > 0 {
			p.out = append(p.out, ',')
		}
		if !p.element() {
			return false
		}
		if p.i >= len(p.s) {
			return false
		}
		switch p.s[p.i] {
		case ',':
			p.i++
		case '}':
			p.i++
			p.out = append(p.out, ']')
			return true
		default:
			return false
		}
	}
}

func (p *arrayParser) element() bool {
	if p.i >= len(p.s) {
		return false
	}
	switch p.s[p.i] {
	case '{':
		return p.array()
	case '"':
		var b strings.Builder
		for p.i++; p.i < len(p.s); p.i++ {
			c := p.s[p.i]
			if c == '\\' && p.i+1 < len(p.s) {
				p.i++
				c = p.s[p.i]
			} else if c == '"' {
				p.i++
				p.out = appendTyped(p.out, p.elem, b.String())
				return true
			}
			b.WriteByte(c)
		}
		return false
	}
	start := p.i
	for p.i < len(p.s) && p.s[p.i] != ',' && p.s[p.i] != '}' {
		p.i++
	}
	v := strings.TrimSpace(p.s[start:p.i])
	if v == "" {
		return false
	}
	if v == "NULL" {
		p.out = append(p.out, "null"...)
		return true
	}
	p.out = appendTyped(p.out, p.elem, v)
	return true
}
