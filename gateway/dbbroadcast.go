package gateway

import (
	"github.com/pgrealtime/realtime/filters"
	"github.com/pgrealtime/realtime/gateway/payload"
	"github.com/pgrealtime/realtime/gateway/private"
	"github.com/pgrealtime/realtime/gateway/wsconn"
	"github.com/pgrealtime/realtime/phoenix"
	"github.com/pgrealtime/realtime/replication"
)

// Broadcast from the database (gateway/dbcast) goes out in commit order
// with the rest of the transaction, and the hub confirms the transaction
// only after queueing it, so a permanent slot redelivers what a restart
// interrupted. Rows of realtime.messages are never postgres_changes.

// frameFor picks c's frame of a broadcast.
func frameFor(f *payload.BroadcastFrames, c *conn) (wsconn.Frame, bool) {
	data, binary, ok := f.For(c.codec == phoenix.V2)
	return wsconn.Frame{Data: data, Binary: binary}, ok
}

// routeDBBroadcast handles a change of realtime.messages and reports true,
// or reports false for any other table. Called by Route under the read lock.
func (h *Hub) routeDBBroadcast(ch *replication.Change) bool {
	if !payload.IsMessagesRelation(ch.Rel) {
		return false
	}
	m, ok := h.db.Accept(h.log, ch, h.maxBroadcastBytes)
	if !ok {
		return true
	}
	r := h.rooms[roomKey{private: m.Private, topic: filters.TopicPrefix + m.Topic}]
	if r == nil {
		return true
	}
	frames := payload.RenderBroadcast(m, false)
	for c, member := range r.members {
		if !member.mayRead(private.Broadcast) || member.extras.replayed[m.ID] {
			continue
		}
		if f, ok := frameFor(&frames, c); ok {
			h.queueFrame(c, f)
		}
	}
	return true
}
