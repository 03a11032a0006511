package gateway

import (
	"bytes"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"sort"
	"strconv"
	"strings"

	"github.com/pgrealtime/realtime/filters"
)

// joinConfig is the "config" of a realtime-js 2.x join.
type joinConfig struct {
	Broadcast struct {
		Self flexBool `json:"self"`
		Ack  flexBool `json:"ack"`
		// Replay and ReplicationReady are read by replay.go.
		Replay           *replayConfig `json:"replay"`
		ReplicationReady flexBool      `json:"replication_ready"`
	} `json:"broadcast"`
	Presence struct {
		Key     string   `json:"key"`
		Enabled flexBool `json:"enabled"`
	} `json:"presence"`
	PostgresChanges []json.RawMessage `json:"postgres_changes"`
	Private         flexBool          `json:"private"`
}

// flexBool accepts true/false and the strings "true"/"false" in any case,
// as the original does.
type flexBool bool

func (b *flexBool) UnmarshalJSON(data []byte) error {
	switch strings.ToLower(strings.Trim(string(data), `"`)) {
	case "true":
		*b = true
	case "false", "null", "":
		*b = false
	default:
		return fmt.Errorf("want true or false, got %s", data)
	}
	return nil
}

// binding is one postgres_changes entry of a join, as the client sent it.
type binding struct {
	// raw is the client's own entry: the join reply echoes it with an id,
	// and realtime-js compares event, schema, table and filter by index.
	raw    map[string]json.RawMessage
	id     uint32
	event  string // "*", INSERT, UPDATE or DELETE
	schema string
	table  string // "" or "*" for every table of schema
	filter filters.Filter
	// selected limits record and old_record to these columns (plus the
	// key columns); nil means every column.
	selected map[string]bool
	err      string // why this binding cannot be subscribed, reported as a system message
	// eq is set when the filter is one col=eq.value on an integer or text
	// column: the hub then finds the binding by value, not by trying it.
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

// parseBinding reads one postgres_changes entry. A malformed entry is a
// join error; a filter that does not parse is reported after the join, as
// the original reports it.
func parseBinding(raw json.RawMessage) (*binding, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil || fields == nil {
		return nil, fmt.Errorf("each postgres_changes entry must be an object like {\"event\":\"*\",\"schema\":\"public\",\"table\":\"todos\"}")
	}
	b := &binding{raw: fields, event: "*", schema: "public"}
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
	for key, dst := range map[string]*string{"event": &b.event, "schema": &b.schema, "table": &b.table, "filter": &filter} {
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
		b.selected = make(map[string]bool, len(cols))
		for _, c := range cols {
			b.selected[c] = true
		}
	}
	b.event = strings.ToUpper(b.event)
	switch b.event {
	case "*", "INSERT", "UPDATE", "DELETE":
	default:
		return nil, fmt.Errorf("postgres_changes event %q: use *, INSERT, UPDATE or DELETE", b.event)
	}
	if b.schema == "" {
		b.schema = "public"
	}
	if filter != "" {
		f, err := filters.ParseFilter(filter)
		if err != nil {
			b.err = fmt.Sprintf("Error parsing `filter` params: %v", err)
		} else if b.table == "" || b.table == filters.Wildcard || b.schema == filters.Wildcard {
			b.err = "a filter needs one table: set schema and table"
		}
		b.filter = f
	}
	if b.selected != nil && b.err == "" && (b.table == "" || b.table == filters.Wildcard || b.schema == filters.Wildcard) {
		b.err = "select needs one table: it is not allowed with a * schema or table"
	}
	b.id = bindingID(raw)
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

// replyEntry is the binding echoed back with its id.
func (b *binding) replyEntry() json.RawMessage {
	out := make(map[string]json.RawMessage, len(b.raw)+1)
	for k, v := range b.raw {
		out[k] = v
	}
	out["id"] = json.RawMessage(fmt.Sprint(b.id))
	enc, _ := json.Marshal(out)
	return enc
}

func (b *binding) wants(op string) bool { return b.event == "*" || b.event == op }
