package e2e

import (
	"encoding/json"
	"reflect"
	"testing"
)

// anyChange matches every change frame.
func anyChange(line, change) bool { return true }

// TestV1WildcardTopic: realtime:* gets INSERT, UPDATE and DELETE of
// public.service, each once, with the payload of protocol/v1.md 3.2.
func TestV1WildcardTopic(t *testing.T) {
	t.Parallel()
	db, gw := setup(t)
	const topic = "realtime:*"
	c := gw.startClient(t, "wildcard", clientConfig{Channels: []channel{{Topic: topic, Events: []string{"*"}}}})
	c.joined(t, topic)
	since := c.mark()

	db.exec(t, `INSERT INTO public.service (name, status_id) VALUES ('Guincho', 2)`) // id 5
	db.exec(t, `UPDATE public.service SET name = 'Guincho Pesado' WHERE id = 5`)
	db.exec(t, `DELETE FROM public.service WHERE id = 5`)

	ins := c.expect(t, "the INSERT", waitChange, isEvent(topic, "INSERT", nil)).change(t)
	checkChange(t, ins, "INSERT", "public", "service")
	checkColumns(t, ins.Columns, serviceColumns)
	checkRecord(t, "INSERT record", ins.Record, row("id", "5", "name", "Guincho", "status_id", "2"))

	upd := c.expect(t, "the UPDATE", waitChange, isEvent(topic, "UPDATE", nil)).change(t)
	checkChange(t, upd, "UPDATE", "public", "service")
	checkColumns(t, upd.Columns, serviceColumns)
	checkRecord(t, "UPDATE record", upd.Record, row("id", "5", "name", "Guincho Pesado", "status_id", "2"))
	checkRecord(t, "UPDATE old_record", upd.OldRecord, row("id", "5", "name", "Guincho", "status_id", "2"))

	del := c.expect(t, "the DELETE", waitChange, isEvent(topic, "DELETE", nil)).change(t)
	checkChange(t, del, "DELETE", "public", "service")
	checkColumns(t, del.Columns, serviceColumns)
	checkRecord(t, "DELETE old_record", del.OldRecord, row("id", "5", "name", "Guincho Pesado", "status_id", "2"))

	if i, u, d := commitTime(t, ins), commitTime(t, upd), commitTime(t, del); u.Before(i) || d.Before(u) {
		t.Errorf("commit timestamps out of order: %s, %s, %s", ins.CommitTimestamp, upd.CommitTimestamp, del.CommitTimestamp)
	}

	// On the wire: one message per change, event = type, ref null.
	c.expect(t, "the DELETE frame", waitChange, isFrame(topic, "DELETE"))
	c.noMessage(t, "a change after the DELETE", c.mark(), quiet, isChange(anyChange))
	frames := c.all(since, isChange(anyChange))
	var events []string
	for _, f := range frames {
		events = append(events, f.Event)
		if f.Topic != topic || string(f.Ref) != "null" {
			t.Errorf("frame topic %q ref %s, want %q and null: %v", f.Topic, f.Ref, topic, f)
		}
	}
	if want := []string{"INSERT", "UPDATE", "DELETE"}; !reflect.DeepEqual(events, want) {
		t.Errorf("change frames = %v, want %v", events, want)
	}
}

// TestV1TableTopic: realtime:public:service gets the changes of
// public.service and none of public.status.
func TestV1TableTopic(t *testing.T) {
	t.Parallel()
	db, gw := setup(t)
	const topic = "realtime:public:service"
	c := gw.startClient(t, "table", clientConfig{Channels: []channel{{Topic: topic, Events: []string{"*"}}}})
	c.joined(t, topic)
	since := c.mark()

	db.exec(t, `INSERT INTO public.status (name) VALUES ('CANCELLED')`) // id 4
	db.exec(t, `UPDATE public.status SET name = 'CANCELED' WHERE id = 4`)
	db.exec(t, `DELETE FROM public.status WHERE id = 4`)
	// Sentinels: committed after the status changes, they must arrive.
	db.exec(t, `INSERT INTO public.service (name, status_id) VALUES ('Guincho', 1)`) // id 5
	db.exec(t, `UPDATE public.service SET status_id = 2 WHERE id = 3`)
	db.exec(t, `DELETE FROM public.service WHERE id = 5`)

	for _, want := range []struct {
		event string
		check func(change)
	}{
		{"INSERT", func(ch change) {
			checkRecord(t, "INSERT record", ch.Record, row("id", "5", "name", "Guincho", "status_id", "1"))
		}},
		{"UPDATE", func(ch change) {
			checkRecord(t, "UPDATE record", ch.Record, row("id", "3", "name", "Pane Seca", "status_id", "2"))
			checkRecord(t, "UPDATE old_record", ch.OldRecord, row("id", "3", "name", "Pane Seca", "status_id", "1"))
		}},
		{"DELETE", func(ch change) {
			checkRecord(t, "DELETE old_record", ch.OldRecord, row("id", "5", "name", "Guincho", "status_id", "1"))
		}},
	} {
		ch := c.expect(t, "the service "+want.event, waitChange, isEvent(topic, want.event, nil)).change(t)
		checkChange(t, ch, want.event, "public", "service")
		want.check(ch)
	}
	c.expect(t, "the DELETE frame", waitChange, isFrame(topic, "DELETE"))
	c.noMessage(t, "a change that is not of public.service", since, quiet, isChange(func(l line, ch change) bool {
		return l.Topic != topic || ch.Table != "service"
	}))
	if n := len(c.all(since, isChange(anyChange))); n != 3 {
		t.Errorf("got %d change frames, want 3", n)
	}
}

