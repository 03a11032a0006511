package gateway

import (
	"fmt"
	"io"
	"log/slog"
	"testing"

	"github.com/pgrealtime/realtime/filters"
	"github.com/pgrealtime/realtime/phoenix"
)

// benchConns makes n sockets without a network: routing appends to their
// queues, which the benchmark empties between rounds.
func benchConns(b testing.TB, n int, codec phoenix.Codec) (*Server, []*conn) {
	b.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	hub := NewHub(HubOptions{Logger: log})
	srv, err := NewServer(Options{Logger: log, OutboundQueueBytes: 1 << 30}, hub, nil)
	if err != nil {
		b.Fatal(err)
	}
	conns := make([]*conn, n)
	for i := range conns {
		conns[i] = newConn(srv, uint64(i), nil, codec, "")
		// No socket behind it: the benchmark empties the queues itself.
		conns[i].writing = true
	}
	return srv, conns
}

func emptyQueues(conns []*conn) {
	for _, c := range conns {
		c.mu.Lock()
		c.queue, c.queued = c.queue[:0], 0
		c.mu.Unlock()
	}
}

// BenchmarkFanOut10kSockets routes one change to 10,000 sockets joined to
// its table topic: the payload is rendered once and the frame once.
func BenchmarkFanOut10kSockets(b *testing.B) {
	srv, conns := benchConns(b, 10_000, phoenix.V1)
	t, _ := filters.ParseTopic("realtime:public:service")
	for _, c := range conns {
		srv.hub.topics.Add(t, c)
	}
	batch := serviceUpdate("1", "1", "2")
	b.ReportAllocs()
	for b.Loop() {
		srv.hub.Route(batch)
		emptyQueues(conns)
	}
}

// BenchmarkRouteFiltered routes changes to 100,000 eq-filter subscriptions
// of which one matches: the index, not a scan, finds it.
func BenchmarkRouteFiltered100kSubscriptions(b *testing.B) {
	srv, conns := benchConns(b, 1000, phoenix.V1)
	for i := range 100_000 {
		t, _ := filters.ParseTopic(fmt.Sprintf("realtime:public:service:id=eq.%d", i))
		srv.hub.topics.Add(t, conns[i%len(conns)])
	}
	batch := serviceUpdate("4242", "1", "2")
	b.ReportAllocs()
	for b.Loop() {
		srv.hub.Route(batch)
		emptyQueues(conns[4242%len(conns) : 4242%len(conns)+1])
	}
}

// BenchmarkFanOut10kChanges routes one change to 10,000 sockets, each with
// a postgres_changes channel of the same name on its table (as supabase-js
// apps join): next to BenchmarkFanOut10kSockets, the topic path.
func BenchmarkFanOut10kChanges(b *testing.B) {
	benchChangesFanOut(b, func(int) string { return "realtime:board" })
}

// BenchmarkFanOut10kChangesDistinctTopics: the same with every channel
// named differently (realtime-bench's shape), so frames differ by topic.
func BenchmarkFanOut10kChangesDistinctTopics(b *testing.B) {
	benchChangesFanOut(b, func(i int) string { return fmt.Sprintf("realtime:board-%d", i) })
}

func benchChangesFanOut(b *testing.B, name func(int) string) {
	srv, conns := benchConns(b, 10_000, phoenix.V1)
	for i, c := range conns {
		bd, err := filters.ParseBinding([]byte(`{"event":"*","schema":"public","table":"service"}`))
		if err != nil {
			b.Fatal(err)
		}
		ch := &channel{name: name(i), joinRef: "1"}
		s := newChangesSub(c, ch, ch.name, bd)
		ch.subs = []*changesSub{s}
		srv.hub.changes.Add(s.b, s)
	}
	batch := serviceUpdate("1", "1", "2")
	b.ReportAllocs()
	for b.Loop() {
		srv.hub.Route(batch)
		emptyQueues(conns)
	}
}
