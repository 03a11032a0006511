package gateway

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/pgrealtime/realtime/filters"
	"github.com/pgrealtime/realtime/gateway/authz"
	"github.com/pgrealtime/realtime/gateway/join"
	"github.com/pgrealtime/realtime/gateway/policy"
	"github.com/pgrealtime/realtime/phoenix"
)

// Private channels (config.private=true) are authorized by the RLS
// policies on realtime.messages, asked through a policy.Checker: at join
// (read: which of broadcast and presence the member receives), at the first
// broadcast or track (write, then cached), at every access_token refresh,
// and for each private message of the broadcast API. With SECURE_CHANNELS
// off there is no authorization at all, as for everything else.

// Policy answers the authorization questions; *policy.Checker implements it.
type Policy interface {
	CanRead(ctx context.Context, topic string, cl policy.Claims) (policy.Read, error)
	CanWrite(ctx context.Context, topic, ext string, cl policy.Claims) (bool, error)
	// Store and Replay keep and read back broadcasts (persist, replay).
	Store(ctx context.Context, topic, event string, payload json.RawMessage, binary []byte) (string, error)
	Replay(ctx context.Context, topic string, since time.Time, limit int, cl policy.Claims) ([]policy.Stored, error)
}

// claimsOf is who the policies on realtime.messages are asked about: the
// same role and settings the postgres_changes checks use.
func claimsOf(subj *authz.Subject) policy.Claims {
	return policy.Claims{Role: subj.Role, Sub: subj.Sub, JSON: []byte(subj.Claims)}
}

func (s *Server) secured() bool { return s.auth != nil }

// readAccess asks what subj may read on topic (without "realtime:"). Any
// failure is a refusal, logged with its cause.
func (s *Server) readAccess(topic string, subj *authz.Subject) (policy.Read, bool) {
	if s.policy == nil {
		s.log.Warn("private channel refused: the realtime schema is not in place (see the schema errors at start)", "topic", topic)
		return policy.Read{}, false
	}
	if subj == nil {
		return policy.Read{}, false
	}
	cl := claimsOf(subj)
	ctx, cancel := context.WithTimeout(context.Background(), startupJoinWait)
	defer cancel()
	r, err := s.policy.CanRead(ctx, topic, cl)
	if err != nil {
		s.log.Warn("private channel refused: its read check failed", "topic", topic, "role", cl.Role, "err", err)
		return policy.Read{}, false
	}
	return r, r.Any()
}

// writeAccess asks whether subj may write ext on topic.
func (s *Server) writeAccess(topic string, ext extension, subj *authz.Subject) bool {
	if s.policy == nil || subj == nil {
		return false
	}
	cl := claimsOf(subj)
	ctx, cancel := context.WithTimeout(context.Background(), startupJoinWait)
	defer cancel()
	ok, err := s.policy.CanWrite(ctx, topic, string(ext), cl)
	if err != nil {
		s.log.Warn("write check failed; refused", "topic", topic, "extension", ext, "role", cl.Role, "err", err)
		return false
	}
	return ok
}

func subtopic(ch *channel) string { return strings.TrimPrefix(ch.name, filters.TopicPrefix) }

// systemMessage is the original's system event on a joined channel: which
// extension speaks, ok or error, and what happened.
func systemMessage(ch *channel, extension, status, message string) phoenix.Message {
	p, _ := json.Marshal(map[string]string{"extension": extension, "status": status, "message": message, "channel": subtopic(ch)})
	return phoenix.Message{JoinRef: ch.joinRef, Topic: ch.name, Event: phoenix.EventSystem, Payload: p}
}

// authorizeJoin runs the read check of a private channel's join and
// returns the refusal, or nil with ch.access set.
func (c *conn) authorizeJoin(ch *channel) *join.Refusal {
	if !c.srv.secured() || ch.room == nil || !ch.room.private {
		return nil
	}
	topic := subtopic(ch)
	r, ok := c.srv.readAccess(topic, ch.subj)
	if !ok {
		c.srv.hub.db.refused.Add(1)
		return join.PrivateRead(topic)
	}
	ch.access = &topicAccess{}
	ch.access.setRead(r)
	if !r.Presence {
		ch.presenceState = false
	}
	return nil
}

// recheckAccess re-runs the read check after the channel's token changed.
// A channel that may no longer read anything is closed; it returns false
// then.
func (c *conn) recheckAccess(ch *channel) bool {
	if ch.access == nil {
		return true
	}
	topic := subtopic(ch)
	r, ok := c.srv.readAccess(topic, ch.subj)
	if !ok {
		c.expireChannel(ch, "You no longer have permission to read from this Channel topic: "+topic)
		return false
	}
	ch.access.setRead(r)
	ch.access.write = nil // other claims, other answers
	return true
}

// mayWrite runs (once per channel and token) the write check for ext.
// Called by the channel's reader only.
func (c *conn) mayWrite(ch *channel, ext extension) bool {
	a := ch.access
	if a == nil {
		return true
	}
	if ok, asked := a.write[ext]; asked {
		return ok
	}
	ok := c.srv.writeAccess(subtopic(ch), ext, ch.subj)
	if a.write == nil {
		a.write = map[extension]bool{}
	}
	a.write[ext] = ok
	return ok
}
