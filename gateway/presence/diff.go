package presence

import (
	"github.com/pgrealtime/realtime/gateway/cluster"
	"github.com/pgrealtime/realtime/phoenix"
)

// Diff is what joined and left a room in one change of its State.
type Diff[O comparable] struct {
	joins, leaves map[string][]entry[O]
}

// Empty reports whether nothing joined or left: the members need not hear
// of it.
func (d Diff[O]) Empty() bool { return len(d.joins) == 0 && len(d.leaves) == 0 }

// AppendJSON appends the presence_diff payload.
func (d Diff[O]) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"joins":`...)
	dst = appendMetas(dst, d.joins)
	dst = append(dst, `,"leaves":`...)
	dst = appendMetas(dst, d.leaves)
	return append(dst, '}')
}

// Share is the diff's local part as the cluster carries it: joins with
// their metas, leaves by ref. Other gateways' metas are left out, as
// their own gateway speaks for them.
func (d Diff[O]) Share(room cluster.RoomRef) cluster.PresenceDiff {
	return cluster.PresenceDiff{Room: room, Joins: entries(d.joins, false), Leaves: entries(d.leaves, true)}
}

func entries[O comparable](metas map[string][]entry[O], refOnly bool) []cluster.PresenceEntry {
	var out []cluster.PresenceEntry
	for key, es := range metas {
		for _, e := range es {
			if e.remote() {
				continue
			}
			pe := cluster.PresenceEntry{Key: key, Ref: e.ref}
			if !refOnly {
				pe.Meta = e.meta
			}
			out = append(out, pe)
		}
	}
	return out
}

// appendMetas appends {key: {"metas": [...]}, ...}, Phoenix Presence's
// shape of a state and of either half of a diff.
func appendMetas[O comparable](dst []byte, metas map[string][]entry[O]) []byte {
	dst = append(dst, '{')
	first := true
	for k, es := range metas {
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = phoenix.AppendString(dst, k)
		dst = append(dst, `:{"metas":[`...)
		for i, e := range es {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, e.meta...)
		}
		dst = append(dst, "]}"...)
	}
	return append(dst, '}')
}
