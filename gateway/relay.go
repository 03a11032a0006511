package gateway

import (
	"context"

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

// sendRoom delivers a broadcast made on this gateway (from is the sender's
// socket, or nil for the HTTP API) and shares it with the cluster.
func (h *Hub) sendRoom(m RoomMessage, from *conn) {
	h.deliverRoom(m, from)
	if h.relay != nil {
		h.relay.PublishRoom(m)
	}
}

// DeliverRoom hands a broadcast from another gateway to the local members
// of its room.
func (h *Hub) DeliverRoom(m RoomMessage) { h.deliverRoom(m, nil) }

// SharePresence sends this gateway's whole presence in a room to the
// cluster, for a gateway that has just started watching the room. It runs
// under the hub's lock, so no later diff can overtake it.
func (h *Hub) SharePresence(ref RoomRef) {
	if h.relay == nil {
		return
	}
	h.mu.RLock()
	defer h.mu.RUnlock()
	if r := h.rooms[roomKey{private: ref.Private, topic: ref.Topic}]; r != nil {
		if full, ok := r.presence.Local(ref); ok {
			h.relay.PublishPresence(full)
		}
	}
}

// ApplyPresence takes another gateway's presence change for a room that
// has channels here, and tells the local members what joined and left.
func (h *Hub) ApplyPresence(p cluster.PresenceDiff) {
	h.mu.Lock()
	defer h.mu.Unlock()
	k := roomKey{private: p.Room.Private, topic: p.Room.Topic}
	if r := h.rooms[k]; r != nil {
		h.presenceChanged(k, r, r.presence.Apply(p), false)
	}
}

// ForgetNode drops the presence of a gateway that left the cluster or
// stopped answering, and tells the local members.
func (h *Hub) ForgetNode(node string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for k, r := range h.rooms {
		h.presenceChanged(k, r, r.presence.Forget(node), false)
	}
}

// NotifyGap tells every channel with postgres_changes bindings that changes
// may be missing, and why.
func (h *Hub) NotifyGap(why string) { h.notifyGap(why) }
