package policy

import (
	"context"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/pgrealtime/realtime/gateway/migrate"
	"github.com/pgrealtime/realtime/test/localpg/pgtest"
)

var suite pgtest.Suite

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, &suite)) }

const (
	userA = "9f1c6a52-3c5e-4d7b-8a41-0d2f3b6e7a11"
	userB = "2b7e4f90-6d1a-4c3e-9b25-7e8f0a1c2d33"
)

// policies: a user reads and writes broadcast on its own topic, anyone
// signed in reads presence in the lobby, and anon's policy is broken.
const policies = `
CREATE POLICY own_read ON realtime.messages FOR SELECT TO authenticated
  USING (realtime.topic() = 'user:' || auth.uid()::text AND extension = 'broadcast');
CREATE POLICY lobby_read ON realtime.messages FOR SELECT TO authenticated
  USING (realtime.topic() = 'lobby' AND extension = 'presence');
CREATE POLICY own_write ON realtime.messages FOR INSERT TO authenticated
  WITH CHECK (realtime.topic() = 'user:' || auth.uid()::text);
CREATE POLICY broken ON realtime.messages FOR SELECT TO anon USING (1 / 0 = 1);`

func checker(t *testing.T) *Checker {
	t.Helper()
	db := suite.Database(t)
	b, err := os.ReadFile("../../test/fixtures/supabase_project.sql")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(t.Context(), string(b)); err != nil {
		t.Fatal(err)
	}
	if _, err := migrate.Run(t.Context(), db, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(t.Context(), policies); err != nil {
		t.Fatal(err)
	}
	c := New(db, "")
	t.Cleanup(c.Close)
	return c
}

func user(t *testing.T, role, sub string) Claims {
	t.Helper()
	cl, err := ClaimsFrom(map[string]any{"role": role, "sub": sub, "exp": 4102444800})
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

func TestCanRead(t *testing.T) {
	t.Parallel()
	c := checker(t)
	for _, tc := range []struct {
		name, topic string
		who         Claims
		want        Read
	}{
		{"own topic", "user:" + userA, user(t, "authenticated", userA), Read{Broadcast: true}},
		{"another's topic", "user:" + userA, user(t, "authenticated", userB), Read{}},
		{"lobby presence", "lobby", user(t, "authenticated", userB), Read{Presence: true}},
		{"service_role bypasses RLS", "anything", user(t, "service_role", ""), Read{Broadcast: true, Presence: true}},
		{"quotes stay data", "x'); DROP TABLE realtime.messages; --", user(t, "authenticated", userA), Read{}},
	} {
		got, err := c.CanRead(t.Context(), tc.topic, tc.who)
		if err != nil || got != tc.want {
			t.Errorf("%s: CanRead = %+v, %v; want %+v", tc.name, got, err, tc.want)
		}
	}
}

func TestCanReadErrors(t *testing.T) {
	t.Parallel()
	c := checker(t)
	if r, err := c.CanRead(t.Context(), "room", user(t, "anon", "")); err == nil {
		t.Errorf("a failing policy: CanRead = %+v, want an error", r)
	}
	if r, err := c.CanRead(t.Context(), "room", user(t, "no_such_role", "")); err == nil {
		t.Errorf("an unknown role: CanRead = %+v, want an error", r)
	}
	// The failures left nothing behind, and a good check still works.
	if r, err := c.CanRead(t.Context(), "user:"+userA, user(t, "authenticated", userA)); err != nil || !r.Broadcast {
		t.Errorf("after failures: CanRead = %+v, %v", r, err)
	}
	if _, err := ClaimsFrom(map[string]any{"sub": userA}); err == nil {
		t.Error("ClaimsFrom without role: want an error")
	}
}

func TestCanWrite(t *testing.T) {
	t.Parallel()
	c := checker(t)
	for _, tc := range []struct {
		name, topic string
		who         Claims
		want        bool
	}{
		{"own topic", "user:" + userA, user(t, "authenticated", userA), true},
		{"another's topic", "user:" + userA, user(t, "authenticated", userB), false},
		{"anon has no insert policy", "lobby", user(t, "anon", ""), false},
	} {
		got, err := c.CanWrite(t.Context(), tc.topic, Broadcast, tc.who)
		if err != nil || got != tc.want {
			t.Errorf("%s: CanWrite = %v, %v; want %v", tc.name, got, err, tc.want)
		}
	}
	if n := count(t, c); n != 0 {
		t.Errorf("%d rows left in realtime.messages, want 0 (checks roll back)", n)
	}
}

func count(t *testing.T, c *Checker) int {
	pool, err := c.get(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := pool.QueryRow(t.Context(), "SELECT count(*) FROM realtime.messages").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
