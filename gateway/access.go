package gateway

import (
	"sync/atomic"

	"github.com/pgrealtime/realtime/gateway/policy"
)

// extension names what a private channel may be allowed to read or write,
// as realtime.messages.extension spells it.
type extension string

const (
	extBroadcast extension = "broadcast"
	extPresence  extension = "presence"
	// extPersistence is asked, as a write, before a broadcast is stored
	// for replay: an INSERT policy on realtime.messages for extension
	// 'persistence' allows it, as Supabase's server asks. Being allowed to
	// broadcast on a topic does not let a user fill the table.
	extPersistence extension = policy.Persistence
)

// mayRead reports whether the channel's member may receive ext. Public
// channels may receive everything; a private channel what RLS allowed
// at join (or at the last token refresh).
func (ch *channel) mayRead(ext extension) bool {
	if ch.access == nil {
		return true
	}
	return ch.access.read(ext)
}

// topicAccess is what the RLS policies on realtime.messages allow one
// private channel's claims. The reads are set at join and replaced at a
// token refresh by the channel's reader, and read by routing and by other
// sockets' broadcasts, hence atomics. The write answers are asked on first
// use and cached; only the reader touches them.
type topicAccess struct {
	readBroadcast, readPresence atomic.Bool
	write                       map[extension]bool
}

func (a *topicAccess) read(ext extension) bool {
	if ext == extPresence {
		return a.readPresence.Load()
	}
	return a.readBroadcast.Load()
}

func (a *topicAccess) setRead(r policy.Read) {
	a.readBroadcast.Store(r.Broadcast)
	a.readPresence.Store(r.Presence)
}
