// Package payload renders a decoded row change (replication.Change) as
// the JSON payloads clients receive. There are two, named by what they
// are rather than by version number, because "v1" and "v2" already name
// the Phoenix serializers (vsn 1.0.0 and 2.0.0), which are a different
// thing: either payload travels in either serializer's frame.
//
//   - The topic payload (AppendTopic, TopicColumns): what a realtime-js 1.x
//     client joined to a topic such as realtime:public:todos receives,
//     the original's STREAM-mode record. Values are PostgreSQL's text
//     (timestamps rewritten to ISO 8601), columns carry flags and
//     type_modifier, commit_timestamp has microseconds.
//   - The changes payload (AppendChanges): the "data" object of a
//     postgres_changes event for a channel joined with a config. Values
//     are typed JSON as to_jsonb gives them (numbers, booleans, nested
//     JSON, arrays parsed from PostgreSQL's array literals), columns are
//     {name, type}, commit_timestamp has milliseconds.
//
// The ...For variants render a change as an authz.View sees it (columns
// the role may not SELECT left out, a DELETE on a table with RLS reduced
// to its key); the ...Refused variants render the original's payload
// without the row (Error 401 or 400). TopicRow is the row topic filters
// are matched against, with values as the topic payload shows them.
//
// A row inserted into realtime.messages is not a change for subscribers
// but a broadcast from the database: ParseBroadcast reads it and
// RenderBroadcast makes its frames (JSON for either serializer, the binary
// user-broadcast frame for vsn 2.0.0), live or marked replayed.
//
// Rendering appends to a caller's buffer and allocates nothing when the
// buffer is large enough (BenchmarkRenderTopic, BenchmarkRenderChanges);
// the hub renders each change once per format and view and shares the
// bytes among sockets (Shared does it for postgres_changes). Every function
// is pure: safe for concurrent use, no goroutines, no state; Shared is the
// one stateful type, owned by the routing goroutine. The golden files in testdata/ pin the exact
// frames; regenerate them with go test -run TestGoldenFrames -update.
package payload
