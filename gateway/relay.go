package gateway

import (
	"context"
	"encoding/json"

	"github.com/pgrealtime/realtime/gateway/cluster"
)

// Relay shares one gateway's traffic with the other gateways of a cluster:
// it brings in the changes and room messages the local channels need, and
// carries out the broadcasts and presence made here. *cluster.Node
// implements it; a single gateway has none. The values it takes are
// cluster's plain Go values; how they travel is the cluster's business.
type Relay interface {
	// Watch returns once everything published by other gateways from now on
	// for the interest's tables and room reaches this gateway, so that a
	// join acknowledged after it misses nothing.
	Watch(ctx context.Context, in cluster.Interest) error
	// Unwatch ends one Watch. It must not block: the hub calls it under its lock.
	Unwatch(in cluster.Interest)
	// PublishRoom sends a broadcast made on this gateway to the others.
	PublishRoom(m RoomMessage)
	// PublishPresence sends a change of this gateway's presence in a room.
	PublishPresence(p cluster.PresenceDiff)
}

// The hub and a cluster node each drive the other through an interface the
// other satisfies: the node is the hub's Relay, the hub is the node's Hub.
var (
	_ Relay       = (*cluster.Node)(nil)
	_ cluster.Hub = (*Hub)(nil)
)

// The hub's own broadcasts are cluster.RoomMessage values from the start,
// local or not, so that one rendering serves both; these names keep the
// gateway's code speaking of rooms, not of the cluster.
type (
	// RoomMessage is a broadcast in a form every gateway can deliver.
	RoomMessage = cluster.RoomMessage
	// RoomRef names a room: public and private channels of one topic differ.
	RoomRef = cluster.RoomRef
	// BinaryBroadcast is the content of a binary user broadcast.
	BinaryBroadcast = cluster.BinaryBroadcast
)

// interestOf is what ch needs from other gateways.
func interestOf(ch *channel) cluster.Interest {
	var in cluster.Interest
	if ch.topic != nil {
		in.AddTable(ch.topic.Schema, ch.topic.Table)
	}
	for _, s := range ch.subs {
		in.AddTable(s.b.Schema, s.b.Table)
	}
	if ch.room != nil {
		in.SetRoom(ch.room.ref())
	}
	return in
}

// DeliverRoom hands a broadcast from another gateway to the local members
// of its room.
func (h *Hub) DeliverRoom(m RoomMessage) { h.deliverRoom(m, nil) }

// sendRoom delivers a broadcast made on this gateway (from is the sender's
// socket, or nil for the HTTP API) and shares it with the cluster.
func (h *Hub) sendRoom(m RoomMessage, from *conn) {
	h.deliverRoom(m, from)
	if h.relay != nil {
		h.relay.PublishRoom(m)
	}
}

// sharePresence tells the cluster about a change of local presence. It runs
// under the hub's write lock, so the cluster hears a room's changes in the
// order its members did.
func (h *Hub) sharePresence(k roomKey, joins, leaves map[string][]presenceMeta) {
	if h.relay == nil {
		return
	}
	h.relay.PublishPresence(cluster.PresenceDiff{Room: k.ref(), Joins: presenceEntries(joins, false), Leaves: presenceEntries(leaves, true)})
}

func presenceEntries(metas map[string][]presenceMeta, refOnly bool) []cluster.PresenceEntry {
	var out []cluster.PresenceEntry
	for key, ms := range metas {
		for _, m := range ms {
			if m.c == nil {
				continue // another gateway's: that gateway speaks for it
			}
			e := cluster.PresenceEntry{Key: key, Ref: m.ref}
			if !refOnly {
				e.Meta = m.meta
			}
			out = append(out, e)
		}
	}
	return out
}

// SharePresence sends this gateway's whole presence in a room to the
// cluster, for a gateway that has just started watching the room. It runs
// under the hub's lock, so no later diff can overtake it.
func (h *Hub) SharePresence(ref RoomRef) {
	if h.relay == nil {
		return
	}
	h.mu.RLock()
	defer h.mu.RUnlock()
	r := h.rooms[roomKey{private: ref.Private, topic: ref.Topic}]
	if r == nil {
		return
	}
	joins := presenceEntries(r.presence, false)
	if len(joins) == 0 {
		return
	}
	h.relay.PublishPresence(cluster.PresenceDiff{Room: ref, Full: true, Joins: joins})
}

// ApplyPresence takes another gateway's presence change for a room that
// has channels here, and tells the local members what joined and left.
func (h *Hub) ApplyPresence(p cluster.PresenceDiff) {
	if p.Node == "" {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	k := roomKey{private: p.Room.Private, topic: p.Room.Topic}
	r := h.rooms[k]
	if r == nil {
		return
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
		for _, ms := range r.presence {
			for _, m := range ms {
				if m.c == nil && m.node == p.Node && !kept[m.ref] {
					gone[m.ref] = true
				}
			}
		}
	}
	leaves := r.removeRemote(func(m presenceMeta) bool { return m.node == p.Node && gone[m.ref] })
	var joins map[string][]presenceMeta
	for _, j := range p.Joins {
		if r.hasRemote(p.Node, j.Ref) || !json.Valid(j.Meta) {
			continue
		}
		if joins == nil {
			joins = map[string][]presenceMeta{}
		}
		m := presenceMeta{node: p.Node, ref: j.Ref, meta: j.Meta}
		r.presence[j.Key] = append(r.presence[j.Key], m)
		joins[j.Key] = append(joins[j.Key], m)
	}
	if len(joins) > 0 || len(leaves) > 0 {
		h.presenceDiff(k.topic, r, joins, leaves)
	}
}

// ForgetNode drops the presence of a gateway that left the cluster or
// stopped answering, and tells the local members.
func (h *Hub) ForgetNode(node string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for k, r := range h.rooms {
		if leaves := r.removeRemote(func(m presenceMeta) bool { return m.node == node }); len(leaves) > 0 {
			h.presenceDiff(k.topic, r, nil, leaves)
		}
	}
}

func (r *room) hasRemote(node, ref string) bool {
	for _, ms := range r.presence {
		for _, m := range ms {
			if m.c == nil && m.node == node && m.ref == ref {
				return true
			}
		}
	}
	return false
}

// removeRemote removes the other gateways' metas that drop selects and
// returns them grouped by key.
func (r *room) removeRemote(drop func(presenceMeta) bool) map[string][]presenceMeta {
	return r.remove(func(_ string, m presenceMeta) bool { return m.c == nil && drop(m) })
}

// NotifyGap tells every channel with postgres_changes bindings that changes
// may be missing, and why.
func (h *Hub) NotifyGap(why string) { h.notifyGap(why) }
