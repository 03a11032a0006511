package v2

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/pgrealtime/realtime/test/harness"
)

const (
	user1 = "11111111-1111-1111-1111-111111111111"
	user2 = "22222222-2222-2222-2222-222222222222"
)

// project is a gateway on a database set up as a Supabase project, with
// the keys and user tokens a Supabase project hands out.
type project struct {
	gateway
	db                          string
	anonKey, serviceKey, u1, u2 string
}

func startProject(t *testing.T) project {
	t.Helper()
	db := database(t, harness.NotesSchema)
	tok := func(claims jwt.MapClaims) string {
		claims["exp"] = time.Now().Add(time.Hour).Unix()
		claims["iss"] = "supabase"
		return hs256(t, claims, jwtSecret)
	}
	return project{
		gateway:    startGateway(t, db, "SECURE_CHANNELS=true", "JWT_SECRET="+jwtSecret),
		db:         db,
		anonKey:    tok(jwt.MapClaims{"role": "anon"}),
		serviceKey: tok(jwt.MapClaims{"role": "service_role"}),
		u1:         tok(jwt.MapClaims{"role": "authenticated", "sub": user1, "email": "u1@example.com"}),
		u2:         tok(jwt.MapClaims{"role": "authenticated", "sub": user2, "email": "u2@example.com"}),
	}
}

// client connects supabase-js with apikey (the socket's token) and, when
// userToken is given, the signed-in user's token, which supabase-js sends
// in every join: the channel's token decides what it receives, not the
// socket's key.
func (p project) client(t *testing.T, apikey, userToken string, tables ...string) *nodeClient {
	t.Helper()
	c := p.startClientConfig(t, map[string]string{"lib": "supabase", "apikey": apikey, "accessToken": userToken})
	for _, table := range tables {
		c.subscribed(map[string]any{"name": table, "bindings": []any{map[string]any{"event": "*", "schema": "public", "table": table}}})
	}
	return c
}

// until returns every postgres_changes event up to the INSERT of marker
// into open. The gateway sends a socket's changes in commit order, so what
// was not there by then was not sent.
func (c *nodeClient) until(marker int) []event {
	c.t.Helper()
	var got []event
	for {
		e := c.expect(fmt.Sprintf("marker %d", marker), func(e event) bool {
			p, _ := e["payload"].(map[string]any)
			return e.str("kind") == "pg" || e.str("kind") == "system" && p["status"] != "ok"
		})
		if row, _ := e["new"].(map[string]any); e.str("name") == "open" && row["id"] == float64(marker) {
			return got
		}
		got = append(got, e)
	}
}

func summary(events []event) string {
	var out []string
	for _, e := range events {
		if e.str("kind") == "system" {
			p, _ := e["payload"].(map[string]any)
			out = append(out, fmt.Sprintf("%s system %v", e.str("name"), p["status"]))
			continue
		}
		row, _ := e["new"].(map[string]any)
		old, _ := e["old"].(map[string]any)
		s := fmt.Sprintf("%s %s new=%v old=%v", e.str("name"), e.str("type"), sorted(row), sorted(old))
		if errs, ok := e["errors"].([]any); ok && len(errs) > 0 {
			s += fmt.Sprintf(" errors=%v", errs)
		}
		out = append(out, s)
	}
	return strings.Join(out, "\n")
}

func sorted(m map[string]any) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sortStrings(keys)
	var parts []string
	for _, k := range keys {
		v := m[k]
		if s, ok := v.(string); ok && len(s) > 8 {
			v = s[:8]
		}
		parts = append(parts, fmt.Sprintf("%s:%v", k, v))
	}
	return "{" + strings.Join(parts, " ") + "}"
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

func expectEvents(t *testing.T, who string, got []event, want ...string) {
	t.Helper()
	if g, w := summary(got), strings.Join(want, "\n"); g != w {
		t.Errorf("%s received:\n%s\nwant:\n%s", who, g, w)
	}
}

