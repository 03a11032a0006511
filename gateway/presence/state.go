package presence

import (
	"encoding/json"
	"errors"

	"github.com/pgrealtime/realtime/gateway/cluster"
)

// State is the presence of one room. The zero value is an empty room.
type State[O comparable] struct {
	byKey map[string][]entry[O] // presence key → metas, in track order
}

// entry is one tracked presence: of a local owner, or (node set, owner
// zero) of the gateway named node.
type entry[O comparable] struct {
	owner O
	node  string
	ref   string
	meta  json.RawMessage // the tracked payload with phx_ref added
}

func (e entry[O]) remote() bool { return e.node != "" }

// Meta is a payload a client tracks: a JSON object.
type Meta map[string]json.RawMessage

// ErrNotMap refuses a track whose payload is not a JSON object.
//
//lint:ignore ST1005 the text is the original's reply, which clients show
var ErrNotMap = errors.New("Presence track payload must be a map")

// ParseMeta reads the payload of a track.
func ParseMeta(payload json.RawMessage) (Meta, error) {
	var m Meta
	if err := json.Unmarshal(payload, &m); err != nil || m == nil {
		return nil, ErrNotMap
	}
	return m, nil
}

// Track adds or updates owner's presence under key. An identical meta is
// a no-op (an empty diff); a changed one is a leave of the old meta and a
// join of the new, which carries the old ref as phx_ref_prev.
func (s *State[O]) Track(owner O, key string, meta Meta) Diff[O] {
	var prev *entry[O]
	for _, e := range s.byKey[key] {
		if !e.remote() && e.owner == owner {
			prev = &e
			break
		}
	}
	ref := newRef()
	withRef := make(map[string]json.RawMessage, len(meta)+2)
	for f, v := range meta {
		withRef[f] = v
	}
	if prev != nil {
		var old map[string]json.RawMessage
		json.Unmarshal(prev.meta, &old)
		delete(old, "phx_ref")
		delete(old, "phx_ref_prev")
		a, _ := json.Marshal(old)
		b, _ := json.Marshal(meta)
		if string(a) == string(b) {
			return Diff[O]{}
		}
		withRef["phx_ref_prev"], _ = json.Marshal(prev.ref)
	}
	withRef["phx_ref"], _ = json.Marshal(ref)
	raw, _ := json.Marshal(withRef)
	var d Diff[O]
	if prev != nil {
		d.leaves = s.remove(func(k string, e entry[O]) bool { return k == key && !e.remote() && e.owner == owner })
	}
	e := entry[O]{owner: owner, ref: ref, meta: raw}
	if s.byKey == nil {
		s.byKey = map[string][]entry[O]{}
	}
	s.byKey[key] = append(s.byKey[key], e)
	d.joins = map[string][]entry[O]{key: {e}}
	return d
}

// Untrack removes every meta of owner, under any key.
func (s *State[O]) Untrack(owner O) Diff[O] {
	return Diff[O]{leaves: s.remove(func(_ string, e entry[O]) bool { return !e.remote() && e.owner == owner })}
}

// Apply takes another gateway's presence change in the room. A full one
// replaces all that gateway's metas; a diff without a node is ignored.
func (s *State[O]) Apply(p cluster.PresenceDiff) Diff[O] {
	if p.Node == "" {
		return Diff[O]{}
	}
	gone := map[string]bool{}
	for _, l := range p.Leaves {
		gone[l.Ref] = true
	}
	if p.Full {
		kept := map[string]bool{}
		for _, j := range p.Joins {
			kept[j.Ref] = true
		}
		for _, es := range s.byKey {
			for _, e := range es {
				if e.node == p.Node && !kept[e.ref] {
					gone[e.ref] = true
				}
			}
		}
	}
	d := Diff[O]{leaves: s.remove(func(_ string, e entry[O]) bool { return e.node == p.Node && gone[e.ref] })}
	for _, j := range p.Joins {
		if s.hasRemote(p.Node, j.Ref) || !json.Valid(j.Meta) {
			continue
		}
		if d.joins == nil {
			d.joins = map[string][]entry[O]{}
		}
		if s.byKey == nil {
			s.byKey = map[string][]entry[O]{}
		}
		e := entry[O]{node: p.Node, ref: j.Ref, meta: j.Meta}
		s.byKey[j.Key] = append(s.byKey[j.Key], e)
		d.joins[j.Key] = append(d.joins[j.Key], e)
	}
	return d
}

// Forget removes the metas of a gateway that left the cluster or stopped
// answering.
func (s *State[O]) Forget(node string) Diff[O] {
	return Diff[O]{leaves: s.remove(func(_ string, e entry[O]) bool { return e.node == node })}
}

// Local is all this gateway's presence in the room as a full diff for the
// cluster, for a gateway that has just started watching the room; false
// when there is none.
func (s *State[O]) Local(room cluster.RoomRef) (cluster.PresenceDiff, bool) {
	joins := entries(s.byKey, false)
	return cluster.PresenceDiff{Room: room, Full: true, Joins: joins}, len(joins) > 0
}

// AppendJSON appends the presence_state payload: every meta by key.
func (s *State[O]) AppendJSON(dst []byte) []byte {
	return appendMetas(dst, s.byKey)
}

func (s *State[O]) hasRemote(node, ref string) bool {
	for _, es := range s.byKey {
		for _, e := range es {
			if e.node == node && e.ref == ref {
				return true
			}
		}
	}
	return false
}

// remove removes the metas drop selects and returns them grouped by key.
func (s *State[O]) remove(drop func(key string, e entry[O]) bool) map[string][]entry[O] {
	var left map[string][]entry[O]
	for k, es := range s.byKey {
		kept := es[:0]
		for _, e := range es {
			if drop(k, e) {
				if left == nil {
					left = map[string][]entry[O]{}
				}
				left[k] = append(left[k], e)
			} else {
				kept = append(kept, e)
			}
		}
		if len(kept) == 0 {
			delete(s.byKey, k)
		} else {
			s.byKey[k] = kept
		}
	}
	return left
}
