package dbcast

import (
	"log/slog"
	"testing"

	"github.com/pgrealtime/realtime/replication"
)

// messageRow builds an INSERT of realtime.messages; a nil value is NULL.
func messageRow(vals map[string]*string) *replication.Change {
	names := []string{"topic", "extension", "payload", "event", "private", "updated_at", "inserted_at", "id", "binary_payload"}
	cols := make([]replication.Column, len(names))
	row := make([]replication.Value, len(names))
	for i, n := range names {
		cols[i] = replication.Column{Name: n}
		if v := vals[n]; v != nil {
			row[i] = replication.Value{State: replication.Text, Text: *v}
		}
	}
	return &replication.Change{Op: replication.Insert, Rel: replication.NewRelation(1, "realtime", "messages_2026_11_30", 'd', cols), New: row}
}

func ptr(s string) *string { return &s }

func TestDropsCounted(t *testing.T) {
	var s Stats
	log := slog.New(slog.DiscardHandler)
	valid := func(payload string) map[string]*string {
		return map[string]*string{"topic": ptr("room"), "extension": ptr("broadcast"), "payload": ptr(payload),
			"event": ptr("ev"), "private": ptr("f"), "id": ptr("0b6f1d0e-7f3a-4c1e-9d55-2b8f2f6a8c11")}
	}
	noTopic := valid(`{}`)
	noTopic["topic"] = nil
	for _, row := range []map[string]*string{valid(`{}`), noTopic, valid(`{"pad":"more than sixteen bytes"}`)} {
		s.Accept(log, messageRow(row), 16)
	}
	if r, m, l := s.routed.Load(), s.dropped[dropMalformed].Load(), s.dropped[dropTooLarge].Load(); r != 1 || m != 1 || l != 1 {
		t.Errorf("routed %d, malformed %d, too large %d; want 1 each", r, m, l)
	}
	for r, name := range dropReasonNames {
		if name == "" {
			t.Errorf("drop reason %d has no metric label", r)
		}
	}
}
