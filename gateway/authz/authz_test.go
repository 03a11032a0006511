package authz

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/goleak"

	"github.com/pgrealtime/realtime/test/harness"
	"github.com/pgrealtime/realtime/test/localpg"
)

var suite localpg.Suite

// TestMain runs the tests on the package's PostgreSQL and then fails the
// run when a test left a goroutine behind (a pool or stream not closed).
func TestMain(m *testing.M) {
	code := localpg.Main(m, &suite)
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goroutines left running after the tests: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

const (
	user1 = "11111111-1111-1111-1111-111111111111"
	user2 = "22222222-2222-2222-2222-222222222222"
)

// started returns an Authorizer on a fresh Supabase-like database, its
// refresher running until the test ends.
func started(t *testing.T, extra string) (*Authorizer, string) {
	t.Helper()
	db := harness.Database(t, &suite, harness.NotesSchema+extra)
	return startOn(t, db), db
}

func startOnB(b *testing.B, db string) *Authorizer { return startOn(b, db) }

func harnessExec(b *testing.B, db string) { harness.Exec(b, db, harness.NotesSchema) }

func viewB(b *testing.B, a *Authorizer, role, table string) *View { return view(b, a, role, table) }

func startOn(t testing.TB, db string) *Authorizer {
	t.Helper()
	a, err := New(Config{ConnString: db, Publications: []string{"supabase_realtime"}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); a.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return a
}

func subject(t *testing.T, role, sub string) *Subject {
	t.Helper()
	claims := map[string]any{"role": role, "exp": 4102444800}
	if sub != "" {
		claims["sub"] = sub
	}
	s, err := NewSubject(claims)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func view(t testing.TB, a *Authorizer, role, table string) *View {
	t.Helper()
	if err := a.Acquire(t.Context(), role); err != nil {
		t.Fatal(err)
	}
	s, err := a.Current(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	v := s.View(role, "public", table)
	if v == nil {
		t.Fatalf("no view of %s for %s", table, role)
	}
	return v
}

// Column privileges, the key rules and RLS per role, as the catalog says.
func TestViews(t *testing.T) {
	t.Parallel()
	a, _ := started(t, "")
	for _, tc := range []struct {
		role, table   string
		rls, tableRLS bool
		err           string
		can, cannot   []string
	}{
		{"authenticated", "notes", true, true, "", []string{"id", "owner", "body"}, []string{"secret"}},
		{"anon", "notes", true, true, "", []string{"id", "owner", "body"}, []string{"secret"}},
		{"service_role", "notes", false, true, "", []string{"id", "owner", "body", "secret"}, nil},
		{"authenticated", "open", false, false, "", []string{"id", "body"}, nil},
		{"authenticated", "private", false, false, ErrUnauthorized, nil, []string{"id", "body"}},
		{"service_role", "private", false, false, "", []string{"id", "body"}, nil},
		{"anon", "nopk", false, false, ErrNoPrimaryKey, []string{"id", "body"}, nil},
	} {
		v := view(t, a, tc.role, tc.table)
		if v.RLS != tc.rls || v.TableRLS != tc.tableRLS || v.Err != tc.err {
			t.Errorf("%s on %s: RLS=%v TableRLS=%v Err=%q, want %v %v %q", tc.role, tc.table, v.RLS, v.TableRLS, v.Err, tc.rls, tc.tableRLS, tc.err)
		}
		for _, c := range tc.can {
			if !v.Can(c) {
				t.Errorf("%s cannot read %s.%s", tc.role, tc.table, c)
			}
		}
		for _, c := range tc.cannot {
			if v.Can(c) {
				t.Errorf("%s can read %s.%s", tc.role, tc.table, c)
			}
		}
	}
}

func rows(ids ...string) [][]string {
	var out [][]string
	for _, id := range ids {
		out = append(out, []string{id})
	}
	return out
}

// Each user sees their own rows, anon none; many subjects and tables in
// one call; a row that is gone is visible to nobody.
func TestCheckRLS(t *testing.T) {
	t.Parallel()
	a, db := started(t, "")
	harness.Exec(t, db, fmt.Sprintf("INSERT INTO notes VALUES (1, '%s', 'a', 's'), (2, '%s', 'b', 's'), (3, '%s', 'c', 's')", user1, user2, user1))
	harness.Exec(t, db, "INSERT INTO open VALUES (1, 'x')")
	vAuth, vAnon, vOpen := view(t, a, "authenticated", "notes"), view(t, a, "anon", "notes"), view(t, a, "authenticated", "open")
	u1, u2, anon := subject(t, "authenticated", user1), subject(t, "authenticated", user2), subject(t, "anon", "")
	all := rows("1", "2", "3", "4")
	vis, errs := a.Check(t.Context(), []Request{
		{vAuth, u1, all}, {vAuth, u2, all}, {vAnon, anon, all}, {vOpen, u1, rows("1", "2")},
	})
	want := [][]bool{{true, false, true, false}, {false, true, false, false}, {false, false, false, false}, {true, false}}
	for i := range want {
		if errs[i] != nil {
			t.Fatalf("request %d: %v", i, errs[i])
		}
		if fmt.Sprint(vis[i]) != fmt.Sprint(want[i]) {
			t.Errorf("request %d: visible %v, want %v", i, vis[i], want[i])
		}
	}
}

// Policies written for PostgREST's legacy settings read
// request.jwt.claim.sub; policies reading the claims object see every claim.
func TestCheckLegacyAndClaimSettings(t *testing.T) {
	t.Parallel()
	a, db := started(t, `
CREATE TABLE public.legacy (id bigint PRIMARY KEY, owner text, team text);
ALTER TABLE public.legacy ENABLE ROW LEVEL SECURITY;
CREATE POLICY by_sub ON public.legacy FOR SELECT TO authenticated USING (owner = current_setting('request.jwt.claim.sub', true));
CREATE POLICY by_team ON public.legacy FOR SELECT TO authenticated
  USING (team = (current_setting('request.jwt.claims', true)::jsonb -> 'app_metadata' ->> 'team') AND current_setting('request.jwt.claim.role', true) = 'authenticated');
GRANT SELECT ON public.legacy TO authenticated;`)
	harness.Exec(t, db, "INSERT INTO legacy VALUES (1, 'alice', 'x'), (2, 'bob', 'red'), (3, 'carol', 'blue')")
	v := view(t, a, "authenticated", "legacy")
	alice, err := ParseClaims([]byte(`{"role":"authenticated","exp":4102444800,"sub":"alice","app_metadata":{"team":"red"}}`))
	if err != nil {
		t.Fatal(err)
	}
	vis, errs := a.Check(t.Context(), []Request{{v, alice, rows("1", "2", "3")}})
	if errs[0] != nil || fmt.Sprint(vis[0]) != "[true true false]" {
		t.Fatalf("visible %v (%v), want [true true false]", vis[0], errs[0])
	}
}

// A policy that raises hides its rows from that subject, reports why, and
// leaves the answers for other tables in the same round intact.
func TestCheckPolicyErrorFailsClosed(t *testing.T) {
	t.Parallel()
	a, db := started(t, "")
	harness.Exec(t, db, fmt.Sprintf("INSERT INTO broken VALUES (1, 'x'); INSERT INTO notes VALUES (1, '%s', 'a', 's')", user1))
	u1 := subject(t, "authenticated", user1)
	vis, errs := a.Check(t.Context(), []Request{
		{view(t, a, "authenticated", "notes"), u1, rows("1")},
		{view(t, a, "authenticated", "broken"), u1, rows("1")},
		{view(t, a, "authenticated", "notes"), u1, rows("1")},
	})
	if errs[1] == nil || !strings.Contains(errs[1].Error(), "this policy always fails") || vis[1][0] {
		t.Fatalf("broken policy: visible=%v err=%v", vis[1], errs[1])
	}
	if errs[0] != nil || errs[2] != nil || !vis[0][0] || !vis[2][0] {
		t.Fatalf("a healthy table failed with the broken one: %v %v / %v %v", vis[0], errs[0], vis[2], errs[2])
	}
	if a.Failures.Load() != 1 {
		t.Fatalf("Failures = %d, want 1", a.Failures.Load())
	}
	// The pool is not left acting as the subscriber.
	pool, _ := a.getPool()
	var user string
	if err := pool.QueryRow(t.Context(), "SELECT current_user::text").Scan(&user); err != nil || user != "postgres" {
		t.Fatalf("pool connection acts as %q (%v)", user, err)
	}
}

// A slow policy past the timeout means not visible, within the timeout.
func TestCheckTimeoutFailsClosed(t *testing.T) {
	t.Parallel()
	db := harness.Database(t, &suite, harness.NotesSchema+`
CREATE FUNCTION public.slow() RETURNS boolean LANGUAGE sql STABLE AS 'SELECT pg_sleep(5) IS NOT NULL';
CREATE TABLE public.slow (id bigint PRIMARY KEY);
ALTER TABLE public.slow ENABLE ROW LEVEL SECURITY;
CREATE POLICY slow ON public.slow FOR SELECT TO authenticated USING (public.slow());
GRANT SELECT ON public.slow TO authenticated;
INSERT INTO public.slow VALUES (1);`)
	a, err := New(Config{ConnString: db, Publications: []string{"supabase_realtime"}, CheckTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); a.Run(ctx) }()
	defer func() { cancel(); <-done }()
	v := view(t, a, "authenticated", "slow")
	start := time.Now()
	vis, errs := a.Check(t.Context(), []Request{{v, subject(t, "authenticated", user1), rows("1")}})
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("check took %v with a 300ms timeout", took)
	}
	if errs[0] == nil || vis[0][0] {
		t.Fatalf("slow policy: visible=%v err=%v", vis[0], errs[0])
	}
}

// A GRANT, a REVOKE and ENABLE ROW LEVEL SECURITY reach the snapshot routing
// uses within a second.
func TestPrivilegeChangesApplyWithinASecond(t *testing.T) {
	t.Parallel()
	a, db := started(t, "")
	if v := view(t, a, "authenticated", "open"); !v.Can("body") || v.RLS {
		t.Fatal("open table: unexpected view before the change")
	}
	harness.Exec(t, db, "REVOKE SELECT ON public.open FROM authenticated; GRANT SELECT (id) ON public.open TO authenticated; ALTER TABLE public.open ENABLE ROW LEVEL SECURITY")
	changed := time.Now()
	for {
		s, err := a.Current(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if v := s.View("authenticated", "public", "open"); v != nil && !v.Can("body") && v.Can("id") && v.RLS {
			t.Logf("applied after %v", time.Since(changed).Round(time.Millisecond))
			return
		}
		if time.Since(changed) > time.Second {
			t.Fatal("privilege change not applied within a second")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A gateway user that is not a member of the role is told what to grant;
// a role that does not exist is named.
func TestAcquireNeedsMembership(t *testing.T) {
	t.Parallel()
	db := harness.Database(t, &suite, harness.NotesSchema+`
DO $$ BEGIN CREATE ROLE realtime_limited LOGIN; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;`)
	cfg, err := pgx.ParseConfig(db)
	if err != nil {
		t.Fatal(err)
	}
	limited := strings.Replace(db, "postgres@", "realtime_limited@", 1)
	if cfg.User != "postgres" || limited == db {
		t.Fatalf("unexpected connection string %s", db)
	}
	a := startOn(t, limited)
	err = a.Acquire(t.Context(), "authenticated")
	var re *RoleError
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "GRANT authenticated TO realtime_limited") {
		t.Fatalf("Acquire as a non-member: %v", err)
	}
	if err := a.Acquire(t.Context(), "no_such_role"); !errors.As(err, &re) || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("Acquire of a missing role: %v", err)
	}
	harness.Exec(t, db, "GRANT authenticated TO realtime_limited")
	if err := a.Acquire(t.Context(), "authenticated"); err != nil {
		t.Fatalf("after the grant: %v", err)
	}
}

// Identifiers come from the catalog and are quoted; claims are parameters:
// odd names work and hostile claims are data.
func TestCheckQuotesAndParameters(t *testing.T) {
	t.Parallel()
	a, db := started(t, `
CREATE SCHEMA "odd schema";
GRANT USAGE ON SCHEMA "odd schema" TO authenticated;
CREATE TABLE "odd schema"."Odd""Table" ("Key Col" text, n int, body text, PRIMARY KEY ("Key Col", n));
ALTER TABLE "odd schema"."Odd""Table" ENABLE ROW LEVEL SECURITY;
CREATE POLICY p ON "odd schema"."Odd""Table" FOR SELECT TO authenticated USING (body = auth.uid()::text);
GRANT SELECT ON "odd schema"."Odd""Table" TO authenticated;`)
	harness.Exec(t, db, fmt.Sprintf(`INSERT INTO "odd schema"."Odd""Table" VALUES ('a''b', 1, '%s'), ('c', 2, 'x')`, user1))
	if err := a.Acquire(t.Context(), "authenticated"); err != nil {
		t.Fatal(err)
	}
	s, _ := a.Current(t.Context())
	v := s.View("authenticated", "odd schema", `Odd"Table`)
	if v == nil {
		t.Fatal("no view of the odd table")
	}
	hostile, err := NewSubject(map[string]any{"role": "authenticated", "exp": 1, "sub": user1, "x": "'); DROP TABLE notes; --"})
	if err != nil {
		t.Fatal(err)
	}
	vis, errs := a.Check(t.Context(), []Request{{v, hostile, [][]string{{"a'b", "1"}, {"c", "2"}, {"a'b", "2"}}}})
	if errs[0] != nil || fmt.Sprint(vis[0]) != "[true false false]" {
		t.Fatalf("visible %v (%v), want [true false false]", vis[0], errs[0])
	}
	harness.Exec(t, db, "SELECT 1 FROM notes")
}

// WaitVisible waits for a transaction that is not committed yet, and
// returns once it is.
func TestWaitVisible(t *testing.T) {
	t.Parallel()
	a, db := started(t, "")
	conn, err := pgx.Connect(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	tx, err := conn.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var xid int64
	if err := tx.QueryRow(t.Context(), "SELECT txid_current() % 4294967296").Scan(&xid); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	if err := a.WaitVisible(ctx, []uint32{uint32(xid)}); err == nil {
		t.Fatal("an open transaction was reported visible")
	}
	done := make(chan error, 1)
	go func() { done <- a.WaitVisible(t.Context(), []uint32{uint32(xid)}) }()
	if err := tx.Commit(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("after commit: %v", err)
	}
}

// Many subjects on a table whose policy raises all fail at once (no round
// trip per subject), and the other table of the round is still answered.
func TestCheckManySubjectsOnBrokenPolicy(t *testing.T) {
	t.Parallel()
	a, db := started(t, "")
	harness.Exec(t, db, fmt.Sprintf("INSERT INTO broken VALUES (1, 'x'); INSERT INTO notes VALUES (1, '%s', 'a', 's')", user1))
	reqs := []Request{{view(t, a, "authenticated", "notes"), subject(t, "authenticated", user1), rows("1")}}
	vb := view(t, a, "authenticated", "broken")
	for i := range maxIsolate + 4 {
		reqs = append(reqs, Request{vb, subject(t, "authenticated", fmt.Sprintf("00000000-0000-0000-0000-%012d", i)), rows("1")})
	}
	a.Failures.Store(0)
	vis, errs := a.Check(t.Context(), reqs)
	if errs[0] != nil || !vis[0][0] {
		t.Fatalf("notes: %v %v", vis[0], errs[0])
	}
	for i := 1; i < len(reqs); i++ {
		if errs[i] == nil || vis[i][0] {
			t.Fatalf("broken request %d: %v %v", i, vis[i], errs[i])
		}
	}
}
