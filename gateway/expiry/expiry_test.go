package expiry

import (
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// fired records what a Set's callback was handed, and when.
type fired struct {
	mu  sync.Mutex
	got []string
	at  []time.Time
}

func (f *fired) due(keys []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	slices.Sort(keys)
	for _, k := range keys {
		f.got = append(f.got, k)
		f.at = append(f.at, time.Now())
	}
}

func (f *fired) keys() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.got)
}

// Each key fires once, at its own time, with one timer re-armed for the
// next; keys due at the same instant fire together.
func TestSetFiresEachKeyAtItsTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var f fired
		s := New(f.due)
		t.Cleanup(s.Stop)
		start := time.Now()
		s.Track("late", start.Add(3*time.Second))
		s.Track("b", start.Add(time.Second))
		s.Track("a", start.Add(time.Second))
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if got := f.keys(); !slices.Equal(got, []string{"a", "b"}) {
			t.Fatalf("after 2s fired %v, want [a b]", got)
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if got := f.keys(); !slices.Equal(got, []string{"a", "b", "late"}) {
			t.Fatalf("after 4s fired %v, want [a b late]", got)
		}
		want := []time.Time{start.Add(time.Second), start.Add(time.Second), start.Add(3 * time.Second)}
		if !slices.EqualFunc(f.at, want, time.Time.Equal) {
			t.Fatalf("fired at %v, want %v", f.at, want)
		}
	})
}

// Moving a key's time later (a refreshed token) or untracking it means it
// does not fire at its old time.
func TestSetTrackMovesAndUntrackForgets(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var f fired
		s := New(f.due)
		t.Cleanup(s.Stop)
		start := time.Now()
		s.Track("moved", start.Add(time.Second))
		s.Track("gone", start.Add(time.Second))
		s.Track("moved", start.Add(5*time.Second))
		s.Untrack("gone")
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if got := f.keys(); len(got) != 0 {
			t.Fatalf("fired %v before the moved time", got)
		}
		time.Sleep(4 * time.Second)
		synctest.Wait()
		if got := f.keys(); !slices.Equal(got, []string{"moved"}) {
			t.Fatalf("fired %v, want [moved]", got)
		}
	})
}

// After Stop nothing fires, and the callback may untrack from its own
// goroutine without deadlocking.
func TestSetStopAndCallbackUntrack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var s *Set[string]
		var f fired
		s = New(func(keys []string) {
			for _, k := range keys {
				s.Untrack(k)
			}
			f.due(keys)
		})
		s.Track("x", time.Now().Add(time.Second))
		time.Sleep(time.Second)
		synctest.Wait()
		if got := f.keys(); !slices.Equal(got, []string{"x"}) {
			t.Fatalf("fired %v, want [x]", got)
		}
		s.Track("y", time.Now().Add(time.Second))
		s.Stop()
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if got := f.keys(); !slices.Equal(got, []string{"x"}) {
			t.Fatalf("fired %v after Stop, want [x]", got)
		}
	})
}