// Two users, the anon key and the service key on a table protected by RLS
// (owner = auth.uid()): each user receives their own rows, anon none, the
// service role all; the column clients may not SELECT never arrives; a
// DELETE reaches every subscriber with the primary key only.
func TestAuthzRowLevelSecurity(t *testing.T) {
	t.Parallel()
	p := startProject(t)
	u1 := p.client(t, p.anonKey, p.u1, "notes", "open")
	u2 := p.client(t, p.anonKey, p.u2, "notes", "open")
	anon := p.client(t, p.anonKey, "", "notes", "open")
	service := p.client(t, p.serviceKey, "", "notes", "open")

	exec1(t, p.db, fmt.Sprintf(`INSERT INTO notes VALUES (1, '%s', 'one', 's1'); INSERT INTO notes VALUES (2, '%s', 'two', 's2');
UPDATE notes SET body = 'one!' WHERE id = 1; INSERT INTO open VALUES (100, 'marker')`, user1, user2))
	expectEvents(t, "user 1", u1.until(100),
		"notes INSERT new={body:one id:1 owner:11111111} old={}",
		"notes UPDATE new={body:one! id:1 owner:11111111} old={body:one id:1 owner:11111111}")
	expectEvents(t, "user 2", u2.until(100),
		"notes INSERT new={body:two id:2 owner:22222222} old={}")
	expectEvents(t, "anon", anon.until(100))
	expectEvents(t, "service_role", service.until(100),
		"notes INSERT new={body:one id:1 owner:11111111 secret:s1} old={}",
		"notes INSERT new={body:two id:2 owner:22222222 secret:s2} old={}",
		"notes UPDATE new={body:one! id:1 owner:11111111 secret:s1} old={body:one id:1 owner:11111111 secret:s1}")

	// RLS cannot be asked about a deleted row: every subscriber gets the
	// DELETE, with the primary key only (the table is REPLICA IDENTITY FULL).
	exec1(t, p.db, `DELETE FROM notes WHERE id = 2; INSERT INTO open VALUES (101, 'marker')`)
	for who, c := range map[string]*nodeClient{"user 1": u1, "user 2": u2, "anon": anon, "service_role": service} {
		expectEvents(t, who, c.until(101), "notes DELETE new={} old={id:2}")
	}

	// An UPDATE that hands a row from user 1 to user 2 reaches user 2 only:
	// visibility is asked as the row is now.
	exec1(t, p.db, fmt.Sprintf(`UPDATE notes SET owner = '%s' WHERE id = 1; INSERT INTO open VALUES (102, 'marker')`, user2))
	expectEvents(t, "user 1 after the handover", u1.until(102))
	if got := u2.until(102); len(got) != 1 || got[0].str("type") != "UPDATE" {
		t.Errorf("user 2 after the handover: %s", summary(got))
	}
	expectEvents(t, "anon after the handover", anon.until(102))

	// A policy change applies to the next change: no cache of policies.
	exec1(t, p.db, `CREATE POLICY everyone ON notes FOR SELECT TO anon USING (true)`)
	exec1(t, p.db, fmt.Sprintf(`INSERT INTO notes VALUES (3, '%s', 'three', 's3'); INSERT INTO open VALUES (103, 'marker')`, user1))
	expectEvents(t, "anon after the new policy", anon.until(103), "notes INSERT new={body:three id:3 owner:11111111} old={}")
}

