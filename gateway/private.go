package gateway

import (
	"encoding/json"
	"strings"

	"github.com/pgrealtime/realtime/filters"
	"github.com/pgrealtime/realtime/gateway/join"
	"github.com/pgrealtime/realtime/gateway/private"
	"github.com/pgrealtime/realtime/phoenix"
)

// Private channels (config.private=true) are authorized by the RLS
// policies on realtime.messages (gateway/private): at join, at the first
// broadcast or track, at every access_token refresh, and for each private
// message of the broadcast API.

func (s *Server) secured() bool { return s.auth != nil }

// gate asks the server's policy on a channel's behalf.
func (s *Server) gate() private.Gate {
	return private.Gate{Policy: s.policy, Log: s.log, Wait: startupJoinWait}
}

func subtopic(ch *channel) string { return strings.TrimPrefix(ch.name, filters.TopicPrefix) }

// systemMessage is the original's system event on a joined channel: which
// extension speaks, ok or error, and what happened.
func systemMessage(ch *channel, extension, status, message string) phoenix.Message {
	p, _ := json.Marshal(map[string]string{"extension": extension, "status": status, "message": message, "channel": subtopic(ch)})
	return phoenix.Message{JoinRef: ch.joinRef, Topic: ch.name, Event: phoenix.EventSystem, Payload: p}
}

// mayRead reports whether the channel's member may receive ext. Public
// channels may receive everything; a private channel what RLS allowed
// at join (or at the last token refresh).
func (ch *channel) mayRead(ext private.Extension) bool {
	return ch.access == nil || ch.access.Read(ext)
}

// mayWrite runs (once per channel and token) the write check for ext.
// Called by the channel's reader only.
func (c *conn) mayWrite(ch *channel, ext private.Extension) bool {
	return ch.access == nil || ch.access.MayWrite(c.srv.gate(), subtopic(ch), ext, ch.subj)
}

// authorizeJoin runs the read check of a private channel's join and
// returns the refusal, or nil with ch.access set.
func (c *conn) authorizeJoin(ch *channel) *join.Refusal {
	if !c.srv.secured() || ch.room == nil || !ch.room.private {
		return nil
	}
	a, ok := c.srv.gate().Join(subtopic(ch), ch.subj)
	if !ok {
		c.srv.hub.db.RefusedJoins.Add(1)
		return join.PrivateRead(subtopic(ch))
	}
	ch.access = a
	if !a.Read(private.Presence) {
		ch.presenceState = false
	}
	return nil
}

// recheckAccess re-runs the read check after the channel's token changed.
// A channel that may no longer read anything is closed; it returns false
// then.
func (c *conn) recheckAccess(ch *channel) bool {
	if ch.access == nil || ch.access.Recheck(c.srv.gate(), subtopic(ch), ch.subj) {
		return true
	}
	c.expireChannel(ch, "You no longer have permission to read from this Channel topic: "+subtopic(ch))
	return false
}
