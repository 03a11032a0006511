package gateway

import (
	"encoding/json"

	"github.com/pgrealtime/realtime/gateway/httpapi"
	"github.com/pgrealtime/realtime/gateway/private"
)

// apiCore is the core as the HTTP API (gateway/httpapi) sees it: the
// server's token check, write checks and store, and its hub's rooms.
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

func (a apiCore) Live() bool {
	live, _ := a.s.live()
	return live
}

func (a apiCore) Sockets() int { return a.s.Sockets() }