// Tables a role may not read, or without a primary key, give the
// original's error payloads without the row; a policy that raises hides
// its rows (the channel is told once) and changes of other tables keep
// flowing; a revoked column stops arriving within a second.
func TestAuthzPrivilegesAndFailures(t *testing.T) {
	t.Parallel()
	p := startProject(t)
	u1 := p.client(t, p.anonKey, p.u1, "private", "nopk", "broken", "open")
	service := p.client(t, p.serviceKey, "", "private", "broken", "open")

	exec1(t, p.db, `INSERT INTO private VALUES (1, 'p'); INSERT INTO nopk VALUES (1, 'n'); INSERT INTO broken VALUES (1, 'b');
INSERT INTO broken VALUES (2, 'b'); INSERT INTO open VALUES (100, 'marker')`)
	got := u1.until(100)
	expectEvents(t, "user 1", got,
		"private INSERT new={} old={} errors=[Error 401: Unauthorized]",
		"nopk INSERT new={} old={} errors=[Error 400: Bad Request, no primary key]",
		"broken system error")
	for _, e := range got {
		// The policy's own error text stays in the server's log.
		if p, _ := e["payload"].(map[string]any); e.str("kind") == "system" && strings.Contains(fmt.Sprint(p["message"]), "always fails") {
			t.Errorf("the database's error reached the client: %v", p["message"])
		}
	}
	expectEvents(t, "service_role", service.until(100),
		"private INSERT new={body:p id:1} old={}",
		"broken INSERT new={body:b id:1} old={}",
		"broken INSERT new={body:b id:2} old={}")

	exec1(t, p.db, `REVOKE SELECT ON open FROM authenticated; GRANT SELECT (id) ON open TO authenticated`)
	time.Sleep(1100 * time.Millisecond) // the promise: applied to changes committed a second later
	exec1(t, p.db, `INSERT INTO open VALUES (101, 'hidden body')`)
	e := u1.expect("row 101", func(e event) bool { return e.str("kind") == "pg" && e.str("name") == "open" })
	if row, _ := e["new"].(map[string]any); row["id"] != float64(101) || len(row) != 1 {
		t.Errorf("after REVOKE of body: %v", row)
	}
}

// A token without role is refused, with the original's reason.
func TestAuthzTokenWithoutRole(t *testing.T) {
	t.Parallel()
	p := startProject(t)
	c := p.startClientKey(t, "supabase", p.anonKey)
	c.send(map[string]any{"cmd": "setAuth", "token": hs256(t, jwt.MapClaims{"sub": user1, "exp": time.Now().Add(time.Hour).Unix()}, jwtSecret)})
	c.expect("auth", func(e event) bool { return e.str("kind") == "auth" })
	c.send(map[string]any{"cmd": "subscribe", "name": "notes", "bindings": []any{map[string]any{"event": "*", "schema": "public", "table": "notes"}}})
	e := c.expect("refusal", func(e event) bool { return e.str("kind") == "status" })
	if e.str("status") != "CHANNEL_ERROR" || !strings.Contains(e.str("error"), "Fields `role` and `exp` are required in JWT") {
		t.Fatalf("join with a token without role: %v", e)
	}
}

// An access_token refresh re-evaluates the channel's rights: after
// switching from user 1's token to user 2's, the channel receives user 2's
// rows and no longer user 1's.
func TestAuthzRefreshReevaluates(t *testing.T) {
	t.Parallel()
	p := startProject(t)
	c := p.startClientKey(t, "2119", p.anonKey)
	c.send(map[string]any{"cmd": "setAuth", "token": p.u1})
	c.expect("auth", func(e event) bool { return e.str("kind") == "auth" })
	for _, table := range []string{"notes", "open"} {
		c.subscribed(map[string]any{"name": table, "bindings": []any{map[string]any{"event": "INSERT", "schema": "public", "table": table}}})
	}
	exec1(t, p.db, fmt.Sprintf(`INSERT INTO notes VALUES (1, '%s', 'a', 's'), (2, '%s', 'b', 's'); INSERT INTO open VALUES (100, 'marker')`, user1, user2))
	expectEvents(t, "as user 1", c.until(100), "notes INSERT new={body:a id:1 owner:11111111} old={}")
	c.send(map[string]any{"cmd": "setAuth", "token": p.u2})
	c.expect("auth", func(e event) bool { return e.str("kind") == "auth" })
	// realtime-js pushes access_token without waiting for a reply: give
	// the gateway the moment it needs to read it before the next commit.
	time.Sleep(300 * time.Millisecond)
	exec1(t, p.db, fmt.Sprintf(`INSERT INTO notes VALUES (3, '%s', 'c', 's'), (4, '%s', 'd', 's'); INSERT INTO open VALUES (101, 'marker')`, user1, user2))
	expectEvents(t, "as user 2", c.until(101), "notes INSERT new={body:d id:4 owner:22222222} old={}")
}

