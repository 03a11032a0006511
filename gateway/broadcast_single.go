package gateway

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"

	"github.com/pgrealtime/realtime/filters"
	"github.com/pgrealtime/realtime/phoenix"
)

// serveBroadcastSingle is POST /api/broadcast/{topic}/events/{event}, where
// realtime-js 2.1xx httpSend() posts one message: the topic (without
// "realtime:") and event in the path, the payload as the body, JSON or
// (Content-Type application/octet-stream) binary, ?private=true for a
// private channel. Answers as the 2.x server does: 202 with no body, 415
// for another media type, 422 for a missing payload.
func (s *Server) serveBroadcastSingle(w http.ResponseWriter, r *http.Request) {
	if !s.apiAuthorized(w, r) {
		return
	}
	binary := false
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		switch {
		case err == nil && mt == "application/json":
		case err == nil && mt == "application/octet-stream":
			binary = true
		default:
			writeJSON(w, http.StatusUnsupportedMediaType, map[string]string{"error": "Unsupported Media Type. Use application/json or application/octet-stream"})
			return
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, int64(s.cfg.MaxBroadcastBytes)))
	if err != nil {
		if errors.As(err, new(*http.MaxBytesError)) {
			writeJSON(w, http.StatusRequestEntityTooLarge, map[string]string{"message": "payload is larger than MAX_BROADCAST_BYTES"})
			return
		}
		writeJSON(w, http.StatusBadRequest, map[string]string{"message": "read body: " + err.Error()})
		return
	}
	topic, event := r.PathValue("topic"), r.PathValue("event")
	room := RoomRef{Private: r.URL.Query().Get("private") == "true", Topic: filters.TopicPrefix + topic}
	if room.Private && !s.httpMayWrite(r, topic, extBroadcast) {
		w.WriteHeader(http.StatusAccepted) // as the batch endpoint: accepted, not delivered
		return
	}
	if binary {
		// Checked here so that a topic or event too long for a binary
		// frame (255 bytes) is the caller's error, not a silent drop.
		if _, err := phoenix.AppendUserBroadcast(nil, room.Topic, event, nil, phoenix.EncodingBinary, body); err != nil {
			writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"errors": map[string]string{"topic": err.Error()}})
			return
		}
		rm := RoomMessage{Room: room, Binary: &BinaryBroadcast{Event: event, Encoding: phoenix.EncodingBinary, Payload: body}}
		if s.httpPersist(w, r, &rm, nil, body) {
			s.hub.sendRoom(rm, nil)
			w.WriteHeader(http.StatusAccepted)
		}
		return
	}
	if len(body) == 0 || !json.Valid(body) {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"errors": map[string]string{"payload": "want a JSON value as the body (or Content-Type: application/octet-stream)"}})
		return
	}
	rm := RoomMessage{Room: room}
	if !s.httpPersist(w, r, &rm, body, nil) {
		return
	}
	p := []byte(`{"event":`)
	p = phoenix.AppendString(p, event)
	if rm.ID != "" {
		p = append(p, `,"meta":`...)
		p = append(p, idMetadata(rm.ID)...)
	}
	p = append(p, `,"payload":`...)
	p = append(p, body...)
	p = append(p, `,"type":"broadcast"}`...)
	rm.JSON = p
	s.hub.sendRoom(rm, nil)
	w.WriteHeader(http.StatusAccepted)
}
