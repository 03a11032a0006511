package phoenix

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Codec is one of the two Phoenix serializers. Implementations are stateless
// and safe for concurrent use.
type Codec interface {
	// Vsn is the serializer's version as clients name it.
	Vsn() string
	// Decode parses one text frame.
	Decode(frame []byte) (Message, error)
	// Append appends the encoding of m (one text frame) to dst.
	Append(dst []byte, m Message) []byte
	// Envelope returns what goes before and after a push's payload: for
	// any non-empty payload p, pre+p+post is Append of
	// Message{Topic: topic, Event: event, Payload: p}. A server that sends
	// one payload on many topics keeps each topic's envelope and shares
	// the payload's bytes, instead of a whole frame per topic.
	Envelope(topic, event string) (pre, post []byte)
}

// V1 is the vsn 1.0.0 serializer: {"topic","event","payload","ref","join_ref"}.
var V1 Codec = v1{}

// V2 is the vsn 2.0.0 serializer: [join_ref, ref, topic, event, payload].
var V2 Codec = v2{}

// ErrUnsupportedVsn is returned by CodecFor for a version neither serializer speaks.
var ErrUnsupportedVsn = errors.New("unsupported vsn")

// CodecFor picks the serializer for a socket's vsn query parameter. An empty
// vsn means 1.0.0, as Phoenix assumes.
func CodecFor(vsn string) (Codec, error) {
	switch {
	case vsn == "" || vsn == "1.0.0" || strings.HasPrefix(vsn, "1."):
		return V1, nil
	case vsn == "2.0.0" || strings.HasPrefix(vsn, "2."):
		return V2, nil
	}
	return nil, fmt.Errorf("%w %q: use 1.0.0 or 2.0.0", ErrUnsupportedVsn, vsn)
}

// DecodeError says why a frame could not be decoded. It carries whatever
// topic and ref could still be read, so the server can answer the sender.
type DecodeError struct {
	Topic, Ref, JoinRef string
	Reason              string
}

func (e *DecodeError) Error() string { return "malformed message: " + e.Reason }

type v1 struct{}

func (v1) Vsn() string { return "1.0.0" }

func (v1) Decode(frame []byte) (Message, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(frame, &raw); err != nil {
		return Message{}, &DecodeError{Reason: "not a JSON object: " + jsonErr(err)}
	}
	var m Message
	var derr DecodeError
	var missing []string
	for _, k := range []string{"topic", "event", "payload", "ref"} {
		if _, ok := raw[k]; !ok {
			missing = append(missing, k)
		}
	}
	// Read what can be read first, so an error reply can reach the sender.
	m.Topic, _ = stringField(raw["topic"])
	m.Ref, _ = refField(raw["ref"])
	m.JoinRef, _ = refField(raw["join_ref"])
	derr.Topic, derr.Ref, derr.JoinRef = m.Topic, m.Ref, m.JoinRef
	if len(missing) > 0 {
		derr.Reason = "missing key(s) " + strings.Join(missing, ", ")
		return Message{}, &derr
	}
	var ok bool
	if m.Topic, ok = stringField(raw["topic"]); !ok {
		derr.Reason = "topic must be a string"
		return Message{}, &derr
	}
	if m.Event, ok = stringField(raw["event"]); !ok {
		derr.Reason = "event must be a string"
		return Message{}, &derr
	}
	if m.Ref, ok = refField(raw["ref"]); !ok {
		derr.Reason = "ref must be a string or null"
		return Message{}, &derr
	}
	if j, present := raw["join_ref"]; present {
		if m.JoinRef, ok = refField(j); !ok {
			derr.Reason = "join_ref must be a string or null"
			return Message{}, &derr
		}
	}
	m.Payload = raw["payload"]
	return m, nil
}

func (v1) Append(dst []byte, m Message) []byte {
	dst = append(dst, `{"event":`...)
	dst = AppendString(dst, m.Event)
	dst = append(dst, `,"payload":`...)
	dst = appendPayload(dst, m.Payload)
	dst = append(dst, `,"ref":`...)
	dst = appendRef(dst, m.Ref)
	dst = append(dst, `,"topic":`...)
	dst = AppendString(dst, m.Topic)
	return append(dst, '}')
}

func (v1) Envelope(topic, event string) (pre, post []byte) {
	pre = AppendString([]byte(`{"event":`), event)
	pre = append(pre, `,"payload":`...)
	post = AppendString([]byte(`,"ref":null,"topic":`), topic)
	return pre, append(post, '}')
}

type v2 struct{}

func (v2) Vsn() string { return "2.0.0" }

func (v2) Decode(frame []byte) (Message, error) {
	var raw []json.RawMessage
	if err := json.Unmarshal(frame, &raw); err != nil {
		return Message{}, &DecodeError{Reason: "not a JSON array: " + jsonErr(err)}
	}
	if len(raw) != 5 {
		return Message{}, &DecodeError{Reason: fmt.Sprintf("want 5 elements [join_ref, ref, topic, event, payload], got %d", len(raw))}
	}
	var m Message
	var ok bool
	derr := &DecodeError{}
	derr.JoinRef, _ = refField(raw[0])
	derr.Ref, _ = refField(raw[1])
	derr.Topic, _ = stringField(raw[2])
	if m.JoinRef, ok = refField(raw[0]); !ok {
		derr.Reason = "join_ref must be a string or null"
		return Message{}, derr
	}
	if m.Ref, ok = refField(raw[1]); !ok {
		derr.Reason = "ref must be a string or null"
		return Message{}, derr
	}
	if m.Topic, ok = stringField(raw[2]); !ok {
		derr.Reason = "topic must be a string"
		return Message{}, derr
	}
	if m.Event, ok = stringField(raw[3]); !ok {
		derr.Reason = "event must be a string"
		return Message{}, derr
	}
	m.Payload = raw[4]
	return m, nil
}

func (v2) Append(dst []byte, m Message) []byte {
	dst = append(dst, '[')
	dst = appendRef(dst, m.JoinRef)
	dst = append(dst, ',')
	dst = appendRef(dst, m.Ref)
	dst = append(dst, ',')
	dst = AppendString(dst, m.Topic)
	dst = append(dst, ',')
	dst = AppendString(dst, m.Event)
	dst = append(dst, ',')
	dst = appendPayload(dst, m.Payload)
	return append(dst, ']')
}

func (v2) Envelope(topic, event string) (pre, post []byte) {
	pre = AppendString([]byte(`[null,null,`), topic)
	pre = append(pre, ',')
	pre = AppendString(pre, event)
	return append(pre, ','), []byte{']'}
}

func appendPayload(dst []byte, p json.RawMessage) []byte {
	if len(p) == 0 {
		return append(dst, "{}"...)
	}
	return append(dst, p...)
}

func appendRef(dst []byte, ref string) []byte {
	if ref == "" {
		return append(dst, "null"...)
	}
	return AppendString(dst, ref)
}

func stringField(raw json.RawMessage) (string, bool) {
	if len(raw) == 0 || raw[0] != '"' {
		return "", false
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false
	}
	return s, true
}

// refField accepts a string, null, or (leniently) a number, which some
// hand-written clients send.
func refField(raw json.RawMessage) (string, bool) {
	raw = bytes.TrimSpace(raw)
	switch {
	case len(raw) == 0, string(raw) == "null":
		return "", true
	case raw[0] == '"':
		return stringField(raw)
	}
	if _, err := strconv.ParseFloat(string(raw), 64); err == nil {
		return string(raw), true
	}
	return "", false
}

func jsonErr(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("%v at byte %d", se, se.Offset)
	}
	return err.Error()
}
