package gateway

import (
	"errors"
	"fmt"

	"github.com/pgrealtime/realtime/filters"
	"github.com/pgrealtime/realtime/gateway/payload"
	"github.com/pgrealtime/realtime/gateway/wsconn"
	"github.com/pgrealtime/realtime/phoenix"
	"github.com/pgrealtime/realtime/replication"
)

// Broadcast from the database: every INSERT into realtime.messages that
// the stream brings (publication supabase_realtime_messages_publication)
// is a broadcast to the room of its topic, public or private as the row
// says. It goes out in commit order with the rest of the transaction, and
// the hub confirms the transaction only after queueing it, so a permanent
// slot redelivers what a restart interrupted. Rows of realtime.messages are
// never postgres_changes.

// frameFor picks c's frame: binary for vsn 2.0.0 when it could be framed
// (fields fit in one byte of length), else text; ok is false when c cannot
// receive the message at all (binary bytes for a vsn 1.0.0 socket).
func frameFor(f *payload.BroadcastFrames, c *conn) (wsconn.Frame, bool) {
	if c.codec == phoenix.V2 && f.Binary != nil {
		return wsconn.Frame{Data: f.Binary, Binary: true}, true
	}
	if t := f.Text[c.codecIndex]; t != nil {
		return wsconn.Frame{Data: t}, true
	}
	return wsconn.Frame{}, false
}

// routeDBBroadcast handles a change of realtime.messages and reports true,
// or reports false for any other table. Called by Route under the read lock.
func (h *Hub) routeDBBroadcast(ch *replication.Change) bool {
	if !payload.IsMessagesRelation(ch.Rel) {
		return false
	}
	if ch.Op != replication.Insert {
		return true
	}
	m, err := payload.ParseBroadcast(ch)
	if err != nil {
		if !errors.Is(err, payload.ErrSkipBroadcast) {
			h.db.drop(h.log, dropMalformed, "reason", err, "lsn", ch.LSN.String())
		}
		return true
	}
	if size := len(m.JSON) + len(m.Binary); h.maxBroadcastBytes > 0 && size > h.maxBroadcastBytes {
		h.db.drop(h.log, dropTooLarge, "reason", fmt.Sprintf("payload of %d bytes is over MAX_BROADCAST_BYTES (%d)", size, h.maxBroadcastBytes), "topic", m.Topic, "id", m.ID)
		return true
	}
	h.db.routed.Add(1)
	r := h.rooms[roomKey{private: m.Private, topic: filters.TopicPrefix + m.Topic}]
	if r == nil {
		return true
	}
	frames := payload.RenderBroadcast(m, false)
	for c, member := range r.members {
		if !member.mayRead(extBroadcast) || member.extras.replayed[m.ID] {
			continue
		}
		if f, ok := frameFor(&frames, c); ok {
			h.queueFrame(c, f)
		}
	}
	return true
}
