package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pgrealtime/realtime/filters"
	"github.com/pgrealtime/realtime/gateway/join"
	"github.com/pgrealtime/realtime/gateway/payload"
	"github.com/pgrealtime/realtime/gateway/policy"
	"github.com/pgrealtime/realtime/phoenix"
)

// replayConfig is config.broadcast.replay of a join: the stored broadcasts
// of a private channel since Since (ms since the epoch), at most Limit
// (capped at policy.MaxReplay).
type replayConfig struct {
	Since json.Number `json:"since"`
	Limit json.Number `json:"limit"`
}

// joinExtras is what a join asked for beyond its room: the replay, the
// replication_ready notice, and the ids it replayed, which live delivery
// then skips so that the seam has no duplicates. replayed is written under
// the hub's write lock (afterJoin) and read under its read lock.
type joinExtras struct {
	replay           *replayConfig
	replicationReady bool
	replayed         map[string]bool
}

// replayWait bounds the replay query, which runs under the hub's write
// lock (routing waits meanwhile, so nothing falls between the stored and
// the live messages).
const replayWait = 2 * time.Second

// prepareBroadcastJoin reads the broadcast options of a config join and
// authorizes a private channel. It returns the refusal, or nil.
func (c *conn) prepareBroadcastJoin(ch *channel, raw json.RawMessage) *join.Refusal {
	var cfg joinConfig
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
// queued, and returns what sends the replay after it. Reading the stored
// broadcasts first makes the reply a promise: whatever is committed after
// the client hears it arrives live, never in the replay.
func (c *conn) loadReplay(ch *channel) (send func()) {
	if ch.extras.replay == nil {
		return func() {}
	}
	return c.replay(ch)
}

// afterJoin runs under the hub's write lock right after the join reply
// (and presence_state) was queued: the replay, then replication_ready.
func (c *conn) afterJoin(ch *channel, sendReplay func()) {
	sendReplay()
	if ch.extras.replicationReady {
		status, msg := "ok", "Replication connection established"
		live, _ := c.srv.live()
		switch {
		case !live:
			status, msg = "error", "Replication connection is not ready: the gateway is not streaming from the database right now"
		case c.srv.policy == nil:
			status, msg = "error", "Broadcast from the database is off: the realtime schema is not in place (see the gateway's logs)"
		}
		c.send(systemMessage(ch, "system", status, msg))
	}
}

// replay reads the stored broadcasts the join asked for and returns what
// sends them, marked meta.replayed. A failure is a system error message,
// not a refused join.
func (c *conn) replay(ch *channel) func() {
	since, limit, err := ch.extras.replay.parse()
	if err == nil && c.srv.policy == nil {
		err = fmt.Errorf("the realtime schema is not in place")
	}
	var stored []policy.Stored
	if err == nil {
		var cl policy.Claims
		if cl, err = replayClaims(c, ch); err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), replayWait)
			stored, err = c.srv.policy.Replay(ctx, subtopic(ch), since, limit, cl)
			cancel()
		}
	}
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

// replayClaims are the claims the replay is read as: the channel's token,
// or with SECURE_CHANNELS off the service role (there is no user).
func replayClaims(c *conn, ch *channel) (policy.Claims, error) {
	if !c.srv.secured() {
		return policy.ClaimsFrom(map[string]any{"role": "service_role"})
	}
	if ch.subj == nil {
		return policy.Claims{}, errors.New("the channel has no token to read the replay as")
	}
	return claimsOf(ch.subj), nil
}

// parse reads since (ms since the epoch; in the future replays nothing)
// and limit (0 or over the cap means the cap, policy.MaxReplay).
func (r *replayConfig) parse() (time.Time, int, error) {
	ms, err := r.Since.Int64()
	if r.Since == "" {
		ms, err = 0, nil
	}
	if err != nil || ms < 0 {
		return time.Time{}, 0, fmt.Errorf("replay.since must be a time in milliseconds since the epoch, got %q", r.Since)
	}
	limit := int64(0)
	if r.Limit != "" {
		if limit, err = r.Limit.Int64(); err != nil || limit < 0 {
			return time.Time{}, 0, fmt.Errorf("replay.limit must be a positive whole number, got %q", r.Limit)
		}
	}
	return time.UnixMilli(ms), int(min(limit, policy.MaxReplay)), nil
}

// persistRequested reads realtime-js's persist metadata: {"persist":true}
// or {"persist":{"ttl":N}}. The ttl is accepted and not kept: stored
// broadcasts stay replayable for the partitions' retention (72 h), as in
// Supabase's server, which does not read it either.
func persistRequested(metadata []byte) bool {
	if len(metadata) == 0 {
		return false
	}
	var m struct {
		Persist json.RawMessage `json:"persist"`
	}
	if json.Unmarshal(metadata, &m) != nil {
		return false
	}
	v := strings.TrimSpace(string(m.Persist))
	return v != "" && v != "false" && v != "null"
}

// persist stores a broadcast of a private channel before it is delivered,
// and returns its id for meta.id. The write check has passed.
func (s *Server) persist(room RoomRef, event string, payload json.RawMessage, binary []byte) (string, error) {
	if !room.Private {
		return "", fmt.Errorf("cannot store a message on a public channel")
	}
	if s.policy == nil {
		return "", fmt.Errorf("cannot store messages: the realtime schema is not in place")
	}
	ctx, cancel := context.WithTimeout(context.Background(), replayWait)
	defer cancel()
	return s.policy.Store(ctx, strings.TrimPrefix(room.Topic, filters.TopicPrefix), event, payload, binary)
}

// idMetadata is the metadata of a stored broadcast as delivered live.
func idMetadata(id string) []byte {
	return append(phoenix.AppendString([]byte(`{"id":`), id), '}')
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
	if !c.mayWrite(ch, extPersistence) {
		return refuse(policy.StoreRefusal(subtopic(ch)))
	}
	id, err := c.srv.persist(rm.Room, b.Event, payload, bin)
	if err != nil {
		c.log.Info("broadcast not stored", "topic", ch.name, "err", err)
		return refuse("Unable to store the message: " + err.Error())
	}
	rm.ID, b.Metadata = id, idMetadata(id)
	return true
}
