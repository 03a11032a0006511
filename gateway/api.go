package gateway

import (
	"encoding/json"
	"time"

	"github.com/pgrealtime/realtime/gateway/httpapi"
	"github.com/pgrealtime/realtime/gateway/outbox"
	"github.com/pgrealtime/realtime/gateway/private"
)

// apiCore is the core as the HTTP API (gateway/httpapi) sees it: the
// server's token check, write checks and store, its hub's rooms, and the
// counters both keep.
type apiCore struct{ s *Server }

var _ httpapi.Core = apiCore{}

func (a apiCore) Verify(token string) error {
	if a.s.auth == nil {
		return nil
	}
	_, err := a.s.auth.Verify(token, true)
	return err
}

func (a apiCore) MayWrite(token, topic, ext string) bool {
	s := a.s
	if !s.secured() {
		return true
	}
	_, subj, err := s.subject(token)
	if err != nil {
		return false
	}
	return s.gate().Write(topic, private.Extension(ext), subj)
}

func (a apiCore) Store(room RoomRef, event string, payload json.RawMessage, binary []byte) (string, error) {
	return a.s.gate().Store(room.Private, room.Topic, event, payload, binary)
}

func (a apiCore) Send(m RoomMessage) { a.s.hub.sendRoom(m, nil) }

func (a apiCore) Stats() httpapi.Stats {
	s, h := a.s, &a.s.hub.stats
	st := httpapi.Stats{Sockets: s.Sockets(), Channels: h.channels.Load(), Lag: time.Duration(h.lag.Load()),
		Changes: h.changes.Load(), Messages: h.messages.Load(), Bytes: h.bytes.Load(),
		BadFrames: s.badFrames.Load(), Panics: s.panics.Load(), Refused: s.refused.Load(),
		RouterWait: time.Duration(s.routerWait.Load())}
	for r := range outbox.NumReasons {
		st.Disconnects = append(st.Disconnects, httpapi.Count{Label: r.String(), N: s.disconnects[r].Load()})
	}
	st.Live, st.Replication = s.live()
	return st
}

func (a apiCore) RefuseSocket() { a.s.refused.Add(1) }
