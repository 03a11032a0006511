package presence

import (
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"testing"

	"github.com/pgrealtime/realtime/gateway/cluster"
)

// metasOf decodes a presence_state (or one half of a diff) into the
// metas under each key.
func metasOf(t *testing.T, raw []byte) map[string][]map[string]any {
	t.Helper()
	var state map[string]struct{ Metas []map[string]any }
	if err := json.Unmarshal(raw, &state); err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
	out := map[string][]map[string]any{}
	for k, v := range state {
		out[k] = v.Metas
	}
	return out
}

// diffOf decodes a presence_diff.
func diffOf[O comparable](t *testing.T, d Diff[O]) (joins, leaves map[string][]map[string]any) {
	t.Helper()
	var p struct{ Joins, Leaves json.RawMessage }
	if err := json.Unmarshal(d.AppendJSON(nil), &p); err != nil {
		t.Fatal(err)
	}
	return metasOf(t, p.Joins), metasOf(t, p.Leaves)
}

func track(t *testing.T, s *State[string], owner, key, meta string) Diff[string] {
	t.Helper()
	m, err := ParseMeta(json.RawMessage(meta))
	if err != nil {
		t.Fatal(err)
	}
	return s.Track(owner, key, m)
}

func TestTrack(t *testing.T) {
	var s State[string]
	if got := string(s.AppendJSON(nil)); got != "{}" {
		t.Fatalf("empty state = %s", got)
	}
	joins, leaves := diffOf(t, track(t, &s, "a", "alice", `{"mood":"happy"}`))
	first := joins["alice"][0]
	if len(leaves) != 0 || first["mood"] != "happy" || first["phx_ref"] == nil || first["phx_ref_prev"] != nil {
		t.Fatalf("first track: joins %v leaves %v", joins, leaves)
	}
	if d := track(t, &s, "a", "alice", `{"mood":"happy"}`); !d.Empty() {
		t.Fatalf("the same meta again: %s", d.AppendJSON(nil))
	}
	joins, leaves = diffOf(t, track(t, &s, "a", "alice", `{"mood":"sad"}`))
	if j := joins["alice"][0]; j["mood"] != "sad" || j["phx_ref_prev"] != first["phx_ref"] || j["phx_ref"] == first["phx_ref"] {
		t.Fatalf("changed meta joins %v", joins)
	}
	if l := leaves["alice"]; len(l) != 1 || l[0]["phx_ref"] != first["phx_ref"] {
		t.Fatalf("changed meta leaves %v", leaves)
	}
	track(t, &s, "b", "alice", `{"tab":2}`)
	track(t, &s, "b", "bob", `{}`)
	state := metasOf(t, s.AppendJSON(nil))
	if len(state["alice"]) != 2 || state["alice"][0]["mood"] != "sad" || state["alice"][1]["tab"] != float64(2) || len(state["bob"]) != 1 {
		t.Fatalf("state %v", state)
	}
	_, leaves = diffOf(t, s.Untrack("b"))
	if len(leaves["alice"]) != 1 || len(leaves["bob"]) != 1 {
		t.Fatalf("untrack b leaves %v", leaves)
	}
	if state := metasOf(t, s.AppendJSON(nil)); !slices.Equal(slices.Collect(maps.Keys(state)), []string{"alice"}) || len(state["alice"]) != 1 {
		t.Fatalf("after untrack b: %v", state)
	}
	if d := s.Untrack("nobody"); !d.Empty() {
		t.Fatalf("untrack of nobody: %s", d.AppendJSON(nil))
	}
}

func TestParse(t *testing.T) {
	for _, bad := range []string{`"nope"`, `null`, `[1]`, `{`} {
		if _, err := ParseMeta(json.RawMessage(bad)); !errors.Is(err, ErrNotMap) {
			t.Errorf("ParseMeta(%s) = %v, want ErrNotMap", bad, err)
		}
	}
	p, err := ParsePush(json.RawMessage(`{"type":"presence","event":"track","payload":{"a":1}}`))
	if err != nil || p.Event != "track" || string(p.Payload) != `{"a":1}` {
		t.Fatalf("ParsePush = %+v, %v", p, err)
	}
	if _, err := ParsePush(json.RawMessage(`[]`)); !errors.Is(err, ErrBadPush) {
		t.Fatalf("ParsePush([]) = %v", err)
	}
	if k := NewKey(); len(k) != 36 || k[14] != '4' || NewKey() == k {
		t.Fatalf("NewKey = %q", k)
	}
}

