package policy

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestStoreAndReplay(t *testing.T) {
	t.Parallel()
	c := checker(t)
	topic := "user:" + userA
	start := time.Now().Add(-time.Second)
	for n := range MaxReplay + 5 {
		if _, err := c.Store(t.Context(), topic, "ev", json.RawMessage(fmt.Sprintf(`{"n":%d}`, n)), nil); err != nil {
			t.Fatal(err)
		}
	}
	a := user(t, "authenticated", userA)
	got, err := c.Replay(t.Context(), topic, start, 3, a)
	if err != nil || len(got) != 3 {
		t.Fatalf("Replay limit 3: %d messages, %v", len(got), err)
	}
	for i, s := range got {
		var p struct{ N int }
		json.Unmarshal(s.Payload, &p)
		if want := MaxReplay + 2 + i; p.N != want || s.Event != "ev" || len(s.ID) != 36 {
			t.Errorf("replayed[%d] = %+v (n=%d), want the newest three oldest first (n=%d)", i, s, p.N, want)
		}
	}
	if got, err := c.Replay(t.Context(), topic, start, 1_000_000, a); err != nil || len(got) != MaxReplay {
		t.Errorf("Replay with a huge limit: %d messages, %v; want %d", len(got), err, MaxReplay)
	}
	if got, err := c.Replay(t.Context(), topic, time.Now().Add(time.Hour), 10, a); err != nil || len(got) != 0 {
		t.Errorf("Replay since the future: %d messages, %v; want none", len(got), err)
	}
	if got, err := c.Replay(t.Context(), topic, start, 10, user(t, "authenticated", userB)); err != nil || len(got) != 0 {
		t.Errorf("Replay by a user RLS does not let read: %d messages, %v; want none", len(got), err)
	}
}

func TestStoreWithoutSkipColumn(t *testing.T) {
	t.Parallel()
	c := checker(t)
	pool, err := c.get(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(t.Context(), "ALTER TABLE realtime.messages DROP COLUMN skip_broadcast"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Store(t.Context(), "t", "ev", json.RawMessage(`{}`), nil); !errors.Is(err, ErrNoSkipColumn) {
		t.Errorf("Store without skip_broadcast: %v, want ErrNoSkipColumn", err)
	}
}

// Binary broadcasts are replayed as bytes, beside JSON ones, in order; a
// schema without binary_payload (migrations off on an older server's
// schema) still replays its JSON messages.
func TestReplayBinary(t *testing.T) {
	t.Parallel()
	c := checker(t)
	topic := "user:" + userA
	start := time.Now().Add(-time.Second)
	if _, err := c.Store(t.Context(), topic, "bin", nil, []byte{0, 1, 0xff}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Store(t.Context(), topic, "ev", json.RawMessage(`{"n":1}`), nil); err != nil {
		t.Fatal(err)
	}
	a := user(t, "authenticated", userA)
	got, err := c.Replay(t.Context(), topic, start, 10, a)
	if err != nil || len(got) != 2 {
		t.Fatalf("Replay: %d messages, %v", len(got), err)
	}
	if got[0].Event != "bin" || string(got[0].Binary) != "\x00\x01\xff" || got[0].Payload != nil {
		t.Errorf("binary message replayed as %+v", got[0])
	}
	if got[1].Event != "ev" || string(got[1].Payload) != `{"n": 1}` || got[1].Binary != nil {
		t.Errorf("JSON message replayed as %+v", got[1])
	}

	pool, err := c.get(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(t.Context(), "ALTER TABLE realtime.messages DROP COLUMN binary_payload CASCADE"); err != nil {
		t.Fatal(err)
	}
	if got, err := c.Replay(t.Context(), topic, start, 10, a); err != nil || len(got) != 1 || got[0].Event != "ev" {
		t.Errorf("Replay without binary_payload: %+v, %v; want the JSON message", got, err)
	}
}
