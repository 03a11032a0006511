package phoenix

import (
	"errors"
	"fmt"
)

// Binary frame kinds of the vsn 2.0.0 serializer. Every length field is one
// byte, so topics, events, refs and metadata are at most 255 bytes.
const (
	KindPush              byte = 0
	KindReply             byte = 1
	KindBroadcast         byte = 2
	KindUserBroadcastPush byte = 3 // client → server broadcast (realtime-js >= 2.91)
	KindUserBroadcast     byte = 4 // server → client broadcast
)

// Payload encodings of user broadcasts.
const (
	EncodingBinary byte = 0
	EncodingJSON   byte = 1
)

// BinaryMessage is a decoded client binary frame: a push (kind 0) or a user
// broadcast push (kind 3).
type BinaryMessage struct {
	Kind    byte
	JoinRef string
	Ref     string
	Topic   string
	Event   string
	// Metadata is the JSON metadata of a user broadcast, or empty.
	Metadata []byte
	// Encoding is EncodingJSON or EncodingBinary for a user broadcast.
	Encoding byte
	Payload  []byte
}

// ErrFieldTooLong is returned when a field does not fit a one-byte length.
var ErrFieldTooLong = errors.New("field longer than 255 bytes cannot be sent in a binary frame")

// DecodeBinary parses a client binary frame.
func DecodeBinary(frame []byte) (BinaryMessage, error) {
	if len(frame) == 0 {
		return BinaryMessage{}, &DecodeError{Reason: "empty binary frame"}
	}
	m := BinaryMessage{Kind: frame[0]}
	var header int
	switch m.Kind {
	case KindPush:
		header = 5
	case KindUserBroadcastPush:
		header = 7
	default:
		return BinaryMessage{}, &DecodeError{Reason: fmt.Sprintf("binary frame kind %d is not one a client may send (0 push, 3 broadcast)", m.Kind)}
	}
	if len(frame) < header {
		return BinaryMessage{}, &DecodeError{Reason: fmt.Sprintf("binary frame of kind %d needs a %d-byte header, got %d bytes", m.Kind, header, len(frame))}
	}
	lens := frame[1:header]
	if m.Kind == KindUserBroadcastPush {
		m.Encoding = frame[6]
		if m.Encoding != EncodingBinary && m.Encoding != EncodingJSON {
			return BinaryMessage{}, &DecodeError{Reason: fmt.Sprintf("unknown payload encoding %d (0 binary, 1 JSON)", m.Encoding)}
		}
		lens = frame[1:6]
	}
	rest := frame[header:]
	fields := make([][]byte, len(lens))
	for i, n := range lens {
		if int(n) > len(rest) {
			return BinaryMessage{}, &DecodeError{Reason: fmt.Sprintf("binary frame is shorter than its header says (field %d wants %d bytes, %d left)", i, n, len(rest))}
		}
		fields[i], rest = rest[:n], rest[n:]
	}
	m.JoinRef, m.Ref, m.Topic, m.Event = string(fields[0]), string(fields[1]), string(fields[2]), string(fields[3])
	if m.Kind == KindUserBroadcastPush {
		m.Metadata = fields[4]
	}
	m.Payload = rest
	derr := &DecodeError{Topic: m.Topic, Ref: m.Ref, JoinRef: m.JoinRef}
	if m.Topic == "" {
		derr.Reason = "binary frame has an empty topic"
		return BinaryMessage{}, derr
	}
	if m.Event == "" {
		derr.Reason = "binary frame has an empty event"
		return BinaryMessage{}, derr
	}
	return m, nil
}

// AppendUserBroadcast appends a kind 4 frame, what realtime-js >= 2.91
// receives for a broadcast.
func AppendUserBroadcast(dst []byte, topic, event string, metadata []byte, encoding byte, payload []byte) ([]byte, error) {
	if len(topic) > 255 || len(event) > 255 || len(metadata) > 255 {
		return dst, ErrFieldTooLong
	}
	dst = append(dst, KindUserBroadcast, byte(len(topic)), byte(len(event)), byte(len(metadata)), encoding)
	dst = append(dst, topic...)
	dst = append(dst, event...)
	dst = append(dst, metadata...)
	return append(dst, payload...), nil
}

// AppendUserBroadcastPush appends a kind 3 frame, as a client sends it. The
// gateway itself never sends one; tests and load tools do.
func AppendUserBroadcastPush(dst []byte, joinRef, ref, topic, event string, metadata []byte, encoding byte, payload []byte) ([]byte, error) {
	if len(joinRef) > 255 || len(ref) > 255 || len(topic) > 255 || len(event) > 255 || len(metadata) > 255 {
		return dst, ErrFieldTooLong
	}
	dst = append(dst, KindUserBroadcastPush, byte(len(joinRef)), byte(len(ref)), byte(len(topic)), byte(len(event)), byte(len(metadata)), encoding)
	dst = append(dst, joinRef...)
	dst = append(dst, ref...)
	dst = append(dst, topic...)
	dst = append(dst, event...)
	dst = append(dst, metadata...)
	return append(dst, payload...), nil
}
