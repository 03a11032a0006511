package payload

import (
	"testing"
	"time"

	"github.com/pgrealtime/realtime/replication"
)

// BenchmarkRenderTopic and BenchmarkRenderChanges render one change of the
// seed table as the 1.x topic payload and the postgres_changes data; both
// must stay at zero allocations with a reused buffer.
func BenchmarkRenderTopic(b *testing.B) {
	rel := serviceRelation()
	ch := replication.Change{Op: replication.Update, Rel: rel, CommitTime: time.Now(),
		New: []replication.Value{text("1"), text("Reboque"), text("2")},
		Old: []replication.Value{text("1"), text("Reboque"), text("1")}}
	cols := TopicColumns(rel)
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendTopic(buf[:0], &ch, cols)
	}
}

func BenchmarkRenderChanges(b *testing.B) {
	rel := serviceRelation()
	ch := replication.Change{Op: replication.Update, Rel: rel, CommitTime: time.Now(),
		New: []replication.Value{text("1"), text("Reboque"), text("2")},
		Old: []replication.Value{text("1"), text("Reboque"), text("1")}}
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendChanges(buf[:0], &ch, nil)
	}
}
