package gateway

import (
	"encoding/json"

	"github.com/pgrealtime/realtime/gateway/broadcast"
	"github.com/pgrealtime/realtime/gateway/dbcast"
	"github.com/pgrealtime/realtime/gateway/join"
	"github.com/pgrealtime/realtime/gateway/payload"
	"github.com/pgrealtime/realtime/gateway/policy"
	"github.com/pgrealtime/realtime/gateway/private"
	"github.com/pgrealtime/realtime/phoenix"
)

// joinExtras is what a join asked for beyond its room: the replay, the
// replication_ready notice, and the ids it replayed, which live delivery
// then skips so that the seam has no duplicates. replayed is written under
// the hub's write lock (afterJoin) and read under its read lock.
type joinExtras struct {
	replay           *private.ReplayOption
	replicationReady bool
	replayed         map[string]bool
}

// prepareBroadcastJoin reads the broadcast options of a config join and
// authorizes a private channel. It returns the refusal, or nil.
func (c *conn) prepareBroadcastJoin(ch *channel, raw json.RawMessage) *join.Refusal {
	var cfg join.Config
	if err := json.Unmarshal(raw, &cfg); err == nil {
		ch.extras.replay = cfg.Broadcast.Replay
		ch.extras.replicationReady = bool(cfg.Broadcast.ReplicationReady)
	}
	if ch.extras.replay != nil && !ch.room.private {
		return join.ReplayOnPublic()
	}
	return c.authorizeJoin(ch)
}

// loadReplay runs under the hub's write lock before the join reply is
// queued, and returns what sends the replay after it, marked
// meta.replayed. Reading the stored broadcasts first makes the reply a
// promise: whatever is committed after the client hears it arrives live,
// never in the replay. A failure is a system error message, not a refused
// join.
func (c *conn) loadReplay(ch *channel) (send func()) {
	if ch.extras.replay == nil {
		return func() {}
	}
	stored, err := c.srv.gate().Replay(ch.extras.replay, subtopic(ch), c.srv.secured(), ch.subj)
	if err != nil {
		c.log.Warn("replay failed", "topic", ch.name, "err", err)
		m := systemMessage(ch, "system", "error", "Unable to replay messages: "+err.Error())
		return func() { c.send(m) }
	}
	ch.extras.replayed = make(map[string]bool, len(stored))
	for _, s := range stored {
		ch.extras.replayed[s.ID] = true
	}
	return func() {
		for _, s := range stored {
			m := payload.Broadcast{Topic: subtopic(ch), Event: s.Event, ID: s.ID, Private: true, JSON: s.Payload, Binary: s.Binary}
			frames := payload.RenderBroadcast(m, true)
			if f, ok := frameFor(&frames, c); ok {
				c.enqueue(f.Data, f.Binary)
			}
		}
	}
}

// afterJoin runs under the hub's write lock right after the join reply
// (and presence_state) was queued: the replay, then replication_ready.
func (c *conn) afterJoin(ch *channel, sendReplay func()) {
	sendReplay()
	if ch.extras.replicationReady {
		live, _ := c.srv.live()
		status, msg := dbcast.ReadyStatus(live, c.srv.policy != nil)
		c.send(systemMessage(ch, "system", status, msg))
	}
}

// persistBroadcast stores a socket's binary broadcast that asked for
// persist and gives it the stored id. A failure is answered (realtime-js
// shows the reply's error) and the broadcast is not sent.
func (c *conn) persistBroadcast(m phoenix.Message, ch *channel, rm *RoomMessage) bool {
	b := rm.Binary
	var payload json.RawMessage
	var bin []byte
	if b.Encoding == phoenix.EncodingJSON {
		payload = b.Payload
	} else {
		bin = b.Payload
	}
	refuse := func(msg string) bool {
		resp, _ := json.Marshal(map[string]string{"error": msg})
		c.send(phoenix.Reply(m, phoenix.StatusError, resp))
		return false
	}
	if !c.mayWrite(ch, private.Persistence) {
		return refuse(policy.StoreRefusal(subtopic(ch)))
	}
	id, err := c.srv.gate().Store(rm.Room.Private, rm.Room.Topic, b.Event, payload, bin)
	if err != nil {
		c.log.Info("broadcast not stored", "topic", ch.name, "err", err)
		return refuse("Unable to store the message: " + err.Error())
	}
	rm.ID, b.Metadata = id, broadcast.IDMetadata(id)
	return true
}
