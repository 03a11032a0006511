package gateway

import "github.com/coder/websocket"

// reason says why a socket was disconnected. Every disconnect has one; it is
// logged and counted, so "why did my client drop" has an answer.
type reason uint8

const (
	reasonClientClose reason = iota
	reasonReadError
	reasonWriteError
	reasonIdle
	reasonSlowConsumer
	reasonFrameTooBig
	reasonServerClose
	reasonShutdown
	numReasons
)

var reasonNames = [numReasons]string{
	reasonClientClose:  "client_close",
	reasonReadError:    "read_error",
	reasonWriteError:   "write_error",
	reasonIdle:         "idle_timeout",
	reasonSlowConsumer: "slow_consumer",
	reasonFrameTooBig:  "frame_too_big",
	reasonServerClose:  "server_close",
	reasonShutdown:     "shutdown",
}

func (r reason) String() string { return reasonNames[r] }

// sendsClose is true for reasons the server initiates with a close frame.
func (r reason) sendsClose() bool {
	return r == reasonSlowConsumer || r == reasonShutdown || r == reasonServerClose
}

func (r reason) status() websocket.StatusCode {
	switch r {
	case reasonShutdown:
		return websocket.StatusGoingAway
	case reasonSlowConsumer:
		return websocket.StatusPolicyViolation
	}
	return websocket.StatusNormalClosure
}

type disconnect struct {
	reason reason
	text   string
}
