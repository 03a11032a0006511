package private

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/pgrealtime/realtime/gateway/authz"
	"github.com/pgrealtime/realtime/gateway/policy"
)

// fakePolicy answers from its fields and records what it was asked.
type fakePolicy struct {
	read     policy.Read
	write    map[string]bool
	err      error
	writes   int
	asked    policy.Claims
	topic    string
	stored   []policy.Stored
	maxLimit int
}

func (p *fakePolicy) CanRead(_ context.Context, topic string, cl policy.Claims) (policy.Read, error) {
	p.topic, p.asked = topic, cl
	return p.read, p.err
}

func (p *fakePolicy) CanWrite(_ context.Context, topic, ext string, cl policy.Claims) (bool, error) {
	p.writes++
	p.topic, p.asked = topic, cl
	return p.write[ext], p.err
}

func (p *fakePolicy) Store(_ context.Context, topic, _ string, _ json.RawMessage, _ []byte) (string, error) {
	p.topic = topic
	return "id-1", p.err
}

func (p *fakePolicy) Replay(_ context.Context, topic string, _ time.Time, limit int, cl policy.Claims) ([]policy.Stored, error) {
	p.topic, p.asked, p.maxLimit = topic, cl, limit
	return p.stored, p.err
}

func testGate(p Policy) Gate {
	return Gate{Policy: p, Log: slog.New(slog.DiscardHandler), Wait: time.Second}
}

func user(t *testing.T) *authz.Subject {
	t.Helper()
	s, err := authz.NewSubject(map[string]any{"role": "authenticated", "sub": "u1", "exp": 1})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Without a policy, without a subject, or when the check fails, nothing
// may be read or written: every failure is a refusal.
func TestGateFailsClosed(t *testing.T) {
	subj := user(t)
	for name, g := range map[string]Gate{
		"no schema": testGate(nil),
		"error":     testGate(&fakePolicy{read: policy.Read{Broadcast: true}, write: map[string]bool{"broadcast": true}, err: errors.New("policy raised")}),
	} {
		if _, ok := g.Read("room", subj); ok {
			t.Errorf("%s: Read allowed", name)
		}
		if g.Write("room", Broadcast, subj) {
			t.Errorf("%s: Write allowed", name)
		}
	}
	g := testGate(&fakePolicy{read: policy.Read{Broadcast: true}, write: map[string]bool{"broadcast": true}})
	if _, ok := g.Read("room", nil); ok || g.Write("room", Broadcast, nil) {
		t.Error("a channel without a token was allowed")
	}
	if _, ok := g.Read("room", subj); !ok {
		t.Error("a read the policy allows was refused")
	}
}

// Stored broadcasts: only on private channels, topic without its prefix;
// the replay is read as the channel's user, or as the service role when
// there are no users (SECURE_CHANNELS off).
func TestGateStoreAndReplay(t *testing.T) {
	p := &fakePolicy{stored: []policy.Stored{{ID: "x"}}}
	g := testGate(p)
	if _, err := g.Store(false, "realtime:room", "ev", json.RawMessage(`{}`), nil); err == nil {
		t.Error("stored a message on a public channel")
	}
	if id, err := g.Store(true, "realtime:room", "ev", json.RawMessage(`{}`), nil); err != nil || id != "id-1" || p.topic != "room" {
		t.Errorf("Store = %q, %v on topic %q; want id-1 on room", id, err, p.topic)
	}
	if _, err := testGate(nil).Store(true, "realtime:room", "ev", nil, nil); err == nil {
		t.Error("stored without the realtime schema")
	}
	opt := &ReplayOption{Since: "1700000000000", Limit: "5"}
	if got, err := g.Replay(opt, "room", true, user(t)); err != nil || len(got) != 1 || p.asked.Role != "authenticated" || p.maxLimit != 5 {
		t.Errorf("Replay as the user = %v, %v as %q limit %d", got, err, p.asked.Role, p.maxLimit)
	}
	if _, err := g.Replay(opt, "room", false, nil); err != nil || p.asked.Role != "service_role" {
		t.Errorf("Replay without secure channels: %v as %q, want service_role", err, p.asked.Role)
	}
	if _, err := g.Replay(opt, "room", true, nil); err == nil {
		t.Error("replayed for a channel without a token")
	}
	if _, err := g.Replay(&ReplayOption{Since: "soon"}, "room", true, user(t)); err == nil {
		t.Error("replayed with a bad since")
	}
}
