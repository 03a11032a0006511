package e2e

import (
	"maps"
	"testing"
)

// TestV1ColumnTypes: record values are PostgreSQL's text output as JSON
// strings (timestamps rewritten to ISO UTC), with the type names and
// modifiers of protocol/v1.md 3.2. An UPDATE that leaves a TOASTed value
// alone still carries it in record, filled from the full old row.
func TestV1ColumnTypes(t *testing.T) {
	t.Parallel()
	db, gw := setup(t, `
		CREATE TABLE public.kinds (
			id int8 PRIMARY KEY,
			i2 int2, i4 int4, i8 int8, num numeric(10,2), f8 float8, b bool,
			t text, vc varchar(20), u uuid, j json, jb jsonb,
			ts timestamp, tstz timestamptz, d date,
			ai int4[], at text[], by bytea,
			nothing text, big text, label text
		);
		ALTER TABLE public.kinds REPLICA IDENTITY FULL;`)
	const topic = "realtime:public:kinds"
	c := gw.startClient(t, "types", clientConfig{Channels: []channel{{Topic: topic, Events: []string{"*"}}}})
	c.joined(t, topic)

	// big: 128 kB of md5 hex, far past the 2 kB TOAST threshold and too
	// random for pglz, so it is stored out of line.
	db.exec(t, `INSERT INTO public.kinds VALUES (1,
		42, -7, 9007199254740993, 12.5, 1.5, true,
		'hello, wörld', 'short', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"a":1,  "b":[1,2]}', '{"b": [1,2], "a": 1}',
		'2021-02-16 23:47:47.51613', '2021-02-17 01:47:47.51613+02', '2021-02-16',
		'{1,2,3}', ARRAY['a', 'b c', NULL], '\x0102',
		NULL, (SELECT string_agg(md5(i::text), '') FROM generate_series(1, 4000) i), 'first')`)
	var big string
	var toastBytes int64
	db.queryRow(t, []any{&big, &toastBytes}, `SELECT k.big, pg_relation_size(c.reltoastrelid)
		FROM public.kinds k, pg_class c WHERE c.oid = 'public.kinds'::regclass AND k.id = 1`)
	if len(big) < 100_000 || toastBytes == 0 {
		t.Fatalf("big is %d bytes, TOAST relation %d bytes: want >= 100 kB stored out of line", len(big), toastBytes)
	}

	want := row(
		"id", "1",
		"i2", "42",
		"i4", "-7",
		"i8", "9007199254740993",
		"num", "12.50",
		"f8", "1.5",
		"b", "t",
		"t", "hello, wörld",
		"vc", "short",
		"u", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
		"j", `{"a":1,  "b":[1,2]}`, // json keeps its input text
		"jb", `{"a": 1, "b": [1, 2]}`, // jsonb in PostgreSQL's output style
		"ts", "2021-02-16T23:47:47.51613Z",
		"tstz", "2021-02-16T23:47:47.51613Z", // the server's time zone is UTC
		"d", "2021-02-16",
		"ai", "{1,2,3}",
		"at", `{a,"b c",NULL}`,
		"by", `\x0102`,
		"nothing", nil,
		"big", big,
		"label", "first",
	)
	columns := []map[string]any{
		col("id", "int8", noMod, true),
		col("i2", "int2", noMod, true),
		col("i4", "int4", noMod, true),
		col("i8", "int8", noMod, true),
		col("num", "numeric", (10<<16|2)+4, true),
		col("f8", "float8", noMod, true),
		col("b", "bool", noMod, true),
		col("t", "text", noMod, true),
		col("vc", "varchar", 20+4, true),
		col("u", "uuid", noMod, true),
		col("j", "json", noMod, true),
		col("jb", "jsonb", noMod, true),
		col("ts", "timestamp", noMod, true),
		col("tstz", "timestamptz", noMod, true),
		col("d", "date", noMod, true),
		col("ai", "_int4", noMod, true),
		col("at", "_text", noMod, true),
		col("by", "bytea", noMod, true),
		col("nothing", "text", noMod, true),
		col("big", "text", noMod, true),
		col("label", "text", noMod, true),
	}

	ins := c.expect(t, "the INSERT", waitChange, isEvent(topic, "INSERT", nil)).change(t)
	checkChange(t, ins, "INSERT", "public", "kinds")
	checkColumns(t, ins.Columns, columns)
	checkRecord(t, "INSERT record", ins.Record, want)

	// Only label changes: PostgreSQL sends big as unchanged TOAST in the new
	// row, and in full in the old row (REPLICA IDENTITY FULL).
	db.exec(t, `UPDATE public.kinds SET label = 'second' WHERE id = 1`)
	upd := c.expect(t, "the UPDATE", waitChange, isEvent(topic, "UPDATE", nil)).change(t)
	checkChange(t, upd, "UPDATE", "public", "kinds")
	checkColumns(t, upd.Columns, columns)
	updated := maps.Clone(want)
	updated["label"] = "second"
	checkRecord(t, "UPDATE record", upd.Record, updated)
	checkRecord(t, "UPDATE old_record", upd.OldRecord, want)
}
