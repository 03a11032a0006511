package gateway

import (
	"encoding/json"

	"github.com/pgrealtime/realtime/gateway/join"
	"github.com/pgrealtime/realtime/phoenix"
)

// expireDue runs on the socket's expiry timer (expiry.Set) with the
// channels whose token has expired.
func (c *conn) expireDue(due []*channel) {
	for _, ch := range due {
		c.expireChannel(ch, "Token has expired")
	}
}

// expireChannel ends a channel whose token is no longer valid, as the
// original does: a channel joined with a config gets a system message with the
// reason and then phx_close, so realtime-js does not rejoin with the same
// token; a topic subscription gets phx_error, on which realtime-js 1.x rejoins
// (and fails until it has a fresh token). The reader drops the channel when
// it next looks at it.
func (c *conn) expireChannel(ch *channel, reason string) {
	if !ch.expired.CompareAndSwap(false, true) {
		return
	}
	c.exp.Untrack(ch)
	c.log.Info("channel token invalid; closing the channel", "topic", ch.name, "reason", reason)
	c.srv.hub.unsubscribe(c, ch, func() {
		if ch.room == nil {
			c.send(phoenix.Message{JoinRef: ch.joinRef, Ref: ch.joinRef, Topic: ch.name, Event: phoenix.EventError, Payload: phoenix.EmptyPayload()})
			return
		}
		c.send(systemMessage(ch, "system", "error", reason))
		c.send(phoenix.Message{JoinRef: ch.joinRef, Ref: ch.joinRef, Topic: ch.name, Event: phoenix.EventClose, Payload: phoenix.EmptyPayload()})
	})
}

// refreshToken handles access_token on a joined channel: a new valid token
// moves the expiry; an invalid one closes the channel with the reason.
// null, an empty or unchanged token, and opaque sb_ keys are ignored, as in
// the original (realtime-js 1.x sends null on every heartbeat).
func (c *conn) refreshToken(m phoenix.Message, ch *channel) {
	if c.srv.auth == nil {
		return
	}
	var p struct {
		AccessToken json.RawMessage `json:"access_token"`
	}
	json.Unmarshal(m.Payload, &p)
	token := join.Token(p.AccessToken)
	if token == "" || token == ch.token || join.Opaque(token) {
		return
	}
	exp, subj, err := c.srv.subject(token)
	if err != nil {
		c.expireChannel(ch, err.Error())
		return
	}
	role := ""
	if ch.role != "" {
		// The new role may be one the gateway cannot act as.
		probe := &channel{subj: subj, topic: ch.topic, subs: ch.subs}
		if r := c.acquireRole(probe); r != nil {
			c.expireChannel(ch, r.Reason())
			return
		}
		role = probe.role
	}
	ch.token = token
	// The new claims decide what the channel receives from the next change on.
	c.srv.hub.setSubject(ch, subj, role)
	if !c.recheckAccess(ch) {
		return
	}
	c.exp.Track(ch, exp)
}
