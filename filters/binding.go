package filters

import (
	"bytes"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"sort"
	"strconv"
	"strings"
)

// Binding is one postgres_changes entry of a realtime-js 2.x join config:
// which changes of which tables a channel wants, filtered how. ParseBinding
// makes one per entry and per join; a ChangesIndex holds it by pointer.
type Binding struct {
	// ID is a stable id for the entry's parameters: the join reply echoes
	// it, and every change names the ids of the bindings it matched.
	ID uint32
	// Event is "*", INSERT, UPDATE or DELETE.
	Event  string
	Schema string
	// Table is "" or Wildcard for every table of Schema.
	Table  string
	Filter Filter
	// Selected limits record and old_record to these columns (plus the
	// key columns); nil means every column.
	Selected map[string]bool
	// Err says why this binding cannot be subscribed; the gateway reports
	// it in a system message after the join, as the original does.
	Err string

	// raw is the client's own entry: the join reply echoes it with an id,
	// and realtime-js compares event, schema, table and filter by index.
	raw map[string]json.RawMessage
	// eq is set when the filter is one col=eq.value on an integer or text
	// column: a ChangesIndex then finds the binding by value, not by
	// trying it.
	eq *eqKey
}

// eqKey is a binding's one equality filter, with its value in the
// canonical text PostgreSQL prints for that type.
type eqKey struct {
	column, typ, value string
}

// canonicalEq returns the text a value of typ has in pgoutput when it
// equals text, or false when typ is not one whose equality is textual.
func canonicalEq(typ, text string) (string, bool) {
	switch typ {
	case "int2", "int4", "int8":
		i, err := strconv.ParseInt(strings.TrimSpace(text), 10, 64)
		if err != nil {
			return "", false
		}
		return strconv.FormatInt(i, 10), true
	case "text", "varchar":
		return text, true
	}
	return "", false
}

// ParseBinding reads one postgres_changes entry. A malformed entry is an
// error, which refuses the join; a filter that does not parse is left in
// Err, reported after the join as the original reports it.
func ParseBinding(raw json.RawMessage) (*Binding, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil || fields == nil {
		return nil, fmt.Errorf("each postgres_changes entry must be an object like {\"event\":\"*\",\"schema\":\"public\",\"table\":\"todos\"}")
	}
	b := &Binding{raw: fields, Event: "*", Schema: "public"}
	str := func(key string, dst *string) error {
		v, ok := fields[key]
		if !ok || string(v) == "null" {
			return nil
		}
		if err := json.Unmarshal(v, dst); err != nil {
			return fmt.Errorf("postgres_changes %q must be a string, got %s", key, v)
		}
		return nil
	}
	var filter string
	for key, dst := range map[string]*string{"event": &b.Event, "schema": &b.Schema, "table": &b.Table, "filter": &filter} {
		if err := str(key, dst); err != nil {
			return nil, err
		}
	}
	for key := range fields {
		switch key {
		case "event", "schema", "table", "filter", "select", "id":
		default:
			return nil, fmt.Errorf("unknown postgres_changes key %q (use event, schema, table, filter)", key)
		}
	}
	if raw, ok := fields["select"]; ok && string(raw) != "null" {
		var cols []string
		if err := json.Unmarshal(raw, &cols); err != nil || len(cols) == 0 {
			return nil, fmt.Errorf(`postgres_changes "select" must be a non-empty array of column names, got %s`, raw)
		}
		b.Selected = make(map[string]bool, len(cols))
		for _, c := range cols {
			b.Selected[c] = true
		}
	}
	b.Event = strings.ToUpper(b.Event)
	switch b.Event {
	case "*", "INSERT", "UPDATE", "DELETE":
	default:
		return nil, fmt.Errorf("postgres_changes event %q: use *, INSERT, UPDATE or DELETE", b.Event)
	}
	if b.Schema == "" {
		b.Schema = "public"
	}
	if filter != "" {
		f, err := ParseFilter(filter)
		if err != nil {
			b.Err = fmt.Sprintf("Error parsing `filter` params: %v", err)
		} else if b.Table == "" || b.Table == Wildcard || b.Schema == Wildcard {
			b.Err = "a filter needs one table: set schema and table"
		}
		b.Filter = f
	}
	if b.Selected != nil && b.Err == "" && (b.Table == "" || b.Table == Wildcard || b.Schema == Wildcard) {
		b.Err = "select needs one table: it is not allowed with a * schema or table"
	}
	b.ID = bindingID(raw)
	return b, nil
}

// bindingID is a stable id for a binding's parameters: identical entries get
// identical ids, as with the original's phash2 (also below 2^27).
func bindingID(raw json.RawMessage) uint32 {
	var v any
	if json.Unmarshal(raw, &v) == nil {
		if m, ok := v.(map[string]any); ok {
			delete(m, "id")
			keys := make([]string, 0, len(m))
			for k := range m {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			h := fnv.New32a()
			for _, k := range keys {
				b, _ := json.Marshal(m[k])
				h.Write([]byte(k))
				h.Write(b)
			}
			return h.Sum32() & (1<<27 - 1)
		}
	}
	h := fnv.New32a()
	h.Write(bytes.TrimSpace(raw))
	return h.Sum32() & (1<<27 - 1)
}

// ReplyEntry is the binding as the client sent it, with its id: what the
// join reply lists under postgres_changes.
func (b *Binding) ReplyEntry() json.RawMessage {
	out := make(map[string]json.RawMessage, len(b.raw)+1)
	for k, v := range b.raw {
		out[k] = v
	}
	out["id"] = json.RawMessage(fmt.Sprint(b.ID))
	enc, _ := json.Marshal(out)
	return enc
}

// IndexByValue lets a ChangesIndex find b by its value instead of trying it
// on every change of its table, when its filter is one col=eq.value on a
// column whose equality is textual (integers and text). types maps the
// table's columns to their type names, as the catalog has them at join.
func (b *Binding) IndexByValue(types map[string]string) {
	if len(b.Filter) == 1 && b.Filter[0].Op == OpEq && !b.Filter[0].Not {
		c := b.Filter[0]
		if v, ok := canonicalEq(types[c.Column], c.Value); ok {
			b.eq = &eqKey{column: c.Column, typ: types[c.Column], value: v}
		}
	}
}

func (b *Binding) wants(op string) bool { return b.Event == "*" || b.Event == op }
