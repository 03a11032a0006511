package e2e

import (
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// noMod is the type_modifier of a column without one: atttypmod -1 as an
// unsigned 32-bit integer.
const noMod = 4294967295

// change is the payload of a v1 STREAM change message (protocol/v1.md 3.2).
// Record values stay as decoded JSON (string or nil), so a typed value where
// the original sends text shows up in comparisons.
type change struct {
	Type            string           `json:"type"`
	Schema          string           `json:"schema"`
	Table           string           `json:"table"`
	CommitTimestamp string           `json:"commit_timestamp"`
	Columns         []map[string]any `json:"columns"`
	Record          map[string]any   `json:"record"`
	OldRecord       map[string]any   `json:"old_record"`
	Errors          json.RawMessage  `json:"errors"`

	raw map[string]json.RawMessage // the payload's keys and raw values
}

func decodeChange(payload json.RawMessage) (change, error) {
	var ch change
	if err := json.Unmarshal(payload, &ch.raw); err != nil {
		return ch, err
	}
	return ch, json.Unmarshal(payload, &ch)
}

// change decodes the line's payload as a change or fails the test.
func (l line) change(t *testing.T) change {
	t.Helper()
	ch, err := decodeChange(l.Payload)
	if err != nil {
		t.Fatalf("payload of %v: %v", l, err)
	}
	return ch
}

func (ch change) keys() []string {
	var ks []string
	for k := range ch.raw {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

var (
	payloadKeys = map[string][]string{
		"INSERT": {"columns", "commit_timestamp", "errors", "record", "schema", "table", "type"},
		"UPDATE": {"columns", "commit_timestamp", "errors", "old_record", "record", "schema", "table", "type"},
		"DELETE": {"columns", "commit_timestamp", "errors", "old_record", "schema", "table", "type"},
	}
	// ISO 8601 UTC with microseconds, as Elixir's DateTime encodes it.
	commitTimestamp = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$`)
)

// checkChange checks the envelope of a change payload: its key set for the
// type, type, schema, table, commit_timestamp and errors.
func checkChange(t *testing.T, ch change, typ, schema, table string) {
	t.Helper()
	if got, want := ch.keys(), payloadKeys[typ]; !slices.Equal(got, want) {
		t.Errorf("%s payload keys = %v, want %v", typ, got, want)
	}
	if ch.Type != typ || ch.Schema != schema || ch.Table != table {
		t.Errorf("type, schema, table = %q, %q, %q, want %q, %q, %q", ch.Type, ch.Schema, ch.Table, typ, schema, table)
	}
	if string(ch.Errors) != "null" {
		t.Errorf("errors = %s, want null", ch.Errors)
	}
	if !commitTimestamp.MatchString(ch.CommitTimestamp) {
		t.Errorf("commit_timestamp = %q, want ISO 8601 UTC with 6 fractional digits, like 2022-06-01T12:00:00.123456Z", ch.CommitTimestamp)
	} else if ts := commitTime(t, ch); time.Since(ts).Abs() > time.Minute {
		t.Errorf("commit_timestamp = %q, more than a minute from now (%s)", ch.CommitTimestamp, time.Now().UTC().Format(time.RFC3339Nano))
	}
}

func commitTime(t *testing.T, ch change) time.Time {
	t.Helper()
	ts, err := time.Parse(time.RFC3339Nano, ch.CommitTimestamp)
	if err != nil {
		t.Fatalf("commit_timestamp %q: %v", ch.CommitTimestamp, err)
	}
	return ts
}

// col is the expected entry of a column in a change's columns.
func col(name, typ string, mod int64, key bool) map[string]any {
	flags := []any{}
	if key {
		flags = []any{"key"}
	}
	return map[string]any{"flags": flags, "name": name, "type": typ, "type_modifier": float64(mod)}
}

func checkColumns(t *testing.T, got, want []map[string]any) {
	t.Helper()
	if reflect.DeepEqual(got, want) {
		return
	}
	if len(got) != len(want) {
		t.Errorf("columns = %s\nwant %s", jsonText(got), jsonText(want))
		return
	}
	for i := range want {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Errorf("columns[%d] = %s, want %s", i, jsonText(got[i]), jsonText(want[i]))
		}
	}
}

// checkRecord compares a record or old_record key by key. A nil want means
// the key must be present with a null value.
func checkRecord(t *testing.T, what string, got, want map[string]any) {
	t.Helper()
	if got == nil {
		t.Errorf("%s is missing or null, want %s", what, short(jsonText(want)))
		return
	}
	for k, w := range want {
		g, ok := got[k]
		switch {
		case !ok:
			t.Errorf("%s has no %q, want %s", what, k, short(jsonText(w)))
		case !reflect.DeepEqual(g, w):
			t.Errorf("%s[%q] = %s, want %s", what, k, short(jsonText(g)), short(jsonText(w)))
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%s has unexpected %q = %s", what, k, short(jsonText(g)))
		}
	}
}

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%#v", v)
	}
	return string(b)
}

func short(s string) string {
	const max = 200
	if len(s) <= max {
		return s
	}
	return fmt.Sprintf("%s...%s (%d bytes)", s[:max/2], s[len(s)-max/4:], len(s))
}

// serviceColumns are the columns of public.service under REPLICA IDENTITY FULL.
var serviceColumns = []map[string]any{
	col("id", "int8", noMod, true),
	col("name", "varchar", 259, true),
	col("status_id", "int8", noMod, true),
}

// row builds a record from name, value pairs; a nil value is SQL NULL.
func row(kv ...any) map[string]any {
	r := make(map[string]any, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		r[kv[i].(string)] = kv[i+1]
	}
	return r
}

// recordIs is a predicate helper: record[k] == v for every pair.
func recordIs(kv ...string) func(change) bool {
	return func(ch change) bool {
		for i := 0; i+1 < len(kv); i += 2 {
			if v, ok := ch.Record[kv[i]].(string); !ok || v != kv[i+1] {
				return false
			}
		}
		return true
	}
}

// topicsOf lists the topics of lines, for messages.
func topicsOf(ls []line) string {
	var ts []string
	for _, l := range ls {
		ts = append(ts, l.Topic)
	}
	return strings.Join(ts, ", ")
}