// Only local metas are shared with the cluster: other gateways speak for
// their own. Leaves go by ref.
func TestShareAndLocal(t *testing.T) {
	var s State[string]
	room := cluster.RoomRef{Topic: "realtime:lobby"}
	if _, ok := s.Local(room); ok {
		t.Fatal("an empty room has local presence")
	}
	d := track(t, &s, "a", "alice", `{"x":1}`).Share(room)
	if d.Room != room || len(d.Joins) != 1 || d.Joins[0].Key != "alice" || d.Joins[0].Ref == "" || len(d.Leaves) != 0 {
		t.Fatalf("Share of a track: %+v", d)
	}
	ref := d.Joins[0].Ref
	s.Apply(cluster.PresenceDiff{Room: room, Node: "n2", Joins: []cluster.PresenceEntry{{Key: "bob", Ref: "r2", Meta: json.RawMessage(`{"phx_ref":"r2"}`)}}})
	full, ok := s.Local(room)
	if !ok || !full.Full || len(full.Joins) != 1 || full.Joins[0].Ref != ref || string(full.Joins[0].Meta) == "" {
		t.Fatalf("Local = %+v, %v", full, ok)
	}
	d = s.Untrack("a").Share(room)
	if len(d.Joins) != 0 || len(d.Leaves) != 1 || d.Leaves[0].Ref != ref || d.Leaves[0].Meta != nil {
		t.Fatalf("Share of an untrack: %+v", d)
	}
}

func TestApplyAndForget(t *testing.T) {
	var s State[string]
	room := cluster.RoomRef{Topic: "realtime:lobby"}
	entry := func(key, ref string) cluster.PresenceEntry {
		return cluster.PresenceEntry{Key: key, Ref: ref, Meta: json.RawMessage(`{"phx_ref":"` + ref + `"}`)}
	}
	track(t, &s, "a", "alice", `{}`)
	if d := s.Apply(cluster.PresenceDiff{Room: room, Joins: []cluster.PresenceEntry{entry("x", "r0")}}); !d.Empty() {
		t.Fatal("a diff without a node was applied")
	}
	joins, _ := diffOf(t, s.Apply(cluster.PresenceDiff{Room: room, Node: "n2", Joins: []cluster.PresenceEntry{
		entry("bob", "r1"), entry("bob", "r2"), {Key: "bad", Ref: "r3", Meta: json.RawMessage(`{`)}}}))
	if len(joins["bob"]) != 2 || joins["bad"] != nil {
		t.Fatalf("remote joins %v", joins)
	}
	if d := s.Apply(cluster.PresenceDiff{Room: room, Node: "n2", Joins: []cluster.PresenceEntry{entry("bob", "r1")}}); !d.Empty() {
		t.Fatalf("a join heard twice: %s", d.AppendJSON(nil))
	}
	s.Apply(cluster.PresenceDiff{Room: room, Node: "n3", Joins: []cluster.PresenceEntry{entry("carol", "r9")}})
	// A full diff from n2 drops what it no longer lists and adds the new.
	joins, leaves := diffOf(t, s.Apply(cluster.PresenceDiff{Room: room, Node: "n2", Full: true, Joins: []cluster.PresenceEntry{entry("bob", "r2"), entry("dan", "r4")}}))
	if len(joins) != 1 || len(joins["dan"]) != 1 || len(leaves) != 1 || leaves["bob"][0]["phx_ref"] != "r1" {
		t.Fatalf("full diff: joins %v leaves %v", joins, leaves)
	}
	_, leaves = diffOf(t, s.Apply(cluster.PresenceDiff{Room: room, Node: "n2", Leaves: []cluster.PresenceEntry{{Key: "dan", Ref: "r4"}}}))
	if len(leaves["dan"]) != 1 {
		t.Fatalf("remote leave: %v", leaves)
	}
	// Other gateways' metas have the zero owner, yet no local untrack
	// removes them.
	if d := s.Untrack(""); !d.Empty() {
		t.Fatalf("untrack of the zero owner removed %s", d.AppendJSON(nil))
	}
	_, leaves = diffOf(t, s.Forget("n2"))
	if len(leaves) != 1 || len(leaves["bob"]) != 1 {
		t.Fatalf("forget n2: %v", leaves)
	}
	state := metasOf(t, s.AppendJSON(nil))
	if len(state) != 2 || len(state["alice"]) != 1 || len(state["carol"]) != 1 {
		t.Fatalf("after forget: %v", state)
	}
}
