// Package phoenix owns the Phoenix channel wire protocol that realtime-js
// speaks: the Message type, the two serializers chosen by the socket's vsn
// parameter (1.0.0: one JSON object per frame; 2.0.0: a JSON array
// [join_ref, ref, topic, event, payload]), the names of the control events,
// and constructors for replies.
//
// It knows nothing of PostgreSQL or JWTs. Encoders append to a caller's
// buffer so that the gateway can encode a change once and hand the same
// bytes to every socket that shares a topic and serializer.
package phoenix
