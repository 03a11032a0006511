package private

import (
	"sync/atomic"

	"github.com/pgrealtime/realtime/gateway/authz"
	"github.com/pgrealtime/realtime/gateway/policy"
)

// Extension names what a private channel may be allowed to read or write,
// as realtime.messages.extension spells it.
type Extension string

const (
	Broadcast Extension = policy.Broadcast
	Presence  Extension = policy.Presence
	// Persistence is asked, as a write, before a broadcast is stored for
	// replay: an INSERT policy on realtime.messages for extension
	// 'persistence' allows it, as Supabase's server asks. Being allowed to
	// broadcast on a topic does not let a user fill the table.
	Persistence Extension = policy.Persistence
)

// Access is what the RLS policies on realtime.messages allow one private
// channel's claims. The reads are set at join and replaced at a token
// refresh by the channel's reader, and read by routing and by other
// sockets' broadcasts, hence atomics. The write answers are asked on first
// use and cached; only the reader touches them.
type Access struct {
	readBroadcast, readPresence atomic.Bool
	write                       map[Extension]bool
}

// NewAccess returns the access of a channel whose join's read check
// answered r.
func NewAccess(r policy.Read) *Access {
	a := &Access{}
	a.setRead(r)
	return a
}

// Join asks what subj may read on topic (without "realtime:") at a
// join; ok is false when it may read nothing and the join is refused.
func (g Gate) Join(topic string, subj *authz.Subject) (a *Access, ok bool) {
	r, ok := g.Read(topic, subj)
	if !ok {
		return nil, false
	}
	return NewAccess(r), true
}

// Recheck asks again after the channel's token changed (subj is the new
// one). It returns false when the channel may no longer read anything:
// the caller closes it.
func (a *Access) Recheck(g Gate, topic string, subj *authz.Subject) bool {
	r, ok := g.Read(topic, subj)
	if ok {
		a.Refresh(r)
	}
	return ok
}

// Read reports whether the channel's member may receive ext.
func (a *Access) Read(ext Extension) bool {
	if ext == Presence {
		return a.readPresence.Load()
	}
	return a.readBroadcast.Load()
}

func (a *Access) setRead(r policy.Read) {
	a.readBroadcast.Store(r.Broadcast)
	a.readPresence.Store(r.Presence)
}

// Refresh takes the read check's answer r for the channel's new token, and
// forgets the write answers: other claims, other answers.
func (a *Access) Refresh(r policy.Read) {
	a.setRead(r)
	a.write = nil
}

// MayWrite reports whether subj may write ext on topic, asking g once per
// extension and token.
func (a *Access) MayWrite(g Gate, topic string, ext Extension, subj *authz.Subject) bool {
	if ok, asked := a.write[ext]; asked {
		return ok
	}
	ok := g.Write(topic, ext, subj)
	if a.write == nil {
		a.write = map[Extension]bool{}
	}
	a.write[ext] = ok
	return ok
}
