package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/pgrealtime/realtime/filters"
	"github.com/pgrealtime/realtime/gateway/authz"
	"github.com/pgrealtime/realtime/gateway/join"
	"github.com/pgrealtime/realtime/gateway/presence"
	"github.com/pgrealtime/realtime/gateway/private"
	"github.com/pgrealtime/realtime/phoenix"
)

// channel is one joined topic on a socket. Owned by the socket's reader;
// the hub holds pointers to it but only reads fields set before subscribe.
type channel struct {
	name    string
	joinRef string
	// topic is set for a join without config (realtime-js 1.x): the topic
	// is the subscription.
	topic *filters.Topic
	// The rest is set for a config join (realtime-js 2.x).
	room        *roomKey
	self, ack   bool
	presenceKey string
	// presenceState asks for presence_state right after the join reply.
	presenceState bool
	subs          []*changesSub
	// access is what RLS allows a private channel (gateway/private); nil when public.
	access *private.Access
	// extras holds replay and replication_ready (replay.go).
	extras joinExtras
	// token is the JWT the channel joined or last refreshed with (secure
	// channels only); expired is set once its channel was closed for it.
	token   string
	expired atomic.Bool
	// subj is who the channel acts as in the database (secure channels
	// only): set before subscribe, replaced under the hub's write lock on
	// an access_token refresh, read by routing under the read lock.
	subj *authz.Subject
	// role is the role the channel holds in the hub's authorizer, released
	// when the hub forgets the channel ("" when it holds none).
	role string
	// authzWarned is set once the channel was told that a failed
	// visibility check hid changes from it.
	authzWarned atomic.Bool
	// removed is set (under the hub's lock) once the hub forgot the channel.
	removed bool
	// routed and delivery place this channel in the hub's deliveries of
	// the change numbered routed (see Hub.routeChanges). Router-owned.
	routed   uint64
	delivery int
}

// joinPayload is what clients put in phx_join. realtime-js 1.x sends
// user_token (after setAuth); 2.x sends config and access_token.
type joinPayload struct {
	Config      json.RawMessage `json:"config"`
	UserToken   json.RawMessage `json:"user_token"`
	AccessToken json.RawMessage `json:"access_token"`
}

// handle dispatches one decoded message.
func (c *conn) handle(m phoenix.Message) {
	if m.Topic == phoenix.TopicPhoenix && m.Event == phoenix.EventHeartbeat {
		c.send(phoenix.Reply(m, phoenix.StatusOK, nil))
		return
	}
	if m.Event == phoenix.EventJoin {
		c.join(m)
		return
	}
	ch := c.channels[m.Topic]
	if ch != nil && ch.expired.Load() {
		// Closed for its token by the expiry timer: no longer joined.
		delete(c.channels, m.Topic)
		ch = nil
	}
	if ch == nil {
		if m.Event == phoenix.EventLeave {
			// Leaving what is not joined is fine, as in Phoenix.
			c.send(phoenix.Reply(m, phoenix.StatusOK, nil))
			return
		}
		c.send(phoenix.ErrorReply(m, "unmatched topic"))
		return
	}
	if m.JoinRef != "" && m.JoinRef != ch.joinRef {
		// A message for an earlier join of this topic: Phoenix drops it.
		return
	}
	switch {
	case m.Event == phoenix.EventLeave:
		c.leave(m, ch)
	case m.Event == phoenix.EventAccessToken:
		// Never a reply, as in the original.
		c.refreshToken(m, ch)
	case m.Event == phoenix.EventBroadcast && ch.room != nil:
		c.textBroadcast(m, ch)
	case m.Event == phoenix.EventPresence && ch.room != nil:
		c.presence(m, ch)
	default:
		c.send(phoenix.ErrorReply(m, fmt.Sprintf("unknown event %q on this channel", m.Event)))
	}
}

func (c *conn) join(m phoenix.Message) {
	var p joinPayload
	if len(m.Payload) > 0 && string(m.Payload) != "null" {
		if err := json.Unmarshal(m.Payload, &p); err != nil {
			c.refuseJoin(m, join.BadPayload())
			return
		}
	}
	if !c.joins.Allow(time.Now(), c.srv.cfg.MaxJoinsPerSecond) {
		c.refuseJoin(m, join.RateLimited(c.srv.cfg.MaxJoinsPerSecond))
		return
	}
	old := c.channels[m.Topic]
	if old == nil && len(c.channels) >= c.srv.cfg.MaxChannelsPerSocket {
		c.refuseJoin(m, join.TooManyChannels(c.srv.cfg.MaxChannelsPerSocket))
		return
	}
	var token string
	var exp time.Time
	var subj *authz.Subject
	if c.srv.auth != nil {
		// The channel's own token decides its rights, not the socket's.
		token = join.Token(p.UserToken, p.AccessToken)
		if token == "" || join.Opaque(token) {
			token = c.token
		}
		var err error
		if exp, subj, err = c.srv.subject(token); err != nil {
			c.refuseJoin(m, join.InvalidToken(err))
			return
		}
	}
	if r := c.srv.checks.FirstSlot(startupJoinWait); r != nil {
		c.refuseJoin(m, r)
		return
	}
	ch := &channel{name: m.Topic, joinRef: m.JoinRef, token: token, subj: subj}
	if ch.joinRef == "" {
		ch.joinRef = m.Ref
	}
	hasConfig := len(p.Config) > 0 && string(p.Config) != "null"
	var reply json.RawMessage
	var after []phoenix.Message
	if hasConfig {
		var r *join.Refusal
		reply, after, r = c.prepareConfigJoin(m, ch, p.Config)
		if r == nil {
			r = c.prepareBroadcastJoin(ch, p.Config)
		}
		if r != nil {
			c.refuseJoin(m, r)
			return
		}
	} else {
		t, err := filters.ParseTopic(m.Topic)
		if err != nil {
			c.refuseJoin(m, join.BadTopic(err))
			return
		}
		if r := c.srv.checks.Topic(t); r != nil {
			c.refuseJoin(m, r)
			return
		}
		ch.topic = &t
	}
	if r := c.acquireRole(ch); r != nil {
		c.refuseJoin(m, r)
		return
	}
	if r := c.watch(ch); r != nil {
		if ch.role != "" {
			c.srv.hub.authz.Release(ch.role)
		}
		c.refuseJoin(m, r)
		return
	}
	if old != nil {
		// A second join of the same topic replaces the first, as in Phoenix.
		c.exp.Untrack(old)
		c.srv.hub.unsubscribe(c, old, nil)
	}
	c.channels[m.Topic] = ch
	c.srv.hub.subscribe(c, ch, func() {
		sendReplay := c.loadReplay(ch)
		c.send(phoenix.Reply(m, phoenix.StatusOK, reply))
		if ch.presenceState {
			// Under the hub's lock: no presence_diff can slip between the
			// state and the member's registration.
			c.send(phoenix.Message{JoinRef: ch.joinRef, Topic: m.Topic, Event: "presence_state", Payload: c.srv.hub.presenceState(*ch.room)})
		}
		for _, a := range after {
			c.send(a)
		}
		c.afterJoin(ch, sendReplay)
	})
	// After subscribing, so an expiry can never precede the subscription.
	if !exp.IsZero() {
		c.exp.Track(ch, exp)
	}
}

