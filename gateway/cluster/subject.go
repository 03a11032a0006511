package cluster

import (
	"fmt"
	"strings"

	"github.com/pgrealtime/realtime/filters"
)

// subjects names the NATS subjects of one cluster. Names from PostgreSQL
// and from clients are escaped into single subject tokens.
type subjects struct{ prefix string }

func (s subjects) nodes() string { return s.prefix + ".nodes" }

// changes is the subject of a change of schema.table.
func (s subjects) changes(schema, table string) string {
	return s.prefix + ".changes." + token(schema) + "." + token(table)
}

// changesOf is the subject (with NATS wildcards) of the changes a table
// reference may match.
func (s subjects) changesOf(t TableRef) string {
	switch {
	case t.Schema == filters.Wildcard && t.Table == filters.Wildcard:
		return s.prefix + ".changes.>"
	case t.Schema == filters.Wildcard:
		return s.prefix + ".changes.*." + token(t.Table)
	case t.Table == filters.Wildcard:
		return s.prefix + ".changes." + token(t.Schema) + ".*"
	}
	return s.changes(t.Schema, t.Table)
}

func (s subjects) room(topic string) string     { return s.prefix + ".room." + token(topic) }
func (s subjects) presence(topic string) string { return s.prefix + ".presence." + token(topic) }

func (s subjects) isChanges(subj string) bool  { return strings.HasPrefix(subj, s.prefix+".changes.") }
func (s subjects) isRoom(subj string) bool     { return strings.HasPrefix(subj, s.prefix+".room.") }
func (s subjects) isPresence(subj string) bool { return strings.HasPrefix(subj, s.prefix+".presence.") }

// token escapes name into one subject token: NATS gives '.', '*' and '>'
// meaning and forbids whitespace, so those (and '%', the escape) become
// %XX. An empty name becomes "%00", which no real name escapes to.
func token(name string) string {
	if name == "" {
		return "%00"
	}
	clean := true
	for i := 0; i < len(name); i++ {
		if needsEscape(name[i]) {
			clean = false
			break
		}
	}
	if clean {
		return name
	}
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		if c := name[i]; needsEscape(c) {
			fmt.Fprintf(&b, "%%%02X", c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

func needsEscape(c byte) bool {
	return c <= ' ' || c == '.' || c == '*' || c == '>' || c == '%' || c == 0x7f
}

// validPrefix reports whether p can start every subject of a cluster.
func validPrefix(p string) bool {
	if p == "" {
		return false
	}
	for _, tok := range strings.Split(p, ".") {
		if tok == "" {
			return false
		}
		for i := 0; i < len(tok); i++ {
			if c := tok[i]; c <= ' ' || c == '*' || c == '>' || c == 0x7f {
				return false
			}
		}
	}
	return true
}