// TestV1SeedStatusBoard is the article's app: three channels
// realtime:public:service:status_id=eq.N bound to UPDATE. Moving a job
// publishes on the topic of its new status only, once.
func TestV1SeedStatusBoard(t *testing.T) {
	t.Parallel()
	db, gw := setup(t)
	topic := func(status string) string { return "realtime:public:service:status_id=eq." + status }
	var chans []channel
	for _, s := range []string{"1", "2", "3"} {
		chans = append(chans, channel{Topic: topic(s), Events: []string{"UPDATE"}})
	}
	c := gw.startClient(t, "statusboard", clientConfig{Channels: chans})
	c.joined(t, topic("1"), topic("2"), topic("3"))
	since := c.mark()

	db.exec(t, `UPDATE public.service SET status_id = 2 WHERE id = 1`)
	moved := c.expect(t, "the move to IN_PROGRESS", waitChange, isEvent(topic("2"), "UPDATE", nil)).change(t)
	checkChange(t, moved, "UPDATE", "public", "service")
	checkColumns(t, moved.Columns, serviceColumns)
	checkRecord(t, "record", moved.Record, row("id", "1", "name", "Reboque", "status_id", "2"))
	checkRecord(t, "old_record", moved.OldRecord, row("id", "1", "name", "Reboque", "status_id", "1"))

	// Sentinel: the job moves on to CONCLUDED, after the first move.
	db.exec(t, `UPDATE public.service SET status_id = 3 WHERE id = 1`)
	done := c.expect(t, "the move to CONCLUDED", waitChange, isEvent(topic("3"), "UPDATE", nil)).change(t)
	checkRecord(t, "record", done.Record, row("id", "1", "name", "Reboque", "status_id", "3"))
	checkRecord(t, "old_record", done.OldRecord, row("id", "1", "name", "Reboque", "status_id", "2"))
	c.expect(t, "the CONCLUDED frame", waitChange, isFrame(topic("3"), "UPDATE"))

	// Each move was published once, on the topic of the new status only.
	c.noMessage(t, "an UPDATE on a topic other than its new status", since, quiet, isChange(func(l line, ch change) bool {
		s, _ := ch.Record["status_id"].(string)
		return l.Topic != topic(s)
	}))
	if frames := c.all(since, isChange(anyChange)); len(frames) != 2 {
		t.Errorf("got %d change frames (topics %s), want 2", len(frames), topicsOf(frames))
	}
	if events := c.all(since, isKind("event")); len(events) != 2 {
		t.Errorf("got %d callbacks (topics %s), want 2", len(events), topicsOf(events))
	}
}

// TestV1ReplicaIdentity: old_record under REPLICA IDENTITY FULL (public.service)
// and DEFAULT (public.note): protocol/v1.md 3.2.
func TestV1ReplicaIdentity(t *testing.T) {
	t.Parallel()
	db, gw := setup(t, `
		CREATE TABLE public.note (id bigint PRIMARY KEY, body text, n int4);
		INSERT INTO public.note VALUES (1, 'a', 7);`)
	const service, note = "realtime:public:service", "realtime:public:note"
	c := gw.startClient(t, "identity", clientConfig{Channels: []channel{
		{Topic: service, Events: []string{"*"}},
		{Topic: note, Events: []string{"*"}},
	}})
	c.joined(t, service, note)
	noteColumns := []map[string]any{
		col("id", "int8", noMod, true),
		col("body", "text", noMod, false),
		col("n", "int4", noMod, false),
	}

	// FULL: DELETE carries the whole old row.
	db.exec(t, `DELETE FROM public.service WHERE id = 4`)
	del := c.expect(t, "the service DELETE", waitChange, isEvent(service, "DELETE", nil)).change(t)
	checkChange(t, del, "DELETE", "public", "service")
	checkColumns(t, del.Columns, serviceColumns)
	checkRecord(t, "old_record", del.OldRecord, row("id", "4", "name", "Troca de Luz", "status_id", "2"))

	// DEFAULT: UPDATE has old_record {}, even when the key changes.
	for _, u := range []struct{ sql, id string }{
		{`UPDATE public.note SET body = 'b' WHERE id = 1`, "1"},
		{`UPDATE public.note SET id = 2 WHERE id = 1`, "2"},
	} {
		db.exec(t, u.sql)
		upd := c.expect(t, "the note UPDATE: "+u.sql, waitChange, isEvent(note, "UPDATE", nil)).change(t)
		checkChange(t, upd, "UPDATE", "public", "note")
		checkColumns(t, upd.Columns, noteColumns)
		checkRecord(t, "record", upd.Record, row("id", u.id, "body", "b", "n", "7"))
		if got := string(upd.raw["old_record"]); got != "{}" {
			t.Errorf("%s: old_record = %s, want {}", u.sql, got)
		}
	}

	// DEFAULT: DELETE lists every column, the non-key ones null.
	db.exec(t, `DELETE FROM public.note WHERE id = 2`)
	del = c.expect(t, "the note DELETE", waitChange, isEvent(note, "DELETE", nil)).change(t)
	checkChange(t, del, "DELETE", "public", "note")
	checkColumns(t, del.Columns, noteColumns)
	checkRecord(t, "old_record", del.OldRecord, row("id", "2", "body", nil, "n", nil))
}

