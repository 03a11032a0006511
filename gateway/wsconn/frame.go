package wsconn

// Frame is one WebSocket data message to send: Pre, Data and Post in that
// order. A postgres_changes push keeps its channel's envelope in Pre and
// Post and the payload, shared by every socket it goes to, in Data, so
// that a change to thousands of differently named channels is rendered
// once and not copied per socket until it is framed. Other frames are all
// Data. Binary sends an opcode 2 (binary) frame instead of 1 (text).
type Frame struct {
	Pre, Data, Post []byte
	Binary          bool
}

// Size is the length of the message's payload.
func (f Frame) Size() int { return len(f.Pre) + len(f.Data) + len(f.Post) }
