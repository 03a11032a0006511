package gateway

import (
	"github.com/pgrealtime/realtime/filters"
	"github.com/pgrealtime/realtime/gateway/authz"
	"github.com/pgrealtime/realtime/gateway/wsconn"
	"github.com/pgrealtime/realtime/phoenix"
	"github.com/pgrealtime/realtime/replication"
)

// postgres_changes subscriptions are the bindings of a join config
// (realtime-js 2.x): filters.ChangesIndex finds those a change matches, and
// each channel gets one frame per change with the ids of all its matching
// bindings and typed values (payload.AppendChanges).

// changesSub is one postgres_changes binding of one joined channel: what the
// hub's filters.ChangesIndex hands back for a binding a change matches.
type changesSub struct {
	c  *conn
	ch *channel
	b  *filters.Binding
	// pre and post wrap a payload into this channel's push in its socket's
	// serializer (phoenix.Codec.Envelope).
	pre, post []byte
}

func newChangesSub(c *conn, ch *channel, topic string, b *filters.Binding) *changesSub {
	s := &changesSub{c: c, ch: ch, b: b}
	s.pre, s.post = c.codec.Envelope(topic, phoenix.EventPostgresChanges)
	return s
}

// delivery is one postgres_changes frame for one socket and topic, with the
// ids of every binding of that channel the change matched.
type delivery struct {
	c         *conn
	pre, post []byte
	ids       []uint32
	// selected is the union of the matched bindings' select lists, or nil
	// when one of them wants every column.
	selected map[string]bool
	all      bool
	// view is what the channel's role may see (nil without authorization).
	view *authz.View
}

func (d *delivery) addSelect(b *filters.Binding) {
	if d.all {
		return
	}
	if b.Selected == nil {
		d.all, d.selected = true, nil
		return
	}
	if d.selected == nil {
		d.selected = map[string]bool{}
	}
	for c := range b.Selected {
		d.selected[c] = true
	}
}

// routeChanges delivers a change to postgres_changes bindings. Called with the
// read lock held.
func (h *Hub) routeChanges(ch *replication.Change, ra *authz.Round) {
	if ch.Op == replication.Truncate || h.changes.Empty() {
		return
	}
	h.deliveries = h.deliveries[:0]
	h.changeSeq++ // from 1: a new channel's zero routed matches no change
	h.shared.Reset(ch)
	var lastID uint32
	var lastPayload []byte
	h.changes.Match(ch, func(s *changesSub, b *filters.Binding) {
		if !ra.On() && b.Selected == nil && len(s.ch.subs) == 1 {
			// The common case, queued at once: a channel with one
			// binding, every column, no roles. Its payload depends on the
			// binding id only, and identical bindings come in runs.
			if lastPayload == nil || lastID != b.ID {
				lastID, lastPayload = b.ID, h.shared.Whole(b.ID)
			}
			h.queueFrame(s.c, wsconn.Frame{Pre: s.pre, Data: lastPayload, Post: s.post})
			return
		}
		var view *authz.View
		if ra.On() {
			v, ok, failed := ra.ViewFor(ch, s.ch.subj)
			if failed != "" {
				h.warnHidden(s.c, s.ch, ch.Rel.Schema+"."+ch.Rel.Table)
			}
			if !ok || !authz.Readable(v, b.Filter) {
				return
			}
			view = v
		}
		// A channel's bindings share one delivery: found by the number of
		// the change it was last routed for, not by a scan of the others.
		if s.ch.routed == h.changeSeq {
			d := &h.deliveries[s.ch.delivery]
			d.ids = append(d.ids, b.ID)
			d.addSelect(b)
			return
		}
		s.ch.routed, s.ch.delivery = h.changeSeq, len(h.deliveries)
		h.deliveries = append(h.deliveries, delivery{c: s.c, pre: s.pre, post: s.post, ids: append(h.idsBuf(), b.ID), view: view})
		h.deliveries[len(h.deliveries)-1].addSelect(b)
	})
	for _, d := range h.deliveries {
		p := h.shared.For(d.ids, d.all, d.selected, d.view)
		h.queueFrame(d.c, wsconn.Frame{Pre: d.pre, Data: p, Post: d.post})
	}
}

// idsBuf returns an empty ids slice, from the deliveries' old backing
// arrays when there are any, so routing a change allocates none per socket.
func (h *Hub) idsBuf() []uint32 {
	n := len(h.deliveries)
	if n < cap(h.deliveries) {
		if old := h.deliveries[:n+1][n].ids; cap(old) > 0 {
			return old[:0]
		}
	}
	return make([]uint32, 0, 2)
}
