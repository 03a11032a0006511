package main

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pgrealtime/realtime/test/localpg"
)

// A small run end to end: a real PostgreSQL, the real gateway, both
// serializers, filtered and unfiltered clients; nothing lost or doubled,
// and both bursts measured.
func TestSmallRun(t *testing.T) {
	if _, err := localpg.FindBinDir(); errors.Is(err, localpg.ErrNoBinaries) {
		if os.Getenv(localpg.RequireEnv) != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	o := options{sockets: 6, rate: 200, batch: 2, duration: 2 * time.Second, writers: 2, filtered: 0.5, keys: 3, vsn: "mix", burst: 2000}
	rep, err := run(t.Context(), o, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	var table bytes.Buffer
	rep.writeTable(&table)
	t.Log("\n" + table.String())
	if rep.RowsWritten < 100 || rep.Expected == 0 || rep.Delivered != rep.Expected || rep.Lost != 0 || rep.Duplicated != 0 {
		t.Fatalf("delivery: %+v", rep)
	}
	if rep.LatencyP50ms <= 0 || rep.Bare == nil || rep.Gateway == nil || rep.Gateway.Rows != 2000 || rep.GatewayRSSMiB <= 0 {
		t.Fatalf("measurements missing: %+v", rep)
	}
	// Six sockets say nothing about memory per socket.
	if rep.RSSPerSocketKiB != 0 || !strings.Contains(table.String(), "not measured below 1000 sockets") {
		t.Fatalf("RSS per idle socket reported for %d sockets:\n%s", o.sockets, table.String())
	}
	var js bytes.Buffer
	rep.writeJSON(&js)
	if !strings.Contains(js.String(), `"lost": 0`) {
		t.Fatalf("JSON report: %s", js.String())
	}
}

func TestParseChange(t *testing.T) {
	v1 := []byte(`{"event":"INSERT","payload":{"columns":[],"commit_timestamp":"2026-11-25T05:00:00.123456Z","errors":null,"record":{"id":"1","k":"0","seq":"42","pad":"x"},"schema":"public","table":"bench","type":"INSERT"},"ref":null,"topic":"realtime:public:bench"}`)
	v2 := []byte(`[null,null,"realtime:bench-1","postgres_changes",{"data":{"columns":[],"commit_timestamp":"2026-11-25T05:00:00.123Z","errors":null,"record":{"id":1,"k":0,"seq":42,"pad":"x"},"schema":"public","table":"bench","type":"INSERT"},"ids":[1]}]`)
	for _, f := range [][]byte{v1, v2} {
		seq, commit, ok := parseChange(f)
		if !ok || seq != 42 || commit.Year() != 2026 {
			t.Fatalf("%s: %d %v %v", f, seq, commit, ok)
		}
	}
	if _, _, ok := parseChange([]byte(`{"event":"phx_reply","payload":{"status":"ok"}}`)); ok {
		t.Fatal("a reply parsed as a change")
	}
}

func TestParseDBBroadcast(t *testing.T) {
	payload := `{"k": 0, "id": "b7fdf9da-0d90-41aa-a04d-7b1cb45e9f11", "pad": "x", "seq": 42, "commit_timestamp": "2026-11-25T05:00:00.123456Z"}`
	frames := [][]byte{
		[]byte(`{"event":"broadcast","payload":{"type":"broadcast","event":"bench","payload":` + payload + `,"meta":{"id":"x"}},"ref":null,"topic":"realtime:bench"}`),
		append([]byte{4, 14, 5, 8, 1}, "realtime:benchbench{\"id\":1}"+payload...),
	}
	for _, f := range frames {
		seq, commit, ok := parseChange(f)
		if !ok || seq != 42 || commit.Year() != 2026 {
			t.Fatalf("%q: %d %v %v", f, seq, commit, ok)
		}
	}
}

// A small run of broadcast from the database: nothing lost or doubled.
func TestSmallDBBroadcastRun(t *testing.T) {
	if _, err := localpg.FindBinDir(); errors.Is(err, localpg.ErrNoBinaries) {
		if os.Getenv(localpg.RequireEnv) != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	o := options{sockets: 4, rate: 200, batch: 2, duration: 2 * time.Second, writers: 2, keys: 3, vsn: "mix", dbcast: true}
	rep, err := run(t.Context(), o, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if rep.RowsWritten < 100 || rep.Delivered != rep.Expected || rep.Lost != 0 || rep.Duplicated != 0 || rep.LatencyP50ms <= 0 {
		t.Fatalf("delivery: %+v", rep)
	}
}

// The RLS mode end to end: each user receives its own rows and nothing
// else (a row delivered to another user counts as duplicated), filtered
// and not, over both serializers.
func TestSmallRLSRun(t *testing.T) {
	if _, err := localpg.FindBinDir(); errors.Is(err, localpg.ErrNoBinaries) {
		if os.Getenv(localpg.RequireEnv) != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	o := options{sockets: 8, rate: 200, batch: 2, duration: 2 * time.Second, writers: 2, filtered: 0.5, keys: 4, vsn: "mix", rls: true}
	rep, err := run(t.Context(), o, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	var table bytes.Buffer
	rep.writeTable(&table)
	t.Log("\n" + table.String())
	if rep.RowsWritten < 100 || rep.Expected != rep.RowsWritten*2 || rep.Delivered != rep.Expected || rep.Lost != 0 || rep.Duplicated != 0 {
		t.Fatalf("delivery: %+v", rep)
	}
}
