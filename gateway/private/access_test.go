package private

import (
	"testing"

	"github.com/pgrealtime/realtime/gateway/policy"
)

// Write answers are asked once per extension, and forgotten with the
// token they were asked for; read rights follow the last answer.
func TestAccessCachesWrites(t *testing.T) {
	p := &fakePolicy{write: map[string]bool{"broadcast": true}}
	g, subj := testGate(p), user(t)
	a := NewAccess(policy.Read{Broadcast: true})
	if !a.Read(Broadcast) || a.Read(Presence) {
		t.Error("read rights differ from the join's answer")
	}
	for range 3 {
		if !a.MayWrite(g, "room", Broadcast, subj) || a.MayWrite(g, "room", Presence, subj) {
			t.Fatal("write answers differ from the policy's")
		}
	}
	if p.writes != 2 {
		t.Errorf("%d write checks, want 2 (one per extension)", p.writes)
	}
	a.Refresh(policy.Read{Presence: true})
	if a.Read(Broadcast) || !a.Read(Presence) {
		t.Error("read rights did not follow the refresh")
	}
	a.MayWrite(g, "room", Broadcast, subj)
	if p.writes != 3 {
		t.Errorf("%d write checks after a refresh, want 3", p.writes)
	}
}

// A join the policy refuses gets no Access; a recheck that is refused
// leaves the rights as they were (the caller closes the channel).
func TestJoinAndRecheck(t *testing.T) {
	p := &fakePolicy{read: policy.Read{Broadcast: true, Presence: true}}
	g, subj := testGate(p), user(t)
	a, ok := g.Join("room", subj)
	if !ok || !a.Read(Presence) || p.topic != "room" || p.asked.Role != "authenticated" {
		t.Fatalf("Join = %v, %v; asked about %q as %q", a, ok, p.topic, p.asked.Role)
	}
	p.read = policy.Read{}
	if a.Recheck(g, "room", subj) || !a.Read(Broadcast) {
		t.Error("a refused recheck passed or changed the rights")
	}
	p.read = policy.Read{Broadcast: true}
	if !a.Recheck(g, "room", subj) || a.Read(Presence) {
		t.Error("a recheck did not take the new answer")
	}
	if _, ok := testGate(nil).Join("room", subj); ok {
		t.Error("joined without the realtime schema")
	}
}
