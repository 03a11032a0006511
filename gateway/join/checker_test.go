package join

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"testing"
	"testing/synctest"
	"time"

	"github.com/pgrealtime/realtime/filters"
	"github.com/pgrealtime/realtime/replication"
)

// fakeCatalog answers from its tables ("schema.table"); err answers every
// question with an error. Its first slot exists once live is closed.
type fakeCatalog struct {
	tables map[string]replication.TableInfo
	err    error
	asked  int
	live   chan struct{}
}

func (f *fakeCatalog) WaitLive(ctx context.Context) error {
	select {
	case <-f.live:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (f *fakeCatalog) Table(_ context.Context, schema, table string) (replication.TableInfo, error) {
	f.asked++
	if f.err != nil {
		return replication.TableInfo{}, f.err
	}
	return f.tables[schema+"."+table], nil
}

func newFakeChecker() (*Checker, *fakeCatalog) {
	cols := []replication.Column{{Name: "id", Type: "int8"}, {Name: "title", Type: "text"}}
	cat := &fakeCatalog{live: make(chan struct{}), tables: map[string]replication.TableInfo{
		"public.todos":    {Exists: true, Columns: cols, InPublication: true},
		"public.unlisted": {Exists: true, Columns: cols},
	}}
	return NewChecker(cat, []string{"supabase_realtime", "extra"}, slog.New(slog.DiscardHandler)), cat
}

// TestCheckerTopic pins the reasons a table topic is refused with: they
// say what is missing and how to fix it.
func TestCheckerTopic(t *testing.T) {
	k, cat := newFakeChecker()
	for _, tc := range []struct {
		topic, want string
	}{
		{"realtime:public:todos", ""},
		{"realtime:public:todos:id=eq.1", ""},
		{"realtime:public", ""},
		{"realtime:*", ""},
		{"realtime:public:nope", "table public.nope does not exist"},
		{"realtime:public:todos:done=eq.true", `column "done" does not exist in table public.todos`},
		{"realtime:public:unlisted", "table public.unlisted is not in publication supabase_realtime, extra, so no change of it is replicated: run ALTER PUBLICATION supabase_realtime ADD TABLE public.unlisted;"},
	} {
		top, err := filters.ParseTopic(tc.topic)
		if err != nil {
			t.Fatalf("ParseTopic(%q): %v", tc.topic, err)
		}
		got := ""
		if r := k.Topic(top); r != nil {
			if r.code != codeUndeliverable {
				t.Errorf("Topic(%q) code = %v, want %v", tc.topic, r.code, codeUndeliverable)
			}
			got = r.Reason()
		}
		if got != tc.want {
			t.Errorf("Topic(%q) = %q, want %q", tc.topic, got, tc.want)
		}
	}
	if cat.asked != 5 {
		t.Errorf("catalog asked %d times, want 5: a topic without one table is not looked up", cat.asked)
	}
}

// TestCheckerBinding pins the errors a binding reports after the join.
func TestCheckerBinding(t *testing.T) {
	k, _ := newFakeChecker()
	for _, tc := range []struct {
		entry, want string
	}{
		{`{"event":"*","schema":"public","table":"todos"}`, ""},
		{`{"event":"*","schema":"public","table":"todos","filter":"id=eq.7"}`, ""},
		{`{"event":"*","schema":"*"}`, ""},
		{`{"event":"*","schema":"public","table":"*"}`, ""},
		{`{"event":"*","schema":"public","table":"nope"}`, "table public.nope does not exist"},
		{`{"event":"*","schema":"public","table":"todos","select":["id","done"]}`, "invalid column in select: done does not exist in public.todos"},
		{`{"event":"*","schema":"public","table":"todos","filter":"done=eq.true"}`, "invalid column for filter done: column does not exist in public.todos"},
		{`{"event":"*","schema":"public","table":"todos","filter":"id=eq.seven"}`, `invalid filter value: value "seven" of column "id" cannot be cast to its type int8`},
		{`{"event":"*","schema":"public","table":"unlisted"}`, "table public.unlisted is not in publication supabase_realtime, extra, so no change of it is replicated: run ALTER PUBLICATION supabase_realtime ADD TABLE public.unlisted;"},
	} {
		b, err := filters.ParseBinding(json.RawMessage(tc.entry))
		if err != nil {
			t.Fatalf("ParseBinding(%s): %v", tc.entry, err)
		}
		got := k.Binding(b)
		if got != tc.want {
			t.Errorf("Binding(%s) = %q, want %q", tc.entry, got, tc.want)
		}
	}
}

// A catalog that cannot answer, or none, never refuses: a join does not
// fail because the database is briefly unreachable.
func TestCheckerWithoutCatalog(t *testing.T) {
	down := NewChecker(&fakeCatalog{err: errors.New("connection refused")}, []string{"supabase_realtime"}, slog.New(slog.DiscardHandler))
	none := NewChecker(nil, []string{"supabase_realtime"}, slog.New(slog.DiscardHandler))
	top, _ := filters.ParseTopic("realtime:public:nope")
	b, _ := filters.ParseBinding(json.RawMessage(`{"event":"*","schema":"public","table":"nope"}`))
	for name, k := range map[string]*Checker{"down": down, "none": none} {
		if r := k.Topic(top); r != nil {
			t.Errorf("%s: Topic = %q, want nil", name, r.Reason())
		}
		if got := k.Binding(b); got != "" {
			t.Errorf("%s: Binding = %q, want \"\"", name, got)
		}
	}
}

// A join waits for the first slot up to its bound, and is refused as the
// original refuses it if the slot is not there by then.
func TestCheckerFirstSlot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k, cat := newFakeChecker()
		start := time.Now()
		r := k.FirstSlot(8 * time.Second)
		if r == nil || r.code != codeInitializing || time.Since(start) != 8*time.Second {
			t.Fatalf("FirstSlot before the slot = %v after %v, want initializing after 8s", r, time.Since(start))
		}
		go func() {
			time.Sleep(time.Second)
			close(cat.live)
		}()
		start = time.Now()
		if r := k.FirstSlot(8 * time.Second); r != nil || time.Since(start) != time.Second {
			t.Fatalf("FirstSlot = %v after %v, want nil once the slot exists (1s)", r, time.Since(start))
		}
		if r := NewChecker(nil, nil, nil).FirstSlot(time.Second); r != nil || time.Since(start) != time.Second {
			t.Fatalf("FirstSlot without a catalog = %v, want nil at once", r)
		}
	})
}
