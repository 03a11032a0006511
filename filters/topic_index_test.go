package filters

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

type row [][2]string // name, text; text "\x00" = NULL

func (r row) Len() int { return len(r) }
func (r row) Column(i int) (string, string, bool) {
	return r[i][0], r[i][1], r[i][1] != "\x00"
}

func mustTopic(t testing.TB, s string) Topic {
	tp, err := ParseTopic(s)
	if err != nil {
		t.Fatal(err)
	}
	return tp
}

func matched(ix *TopicIndex[string], schema, table string, r Row) []string {
	var got []string
	ix.Match(schema, table, r, func(s *Subscribers[string]) {
		s.Each(func(sub string) { got = append(got, s.Topic.Name+"@"+sub) })
	})
	return got
}

func TestMatchOrderAndFilters(t *testing.T) {
	ix := NewTopicIndex[string]()
	for _, s := range []string{
		"realtime:public:service:status_id=eq.2",
		"realtime:public:service:status_id=eq.1",
		"realtime:public:service",
		"realtime:*",
		"realtime:public",
		"realtime:public:*",
		"realtime:public:status",
		"realtime:other",
	} {
		ix.Add(mustTopic(t, s), "a")
	}
	ix.Add(mustTopic(t, "realtime:public:service:status_id=eq.2"), "b")
	r := row{{"id", "1"}, {"name", "Reboque"}, {"status_id", "2"}}
	got := matched(ix, "public", "service", r)
	want := []string{
		"realtime:public@a", "realtime:*@a", "realtime:public:*@a", "realtime:public:service@a",
		"realtime:public:service:status_id=eq.2@a", "realtime:public:service:status_id=eq.2@b",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Match = %v\nwant   %v", got, want)
	}
	// TRUNCATE has no row: no column topics.
	got = matched(ix, "public", "service", nil)
	if len(got) != 4 {
		t.Fatalf("Match(nil row) = %v", got)
	}
}

func TestMatchNullAndLongValues(t *testing.T) {
	ix := NewTopicIndex[string]()
	long := strings.Repeat("x", 100)
	almost := strings.Repeat("é", 99) // 99 characters, 198 bytes
	// ParseTopic refuses such a topic; the index still never matches it.
	longTopic := mustTopic(t, "realtime:public:t:a=eq.x")
	longTopic.Name, longTopic.Value = "realtime:public:t:a=eq."+long, long
	ix.Add(longTopic, "long")
	ix.Add(mustTopic(t, "realtime:public:t:b=eq."+almost), "almost")
	ix.Add(mustTopic(t, "realtime:public:t:c=eq."), "empty")
	got := matched(ix, "public", "t", row{{"a", long}, {"b", almost}, {"c", "\x00"}})
	if !reflect.DeepEqual(got, []string{"realtime:public:t:b=eq." + almost + "@almost"}) {
		t.Fatalf("Match = %v", got)
	}
	got = matched(ix, "public", "t", row{{"c", ""}})
	if len(got) != 1 {
		t.Fatalf("empty string value should match eq.: %v", got)
	}
}

func TestRemove(t *testing.T) {
	ix := NewTopicIndex[string]()
	tp := mustTopic(t, "realtime:public:t:id=eq.1")
	ix.Add(tp, "a")
	ix.Add(tp, "b")
	ix.Add(tp, "a")
	ix.Add(mustTopic(t, "realtime:public:t"), "a")
	ix.Remove(tp.Name, "a")
	ix.Remove(tp.Name, "zzz")
	if got := matched(ix, "public", "t", row{{"id", "1"}}); !reflect.DeepEqual(got, []string{"realtime:public:t@a", tp.Name + "@b"}) {
		t.Fatalf("after remove: %v", got)
	}
	ix.Remove(tp.Name, "b")
	ix.Remove("realtime:public:t", "a")
	if ix.Topics() != 0 || len(ix.tables) != 0 {
		t.Fatalf("index not empty: %d topics, %d tables", ix.Topics(), len(ix.tables))
	}
}

func BenchmarkMatch100kSubscriptions(b *testing.B) {
	ix := NewTopicIndex[int]()
	for i := range 100_000 {
		ix.Add(mustTopic(b, fmt.Sprintf("realtime:public:t%d:id=eq.%d", i%100, i)), i)
	}
	ix.Add(mustTopic(b, "realtime:public:t7"), -1)
	r := row{{"id", "4207"}, {"name", "x"}, {"status_id", "2"}}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		ix.Match("public", "t7", r, func(s *Subscribers[int]) { n += s.Len() })
	}
	if n == 0 {
		b.Fatal("nothing matched")
	}
}