// A gateway whose database user may not act as the token's role refuses
// the join with the GRANT to run; after it, the join succeeds.
func TestAuthzGatewayUserNeedsRoleMembership(t *testing.T) {
	t.Parallel()
	db := database(t, harness.NotesSchema+`
DO $$ BEGIN CREATE ROLE realtime_gw LOGIN REPLICATION; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;`)
	g := startGateway(t, db, "SECURE_CHANNELS=true", "JWT_SECRET="+jwtSecret, "DB_USER=realtime_gw")
	token := hs256(t, jwt.MapClaims{"role": "authenticated", "sub": user1, "exp": time.Now().Add(time.Hour).Unix()}, jwtSecret)
	c := g.startClientKey(t, "2119", token)
	sub := map[string]any{"cmd": "subscribe", "name": "notes", "bindings": []any{map[string]any{"event": "*", "schema": "public", "table": "notes"}}}
	c.send(sub)
	e := c.expect("refusal", func(e event) bool { return e.str("kind") == "status" })
	if e.str("status") != "CHANNEL_ERROR" || !strings.Contains(e.str("error"), "GRANT authenticated TO realtime_gw") {
		t.Fatalf("join through a gateway user without the role: %v", e)
	}
	exec1(t, db, "GRANT authenticated TO realtime_gw")
	c2 := g.startClientKey(t, "2119", token)
	c2.subscribed(map[string]any{"name": "notes", "bindings": []any{map[string]any{"event": "*", "schema": "public", "table": "notes"}}})
	exec1(t, db, fmt.Sprintf(`INSERT INTO notes VALUES (1, '%s', 'mine', 's')`, user1))
	c2.expect("the user's row", func(e event) bool {
		row, _ := e["new"].(map[string]any)
		return e.str("kind") == "pg" && row["body"] == "mine"
	})
}

// In a cluster every gateway checks its own subscribers: a user on a node
// that does not hold the slot receives its own rows and no one else's.
func TestAuthzCluster(t *testing.T) {
	t.Parallel()
	db := database(t, harness.NotesSchema)
	nodes, holder := startCluster(t, db, 2, "SECURE_CHANNELS=true", "JWT_SECRET="+jwtSecret)
	other := nodes[1-holder]
	tok := func(claims jwt.MapClaims) string {
		claims["exp"] = time.Now().Add(time.Hour).Unix()
		return hs256(t, claims, jwtSecret)
	}
	p := project{gateway: other, db: db, anonKey: tok(jwt.MapClaims{"role": "anon"}),
		u1: tok(jwt.MapClaims{"role": "authenticated", "sub": user1}), u2: tok(jwt.MapClaims{"role": "authenticated", "sub": user2})}
	u1 := p.client(t, p.anonKey, p.u1, "notes", "open")
	anon := p.client(t, p.anonKey, "", "notes", "open")
	p.gateway = nodes[holder]
	u2 := p.client(t, p.anonKey, p.u2, "notes", "open")
	exec1(t, db, fmt.Sprintf(`INSERT INTO notes VALUES (1, '%s', 'one', 's1'); INSERT INTO notes VALUES (2, '%s', 'two', 's2');
INSERT INTO open VALUES (100, 'marker')`, user1, user2))
	expectEvents(t, "user 1 on the other node", u1.until(100), "notes INSERT new={body:one id:1 owner:11111111} old={}")
	expectEvents(t, "user 2 on the slot holder", u2.until(100), "notes INSERT new={body:two id:2 owner:22222222} old={}")
	expectEvents(t, "anon on the other node", anon.until(100))
}