// TestV1LeaveStopsDelivery: once the leave is acknowledged, changes are no
// longer sent on that topic, while the socket's other topic still gets its own.
func TestV1LeaveStopsDelivery(t *testing.T) {
	t.Parallel()
	db, gw := setup(t)
	const service, status = "realtime:public:service", "realtime:public:status"
	c := gw.startClient(t, "leave", clientConfig{Channels: []channel{
		{Topic: service, Events: []string{"*"}},
		{Topic: status, Events: []string{"*"}},
	}})
	joins := c.joined(t, service, status)

	db.exec(t, `UPDATE public.service SET name = 'Reboque 2' WHERE id = 1`)
	c.expect(t, "an UPDATE before the leave", waitChange, isEvent(service, "UPDATE", recordIs("name", "Reboque 2")))

	c.send(t, map[string]any{"cmd": "leave", "topic": service})
	if l := c.expect(t, "the leave reply", waitJoin, func(l line) bool {
		return l.Topic == service && (l.Kind == "left" || l.Kind == "leave_timeout")
	}); l.Kind != "left" {
		t.Fatalf("leave %s: %v", service, l)
	}
	// protocol/v1.md 1.4: after the ok reply, phx_close with the join ref.
	joinRef, _ := json.Marshal(joins[service].JoinRef)
	c.expect(t, "phx_close with the join ref", waitJoin, func(l line) bool {
		return isFrame(service, "phx_close")(l) && string(l.Ref) == string(joinRef)
	})
	since := c.mark()

	db.exec(t, `UPDATE public.service SET name = 'Reboque 3' WHERE id = 1`) // must not arrive
	db.exec(t, `UPDATE public.status SET name = 'PENDING' WHERE id = 1`)    // sentinel
	c.expect(t, "the status UPDATE (sentinel)", waitChange, isEvent(status, "UPDATE", recordIs("name", "PENDING")))
	c.noMessage(t, "a message on the left topic", since, quiet, isFrame(service, ""))
}

// TestV1TwoMatchingTopics: a socket joined to two topics that both match a
// change gets it twice, once per topic, with the same payload.
func TestV1TwoMatchingTopics(t *testing.T) {
	t.Parallel()
	db, gw := setup(t)
	const table, byID = "realtime:public:service", "realtime:public:service:id=eq.1"
	c := gw.startClient(t, "two-topics", clientConfig{Channels: []channel{
		{Topic: table, Events: []string{"UPDATE"}},
		{Topic: byID, Events: []string{"UPDATE"}},
	}})
	c.joined(t, table, byID)
	since := c.mark()

	db.exec(t, `UPDATE public.service SET name = 'Reboque X' WHERE id = 1`)
	a := c.expect(t, "the UPDATE on "+table, waitChange, isEvent(table, "UPDATE", recordIs("id", "1")))
	b := c.expect(t, "the UPDATE on "+byID, waitChange, isEvent(byID, "UPDATE", recordIs("id", "1")))
	var pa, pb any
	if err := json.Unmarshal(a.Payload, &pa); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b.Payload, &pb); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(pa, pb) {
		t.Errorf("payloads differ:\n%s: %v\n%s: %v", table, a, byID, b)
	}
	checkRecord(t, "record", a.change(t).Record, row("id", "1", "name", "Reboque X", "status_id", "1"))

	// Sentinel: a change of another row, for the table topic only.
	db.exec(t, `UPDATE public.service SET name = 'Bateria X' WHERE id = 2`)
	c.expect(t, "the UPDATE of id 2 on "+table, waitChange, isEvent(table, "UPDATE", recordIs("id", "2")))
	c.expect(t, "the frame of id 2", waitChange, isChange(func(l line, ch change) bool { return ch.Record["id"] == "2" }))
	c.noMessage(t, "the UPDATE of id 2 on "+byID, since, quiet, isChange(func(l line, ch change) bool {
		return l.Topic == byID && ch.Record["id"] != "1"
	}))
	frames := c.all(since, isChange(func(l line, ch change) bool { return ch.Record["id"] == "1" }))
	if len(frames) != 2 || frames[0].Topic == frames[1].Topic {
		t.Errorf("the UPDATE of id 1 came on [%s], want once on each of %s and %s", topicsOf(frames), table, byID)
	}
}
