package phoenix

import (
	"encoding/json"
)

// Control events and the socket-level topic.
const (
	TopicPhoenix     = "phoenix"
	EventJoin        = "phx_join"
	EventLeave       = "phx_leave"
	EventReply       = "phx_reply"
	EventClose       = "phx_close"
	EventError       = "phx_error"
	EventHeartbeat   = "heartbeat"
	EventAccessToken = "access_token"
	EventSystem      = "system"
	EventBroadcast   = "broadcast"
	EventPresence    = "presence"
	// EventPostgresChanges pushes a change to a postgres_changes binding.
	EventPostgresChanges = "postgres_changes"
)

// Message is one Phoenix message in either direction. An empty JoinRef or Ref
// stands for JSON null: clients always send refs as non-empty strings.
type Message struct {
	JoinRef string
	Ref     string
	Topic   string
	Event   string
	Payload json.RawMessage
}

// Reply statuses.
const (
	StatusOK    = "ok"
	StatusError = "error"
)

// Reply builds a phx_reply to request m. response must be a JSON object
// (nil means {}).
func Reply(m Message, status string, response json.RawMessage) Message {
	if response == nil {
		response = emptyObject
	}
	p := make([]byte, 0, len(response)+32)
	p = append(p, `{"response":`...)
	p = append(p, response...)
	p = append(p, `,"status":`...)
	p = AppendString(p, status)
	p = append(p, '}')
	return Message{JoinRef: m.JoinRef, Ref: m.Ref, Topic: m.Topic, Event: EventReply, Payload: p}
}

// ErrorReply builds an error phx_reply whose response is {"reason": reason}.
func ErrorReply(m Message, reason string) Message {
	r := append([]byte(`{"reason":`), AppendString(nil, reason)...)
	r = append(r, '}')
	return Reply(m, StatusError, r)
}

var emptyObject = json.RawMessage(`{}`)

// EmptyPayload is the {} payload of heartbeat replies, phx_close and phx_error.
func EmptyPayload() json.RawMessage { return emptyObject }
