package presence

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
)

// Push is a client's presence push: {"type":"presence","event":"track" or
// "untrack","payload":{...}}.
type Push struct {
	Type    string          `json:"type"`
	Event   string          `json:"event"`
	Payload json.RawMessage `json:"payload"`
}

// ErrBadPush refuses a presence push that is not the object realtime-js sends.
var ErrBadPush = errors.New(`presence payload must be {"type":"presence","event":"track"|"untrack","payload":{...}}`)

// ParsePush reads a presence push.
func ParsePush(payload json.RawMessage) (Push, error) {
	var p Push
	if err := json.Unmarshal(payload, &p); err != nil {
		return Push{}, ErrBadPush
	}
	return p, nil
}

// NewKey is the key of a presence with none configured: a random UUID
// (version 4), as the original generates one.
func NewKey() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// newRef is a meta's phx_ref: unique, as Phoenix's refs are, and opaque.
func newRef() string {
	var b [9]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
