package cluster

import (
	"encoding/json"
)

// The JSON that travels on a room's subjects. These types, not the values
// of message.go, carry the tags, so the format is fixed in one place and a
// new field in a value cannot change it unnoticed; wire_test.go pins the
// bytes, which every node of a cluster in a rolling upgrade must agree on.

type roomRefWire struct {
	Private bool   `json:"private,omitempty"`
	Topic   string `json:"topic"`
}

// roomWire is what travels on a room's broadcast subject.
type roomWire struct {
	Room   roomRefWire     `json:"room"`
	JSON   json.RawMessage `json:"json,omitempty"`
	Binary *binaryWire     `json:"binary,omitempty"`
	ID     string          `json:"id,omitempty"`
}

type binaryWire struct {
	Event    string `json:"event"`
	Metadata []byte `json:"metadata,omitempty"`
	Encoding byte   `json:"encoding"`
	Payload  []byte `json:"payload"`
}

// presenceWire is what travels on a room's presence subject.
type presenceWire struct {
	Node string `json:"node"`
	// Sync asks every node to send its whole presence in the room.
	Sync *roomRefWire      `json:"sync,omitempty"`
	Diff *presenceDiffWire `json:"diff,omitempty"`
}

type presenceDiffWire struct {
	Room   roomRefWire         `json:"room"`
	Node   string              `json:"node"`
	Full   bool                `json:"full,omitempty"`
	Joins  []presenceEntryWire `json:"joins,omitempty"`
	Leaves []presenceEntryWire `json:"leaves,omitempty"`
}

type presenceEntryWire struct {
	Key  string          `json:"key"`
	Ref  string          `json:"ref"`
	Meta json.RawMessage `json:"meta,omitempty"`
}

func encodeRoom(m RoomMessage) roomWire {
	w := roomWire{Room: roomRefWire(m.Room), JSON: m.JSON, ID: m.ID}
	if b := m.Binary; b != nil {
		w.Binary = (*binaryWire)(b)
	}
	return w
}

func (w roomWire) decode() RoomMessage {
	return RoomMessage{Room: RoomRef(w.Room), JSON: w.JSON, Binary: (*BinaryBroadcast)(w.Binary), ID: w.ID}
}

func encodePresence(p PresenceDiff) *presenceDiffWire {
	return &presenceDiffWire{Room: roomRefWire(p.Room), Node: p.Node, Full: p.Full, Joins: encodeEntries(p.Joins), Leaves: encodeEntries(p.Leaves)}
}

func (w *presenceDiffWire) decode() PresenceDiff {
	return PresenceDiff{Room: RoomRef(w.Room), Node: w.Node, Full: w.Full, Joins: decodeEntries(w.Joins), Leaves: decodeEntries(w.Leaves)}
}

func encodeEntries(es []PresenceEntry) []presenceEntryWire {
	if es == nil {
		return nil
	}
	out := make([]presenceEntryWire, len(es))
	for i, e := range es {
		out[i] = presenceEntryWire(e)
	}
	return out
}

func decodeEntries(ws []presenceEntryWire) []PresenceEntry {
	if ws == nil {
		return nil
	}
	out := make([]PresenceEntry, len(ws))
	for i, w := range ws {
		out[i] = PresenceEntry(w)
	}
	return out
}
