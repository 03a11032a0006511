package gateway

import (
	"encoding/json"
	"fmt"

	"github.com/pgrealtime/realtime/gateway/broadcast"
	"github.com/pgrealtime/realtime/gateway/presence"
	"github.com/pgrealtime/realtime/gateway/private"
	"github.com/pgrealtime/realtime/phoenix"
)

// roomKey names a broadcast and presence room. Public and private channels
// with the same topic are different rooms, as in the original.
type roomKey struct {
	private bool
	topic   string
}

func (k roomKey) ref() RoomRef { return RoomRef{Private: k.private, Topic: k.topic} }

// room holds the sockets joined to one topic with a config join, and the
// presence of the room: this gateway's and, in a cluster, the others'.
// Guarded by the hub's mutex.
type room struct {
	members  map[*conn]*channel
	presence presence.State[*conn]
	// holds counts the channels that hold the room: from before their join
	// asks the cluster for the room until they leave. Presence from other
	// gateways that arrives in between has a room to land in.
	holds int
}

// holdRoom makes room k exist until a matching releaseRoom.
func (h *Hub) holdRoom(k roomKey) {
	h.mu.Lock()
	defer h.mu.Unlock()
	r := h.rooms[k]
	if r == nil {
		r = &room{members: map[*conn]*channel{}}
		h.rooms[k] = r
	}
	r.holds++
}

// releaseRoom undoes a holdRoom whose channel never joined.
func (h *Hub) releaseRoom(k roomKey) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.releaseRoomLocked(k)
}

func (h *Hub) releaseRoomLocked(k roomKey) {
	if r := h.rooms[k]; r != nil {
		if r.holds--; r.holds <= 0 {
			delete(h.rooms, k)
		}
	}
}

// joinRoom adds a member to a room its channel holds.
func (h *Hub) joinRoom(k roomKey, c *conn, ch *channel) {
	h.rooms[k].members[c] = ch
}

// leaveRoom removes c and its presence. Called with the write lock held.
func (h *Hub) leaveRoom(k roomKey, c *conn) {
	if r := h.rooms[k]; r != nil {
		delete(r.members, c)
		h.presenceChanged(k, r, r.presence.Untrack(c), true)
		h.releaseRoomLocked(k)
	}
}

// presenceChanged tells the room's members that read presence what
// joined and left and, for a change of local presence (share), the other
// gateways. Called with the hub's lock held, so every member and the
// cluster hear a room's changes in the order they happened.
func (h *Hub) presenceChanged(k roomKey, r *room, d presence.Diff[*conn], share bool) {
	if d.Empty() {
		return
	}
	m := phoenix.Message{Topic: k.topic, Event: "presence_diff", Payload: d.AppendJSON(nil)}
	var frames [2][]byte
	for c, ch := range r.members {
		if !ch.mayRead(private.Presence) {
			continue
		}
		if frames[c.codecIndex] == nil {
			frames[c.codecIndex] = c.codec.Append(nil, m)
		}
		c.enqueue(frames[c.codecIndex], false)
	}
	if share && h.relay != nil {
		h.relay.PublishPresence(d.Share(k.ref()))
	}
}

// presenceState is the payload of presence_state for a new member.
func (h *Hub) presenceState(k roomKey) json.RawMessage {
	if r := h.rooms[k]; r != nil {
		return r.presence.AppendJSON(nil)
	}
	return json.RawMessage("{}")
}

// track adds or updates c's presence under key.
func (h *Hub) track(k roomKey, c *conn, key string, payload json.RawMessage) error {
	meta, err := presence.ParseMeta(payload)
	if err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	r := h.rooms[k]
	if r == nil {
		return fmt.Errorf("not joined")
	}
	h.presenceChanged(k, r, r.presence.Track(c, key, meta), true)
	return nil
}

func (h *Hub) untrack(k roomKey, c *conn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if r := h.rooms[k]; r != nil {
		h.presenceChanged(k, r, r.presence.Untrack(c), true)
	}
}

// deliverRoom sends a broadcast to the room's members: every one but the
// sender (from, nil for the HTTP API and other gateways), and the sender
// too when its channel asked for self.
func (h *Hub) deliverRoom(m RoomMessage, from *conn) {
	frames, err := broadcast.Render(m)
	if err != nil {
		return // checked by the sender
	}
	h.mu.RLock()
	defer h.mu.RUnlock()
	r := h.rooms[roomKey{private: m.Room.Private, topic: m.Room.Topic}]
	if r == nil {
		return
	}
	for c, ch := range r.members {
		if c == from && !ch.self || !ch.mayRead(private.Broadcast) || ch.extras.replayed[m.ID] {
			continue
		}
		if frame, binary := frames.For(c.codec); frame != nil {
			c.enqueue(frame, binary)
		}
	}
}
