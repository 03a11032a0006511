package outbox

import "github.com/coder/websocket"

// Reason says why a socket was disconnected. Every disconnect has one; it is
// logged and counted, so "why did my client drop" has an answer.
type Reason uint8

const (
	ClientClose Reason = iota
	ReadError
	WriteError
	Idle
	SlowConsumer
	FrameTooBig
	ServerClose
	Shutdown
	NumReasons
)

var reasonNames = [NumReasons]string{
	ClientClose:  "client_close",
	ReadError:    "read_error",
	WriteError:   "write_error",
	Idle:         "idle_timeout",
	SlowConsumer: "slow_consumer",
	FrameTooBig:  "frame_too_big",
	ServerClose:  "server_close",
	Shutdown:     "shutdown",
}

func (r Reason) String() string { return reasonNames[r] }

// sendsClose is true for reasons the server initiates with a close frame.
func (r Reason) sendsClose() bool {
	return r == SlowConsumer || r == Shutdown || r == ServerClose
}

func (r Reason) status() websocket.StatusCode {
	switch r {
	case Shutdown:
		return websocket.StatusGoingAway
	case SlowConsumer:
		return websocket.StatusPolicyViolation
	}
	return websocket.StatusNormalClosure
}

// truncate keeps a close reason within the 123 bytes a close frame allows.
func truncate(s string) string {
	if len(s) > 120 {
		s = s[:120]
	}
	return s
}
