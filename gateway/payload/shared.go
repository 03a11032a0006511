package payload

import (
	"strconv"

	"github.com/pgrealtime/realtime/gateway/authz"
	"github.com/pgrealtime/realtime/replication"
)

// Shared renders the postgres_changes payloads of one change at a time,
// for every channel it goes to, rendering each distinct payload once: a
// payload with every column the role may see depends only on the role's
// view and the binding ids, so thousands of channels, whatever their
// names, share its bytes. Other column selections are rendered per call.
//
// It is the one exception to this package's statelessness: routing owns
// one and uses it from its goroutine only. The bytes it returns are shared
// and must not be modified.
type Shared struct {
	ch        *replication.Change
	all       []byte // every column, no role: rendered on first need
	allByView map[*authz.View][]byte
	payloads  map[sharedKey][]byte
}

// sharedKey is what makes two payloads of one change differ when both
// carry every column the role may see: the role's view and the binding
// ids (one, or several joined).
type sharedKey struct {
	view *authz.View
	id   uint32
	ids  string
}

// Reset starts on ch; what was rendered for the last change is dropped.
func (s *Shared) Reset(ch *replication.Change) {
	s.ch, s.all = ch, nil
	clear(s.allByView)
	if s.payloads == nil {
		s.payloads = map[sharedKey][]byte{}
	}
	clear(s.payloads)
}

// Whole returns the payload of the change for binding id with every
// column, for no role (SECURE_CHANNELS=false): routing's common case.
func (s *Shared) Whole(id uint32) []byte {
	key := sharedKey{id: id}
	if p, ok := s.payloads[key]; ok {
		return p
	}
	if s.all == nil {
		s.all = AppendChanges(nil, s.ch, nil)
	}
	p := wrapIDs(s.all, []uint32{id})
	s.payloads[key] = p
	return p
}

// For returns the payload of the change for the bindings ids of one
// channel: every column (all) or those selected, as view sees them (nil:
// no role), or the original's payload without the row when view refuses
// it (Refused).
func (s *Shared) For(ids []uint32, all bool, selected map[string]bool, view *authz.View) []byte {
	refused := view != nil && Refused(view, s.ch)
	shared := all || refused
	var key sharedKey
	if shared {
		key.view = view
		if len(ids) == 1 {
			key.id = ids[0]
		} else {
			key.ids = string(appendIDs(nil, ids))
		}
		if p, ok := s.payloads[key]; ok {
			return p
		}
	}
	var data []byte
	switch {
	case refused:
		data = AppendChangesRefused(nil, s.ch, view.Err)
	case all && view == nil:
		if s.all == nil {
			s.all = AppendChanges(nil, s.ch, nil)
		}
		data = s.all
	case all:
		if data = s.allByView[view]; data == nil {
			if s.allByView == nil {
				s.allByView = map[*authz.View][]byte{}
			}
			data = AppendChangesFor(nil, s.ch, nil, view)
			s.allByView[view] = data
		}
	default:
		data = AppendChangesFor(nil, s.ch, selected, view)
	}
	p := wrapIDs(data, ids)
	if shared {
		s.payloads[key] = p
	}
	return p
}

// Refused reports whether ch goes to the role as the original's error
// payload without the row: inserts and updates of a table whose key the
// role may not read, or that has no primary key.
func Refused(v *authz.View, ch *replication.Change) bool {
	return v.Err != "" && (ch.Op == replication.Insert || ch.Op == replication.Update)
}

// wrapIDs wraps a change's data with the ids of the bindings it answers,
// as a postgres_changes push's payload.
func wrapIDs(data []byte, ids []uint32) []byte {
	p := make([]byte, 0, len(data)+32)
	p = append(p, `{"data":`...)
	p = append(p, data...)
	p = append(p, `,"ids":[`...)
	p = appendIDs(p, ids)
	return append(p, "]}"...)
}

func appendIDs(p []byte, ids []uint32) []byte {
	for i, id := range ids {
		if i > 0 {
			p = append(p, ',')
		}
		p = strconv.AppendUint(p, uint64(id), 10)
	}
	return p
}
