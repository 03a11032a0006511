package broadcast

import (
	"encoding/json"
	"fmt"

	"github.com/pgrealtime/realtime/gateway/cluster"
	"github.com/pgrealtime/realtime/phoenix"
)

// CheckText says why a client's JSON broadcast push cannot go to its room,
// or returns nil.
func CheckText(payload []byte, maxBytes int) error {
	return checkSize(len(payload), maxBytes)
}

// CheckBinary says why a client's binary broadcast (kind 3) cannot go to
// its room, or returns nil.
func CheckBinary(bm phoenix.BinaryMessage, maxBytes int) error {
	if err := checkSize(len(bm.Payload), maxBytes); err != nil {
		return err
	}
	if bm.Encoding == phoenix.EncodingJSON && !json.Valid(bm.Payload) {
		return fmt.Errorf("broadcast payload marked JSON is not valid JSON")
	}
	_, err := phoenix.AppendUserBroadcast(nil, bm.Topic, bm.Event, bm.Metadata, bm.Encoding, bm.Payload)
	return err
}

func checkSize(n, maxBytes int) error {
	if n > maxBytes {
		return fmt.Errorf("broadcast payload of %d bytes is over the limit of %d bytes", n, maxBytes)
	}
	return nil
}

// Frames is one room message rendered for the room's members. A JSON
// broadcast's text frame for a serializer is made on first use, so a room
// whose members all speak one serializer never renders the other.
type Frames struct {
	m cluster.RoomMessage
	// Of a JSON broadcast: the text frame per serializer (vsn 1.0.0, then
	// 2.0.0).
	text [2][]byte
	// Of a binary broadcast: the kind 4 frame for vsn 2.0.0, and for vsn
	// 1.0.0 the JSON form when the payload is JSON (nil otherwise: a
	// vsn 1.0.0 socket cannot receive a binary payload).
	binary, v1 []byte
}

// Render prepares m's frames. It fails only for a binary broadcast that
// cannot be framed, which its sender has checked (CheckBinary).
func Render(m cluster.RoomMessage) (Frames, error) {
	f := Frames{m: m}
	b := m.Binary
	if b == nil {
		return f, nil
	}
	var err error
	f.binary, err = phoenix.AppendUserBroadcast(nil, m.Room.Topic, b.Event, b.Metadata, b.Encoding, b.Payload)
	if err != nil {
		return Frames{}, err
	}
	if b.Encoding == phoenix.EncodingJSON {
		p := []byte(`{"event":`)
		p = phoenix.AppendString(p, b.Event)
		if m.ID != "" {
			// A stored broadcast carries its id, as the JSON forms of
			// the HTTP API and of the database's broadcasts do.
			p = append(p, `,"meta":`...)
			p = append(p, IDMetadata(m.ID)...)
		}
		p = append(p, `,"payload":`...)
		p = append(p, b.Payload...)
		p = append(p, `,"type":"broadcast"}`...)
		f.v1 = phoenix.V1.Append(nil, phoenix.Message{Topic: m.Room.Topic, Event: phoenix.EventBroadcast, Payload: p})
	}
	return f, nil
}

// For is the frame for a socket speaking codec, and whether it is a
// binary frame; nil when that socket gets nothing.
func (f *Frames) For(codec phoenix.Codec) ([]byte, bool) {
	if f.m.Binary != nil {
		if codec == phoenix.V2 {
			return f.binary, true
		}
		return f.v1, false
	}
	i := 0
	if codec == phoenix.V2 {
		i = 1
	}
	if f.text[i] == nil {
		f.text[i] = codec.Append(nil, phoenix.Message{Topic: f.m.Room.Topic, Event: phoenix.EventBroadcast, Payload: f.m.JSON})
	}
	return f.text[i], false
}

// IDMetadata is the metadata of a stored broadcast as delivered live.
func IDMetadata(id string) []byte {
	return append(phoenix.AppendString([]byte(`{"id":`), id), '}')
}
