package cluster

import (
	"slices"
	"testing"

	"github.com/pgrealtime/realtime/filters"
)

// A subscription without a table wants the whole schema, and a room wants
// the realtime schema too, where the database's broadcasts arrive.
func TestInterestTablesAndRoom(t *testing.T) {
	var in Interest
	in.AddTable("public", "todos")
	in.AddTable("public", "")
	in.SetRoom(RoomRef{Private: true, Topic: "realtime:room1"})
	want := []TableRef{{"public", "todos"}, {"public", filters.Wildcard}, {"realtime", filters.Wildcard}}
	if !slices.Equal(in.Tables, want) {
		t.Fatalf("Tables = %v, want %v", in.Tables, want)
	}
	if in.Room == nil || *in.Room != (RoomRef{Private: true, Topic: "realtime:room1"}) {
		t.Fatalf("Room = %v", in.Room)
	}
}
