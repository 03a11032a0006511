package gateway

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"

	"github.com/pgrealtime/realtime/gateway/broadcast"
	"github.com/pgrealtime/realtime/phoenix"
)

// roomKey names a broadcast and presence room. Public and private channels
// with the same topic are different rooms, as in the original.
type roomKey struct {
	private bool
	topic   string
}

// room holds the sockets joined to one topic with a config join, and the
// presence of the room: this gateway's and, in a cluster, the others'.
// Guarded by the hub's mutex.
type room struct {
	members  map[*conn]*channel
	presence map[string][]presenceMeta // presence key → metas, in track order
	// holds counts the channels that hold the room: from before their join
	// asks the cluster for the room until they leave. Presence from other
	// gateways that arrives in between has a room to land in.
	holds int
}

// presenceMeta is one tracked presence: of local socket c, or (c nil) of
// the gateway named node.
type presenceMeta struct {
	c    *conn
	node string
	ref  string
	meta json.RawMessage // the tracked payload with phx_ref added
}

func (k roomKey) ref() RoomRef { return RoomRef{Private: k.private, Topic: k.topic} }

// holdRoom makes room k exist until a matching releaseRoom.
func (h *Hub) holdRoom(k roomKey) {
	h.mu.Lock()
	defer h.mu.Unlock()
	r := h.rooms[k]
	if r == nil {
		r = &room{members: map[*conn]*channel{}, presence: map[string][]presenceMeta{}}
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
	r := h.rooms[k]
	if r == nil {
		return
	}
	if r.holds--; r.holds <= 0 {
		delete(h.rooms, k)
	}
}

// joinRoom adds a member to a room its channel holds.
func (h *Hub) joinRoom(k roomKey, c *conn, ch *channel) {
	h.rooms[k].members[c] = ch
}

// leaveRoom removes c and its presence; other members, here and on the
// other gateways, get a presence_diff with the leaves. Called with the
// write lock held.
func (h *Hub) leaveRoom(k roomKey, c *conn) {
	r := h.rooms[k]
	if r == nil {
		return
	}
	delete(r.members, c)
	leaves := r.untrack(c, "")
	if len(leaves) > 0 {
		h.presenceDiff(k.topic, r, nil, leaves)
		h.sharePresence(k, nil, leaves)
	}
	h.releaseRoomLocked(k)
}

// untrack removes c's metas (under key, or every key when key is "") and
// returns them grouped by key.
func (r *room) untrack(c *conn, key string) map[string][]presenceMeta {
	return r.remove(func(k string, m presenceMeta) bool { return m.c == c && (key == "" || k == key) })
}

// remove removes the metas drop selects and returns them grouped by key.
func (r *room) remove(drop func(key string, m presenceMeta) bool) map[string][]presenceMeta {
	var left map[string][]presenceMeta
	for k, metas := range r.presence {
		kept := metas[:0]
		for _, m := range metas {
			if drop(k, m) {
				if left == nil {
					left = map[string][]presenceMeta{}
				}
				left[k] = append(left[k], m)
			} else {
				kept = append(kept, m)
			}
		}
		if len(kept) == 0 {
			delete(r.presence, k)
		} else {
			r.presence[k] = kept
		}
	}
	return left
}

func appendPresenceMap(dst []byte, state map[string][]presenceMeta) []byte {
	dst = append(dst, '{')
	first := true
	for k, metas := range state {
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = phoenix.AppendString(dst, k)
		dst = append(dst, `:{"metas":[`...)
		for i, m := range metas {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, m.meta...)
		}
		dst = append(dst, "]}"...)
	}
	return append(dst, '}')
}

// presenceDiff tells every member of the room what joined and left.
func (h *Hub) presenceDiff(topic string, r *room, joins, leaves map[string][]presenceMeta) {
	p := append([]byte(`{"joins":`), appendPresenceMap(nil, joins)...)
	p = append(p, `,"leaves":`...)
	p = appendPresenceMap(p, leaves)
	p = append(p, '}')
	m := phoenix.Message{Topic: topic, Event: "presence_diff", Payload: p}
	var frames [2][]byte
	for c, ch := range r.members {
		if !ch.mayRead(extPresence) {
			continue
		}
		if frames[c.codecIndex] == nil {
			frames[c.codecIndex] = c.codec.Append(nil, m)
		}
		c.enqueue(frames[c.codecIndex], false)
	}
}

// presenceState is the payload of presence_state for a new member.
func (h *Hub) presenceState(k roomKey) json.RawMessage {
	r := h.rooms[k]
	if r == nil {
		return json.RawMessage("{}")
	}
	return appendPresenceMap(nil, r.presence)
}

// track adds or updates c's presence under key. An identical payload is a
// no-op; a changed one is a leave of the old meta and a join of the new.
func (h *Hub) track(k roomKey, c *conn, key string, payload json.RawMessage) error {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(payload, &fields); err != nil || fields == nil {
		return &replyError{"Presence track payload must be a map"}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	r := h.rooms[k]
	if r == nil {
		return fmt.Errorf("not joined")
	}
	var prev *presenceMeta
	for _, m := range r.presence[key] {
		if m.c == c {
			prev = &m
			break
		}
	}
	ref := newRef()
	withRef := make(map[string]json.RawMessage, len(fields)+2)
	for f, v := range fields {
		withRef[f] = v
	}
	if prev != nil {
		var old map[string]json.RawMessage
		json.Unmarshal(prev.meta, &old)
		delete(old, "phx_ref")
		delete(old, "phx_ref_prev")
		a, _ := json.Marshal(old)
		b, _ := json.Marshal(fields)
		if string(a) == string(b) {
			return nil
		}
		withRef["phx_ref_prev"], _ = json.Marshal(prev.ref)
	}
	withRef["phx_ref"], _ = json.Marshal(ref)
	meta, _ := json.Marshal(withRef)
	var leaves map[string][]presenceMeta
	if prev != nil {
		leaves = r.untrack(c, key)
	}
	nm := presenceMeta{c: c, ref: ref, meta: meta}
	r.presence[key] = append(r.presence[key], nm)
	joins := map[string][]presenceMeta{key: {nm}}
	h.presenceDiff(k.topic, r, joins, leaves)
	h.sharePresence(k, joins, leaves)
	return nil
}

func (h *Hub) untrack(k roomKey, c *conn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	r := h.rooms[k]
	if r == nil {
		return
	}
	if leaves := r.untrack(c, ""); len(leaves) > 0 {
		h.presenceDiff(k.topic, r, nil, leaves)
		h.sharePresence(k, nil, leaves)
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
		if c == from && !ch.self || !ch.mayRead(extBroadcast) || ch.extras.replayed[m.ID] {
			continue
		}
		if frame, binary := frames.For(c.codec); frame != nil {
			c.enqueue(frame, binary)
		}
	}
}

func newRef() string {
	var b [9]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// newPresenceKey is the key of a presence with none configured: a random
// UUID, as the original generates one.
func newPresenceKey() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
