package gateway

import (
	"fmt"
	"io"
	"log/slog"
	"testing"

	"github.com/pgrealtime/realtime/filters"
	"github.com/pgrealtime/realtime/phoenix"
	"github.com/pgrealtime/realtime/replication"
)

// benchConns makes n sockets without a network: routing queues to them,
// their writers write to one sinkTransport, and the benchmark waits for
// it to have every frame of a round. So a round is the routing and the
// hand-off to the sockets' writers, not the routing alone.
func benchConns(b testing.TB, n int, codec phoenix.Codec) (*Server, []*conn, *sinkTransport) {
	b.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	hub := NewHub(HubOptions{Logger: log})
	srv, err := NewServer(Options{Logger: log, OutboundQueueBytes: 1 << 30}, hub, nil)
	if err != nil {
		b.Fatal(err)
	}
	sink := newSinkTransport(false)
	conns := make([]*conn, n)
	for i := range conns {
		conns[i] = sinkConn(srv, uint64(i), codec, sink)
	}
	b.Cleanup(func() { stopConns(conns) })
	return srv, conns, sink
}

// routeRounds routes batch once per round and waits until the sockets'
// writers have written perRound frames, then checks they wrote no more.
// A first round before the timer grows every socket's queue and starts
// its writer, which then lingers from round to round: the figures are the
// steady state, whatever the number of rounds.
func routeRounds(b *testing.B, srv *Server, sink *sinkTransport, batch replication.Batch, perRound int64) {
	srv.hub.Route(batch)
	want := perRound
	sink.waitFor(want)
	b.ReportAllocs()
	for b.Loop() {
		srv.hub.Route(batch)
		want += perRound
		sink.waitFor(want)
	}
	if got := sink.frames.Load(); got != want {
		b.Fatalf("%d frames written, want %d", got, want)
	}
}

// BenchmarkFanOut10kSockets routes one change to 10,000 sockets joined to
// its table topic: the payload is rendered once and the frame once.
func BenchmarkFanOut10kSockets(b *testing.B) {
	srv, conns, sink := benchConns(b, 10_000, phoenix.V1)
	t, _ := filters.ParseTopic("realtime:public:service")
	for _, c := range conns {
		srv.hub.topics.Add(t, c)
	}
	routeRounds(b, srv, sink, serviceUpdate("1", "1", "2"), int64(len(conns)))
}

// BenchmarkRouteFiltered routes changes to 100,000 eq-filter subscriptions
// of which one matches: the index, not a scan, finds it.
func BenchmarkRouteFiltered100kSubscriptions(b *testing.B) {
	srv, conns, sink := benchConns(b, 1000, phoenix.V1)
	for i := range 100_000 {
		t, _ := filters.ParseTopic(fmt.Sprintf("realtime:public:service:id=eq.%d", i))
		srv.hub.topics.Add(t, conns[i%len(conns)])
	}
	routeRounds(b, srv, sink, serviceUpdate("4242", "1", "2"), 1)
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
	srv, conns, sink := benchConns(b, 10_000, phoenix.V1)
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
	routeRounds(b, srv, sink, serviceUpdate("1", "1", "2"), int64(len(conns)))
}