// refuseJoin answers a join with its refusal, counted and logged by code.
func (c *conn) refuseJoin(m phoenix.Message, r *join.Refusal) {
	c.srv.joinRefusals.Refused(c.log, m.Topic, r)
	c.send(phoenix.ErrorReply(m, r.Reason()))
}

// watch makes ready what a join needs before it is acknowledged: its room
// exists, and in a cluster every gateway's changes and broadcasts for it
// reach this one. It returns why the join cannot go on.
func (c *conn) watch(ch *channel) *join.Refusal {
	hub := c.srv.hub
	if ch.room != nil {
		hub.holdRoom(*ch.room)
	}
	if hub.relay == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), startupJoinWait)
	defer cancel()
	if err := hub.relay.Watch(ctx, interestOf(ch)); err != nil {
		if ch.room != nil {
			hub.releaseRoom(*ch.room)
		}
		return join.ClusterUnavailable(err)
	}
	return nil
}

// prepareConfigJoin reads a realtime-js 2.x join config into ch. It returns
// the join reply's response, the messages to push right after the reply
// (presence_state, system), or why the join is refused.
func (c *conn) prepareConfigJoin(m phoenix.Message, ch *channel, raw json.RawMessage) (json.RawMessage, []phoenix.Message, *join.Refusal) {
	sub, ok := strings.CutPrefix(m.Topic, filters.TopicPrefix)
	if !ok || sub == "" {
		return nil, nil, join.NoTopicName()
	}
	var cfg join.Config
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	if err := dec.Decode(&cfg); err != nil {
		return nil, nil, join.BadConfig(err)
	}
	ch.room = &roomKey{private: bool(cfg.Private), topic: m.Topic}
	ch.self, ch.ack = bool(cfg.Broadcast.Self), bool(cfg.Broadcast.Ack)
	if cfg.Presence.Enabled {
		ch.presenceState = true
		ch.presenceKey = cfg.Presence.Key
		if ch.presenceKey == "" {
			ch.presenceKey = presence.NewKey()
		}
	}
	entries := make([]json.RawMessage, 0, len(cfg.PostgresChanges))
	var after []phoenix.Message
	system := func(status, message string) phoenix.Message {
		return systemMessage(ch, "postgres_changes", status, message)
	}
	var failed []string
	for _, e := range cfg.PostgresChanges {
		b, err := filters.ParseBinding(e)
		if err != nil {
			return nil, nil, join.BadBinding(err)
		}
		entries = append(entries, b.ReplyEntry())
		if b.Err == "" {
			b.Err = c.srv.checks.Binding(b)
		}
		if b.Err != "" {
			failed = append(failed, b.Err)
			continue
		}
		ch.subs = append(ch.subs, newChangesSub(c, ch, m.Topic, b))
	}
	if len(ch.subs) > 0 {
		after = append(after, system("ok", "Subscribed to PostgreSQL"))
	}
	for _, f := range failed {
		after = append(after, system("error", f))
	}
	resp := []byte(`{"postgres_changes":[`)
	for i, e := range entries {
		if i > 0 {
			resp = append(resp, ',')
		}
		resp = append(resp, e...)
	}
	return append(resp, "]}"...), after, nil
}

func (c *conn) leave(m phoenix.Message, ch *channel) {
	delete(c.channels, m.Topic)
	c.exp.Untrack(ch)
	c.srv.hub.unsubscribe(c, ch, func() {
		c.send(phoenix.Reply(m, phoenix.StatusOK, nil))
		// realtime-js ignores a phx_close whose ref is not the join ref.
		c.send(phoenix.Message{JoinRef: ch.joinRef, Ref: ch.joinRef, Topic: m.Topic, Event: phoenix.EventClose, Payload: phoenix.EmptyPayload()})
	})
}

// subject verifies a channel token and reads who it acts as: secure
// channels need role and exp.
func (s *Server) subject(token string) (time.Time, *authz.Subject, error) {
	exp, claims, err := s.auth.VerifyClaims(token, true)
	if err != nil {
		return time.Time{}, nil, err
	}
	subj, err := authz.NewSubject(claims)
	if err != nil {
		return time.Time{}, nil, &replyError{err.Error()}
	}
	return exp, subj, nil
}
