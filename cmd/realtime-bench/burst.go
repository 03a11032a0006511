package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/coder/websocket"
	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
)

// burstResult is how fast one transaction of rows reached a consumer:
// from the commit returning to the writer until the last row arrived.
type burstResult struct {
	Rows       int     `json:"rows"`
	Seconds    float64 `json:"seconds"`
	RowsPerSec float64 `json:"rows_per_sec"`
}

const burstInsert = `INSERT INTO public.%s (k, seq, pad) SELECT s %% 10, s, $2 FROM generate_series(0, $1::bigint - 1) s`

// bareBurst streams a one-transaction burst of rows to a minimal pglogrepl
// consumer that decodes every pgoutput message and does nothing else: how
// fast PostgreSQL can hand these changes to anyone.
func bareBurst(ctx context.Context, dbURL string, rows int) (*burstResult, error) {
	cfg, err := pgconn.ParseConfig(dbURL)
	if err != nil {
		return nil, err
	}
	cfg.RuntimeParams["replication"] = "database"
	conn, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background())
	slot := fmt.Sprintf("realtime_bench_bare_%d", time.Now().UnixNano())
	created, err := pglogrepl.CreateReplicationSlot(ctx, conn, slot, "pgoutput", pglogrepl.CreateReplicationSlotOptions{Temporary: true})
	if err != nil {
		return nil, err
	}
	start, err := pglogrepl.ParseLSN(created.ConsistentPoint)
	if err != nil {
		return nil, err
	}
	err = pglogrepl.StartReplication(ctx, conn, slot, start, pglogrepl.StartReplicationOptions{
		PluginArgs: []string{"proto_version '1'", "publication_names 'realtime_bench_bare'"},
	})
	if err != nil {
		return nil, err
	}

	committed := make(chan time.Time, 1)
	writeErr := make(chan error, 1)
	go func() {
		err := exec1(ctx, dbURL, fmt.Sprintf(burstInsert, "bench_bare"), rows, pad)
		committed <- time.Now()
		writeErr <- err
	}()
	got := 0
	var last time.Time
	deadline := time.Now().Add(5 * time.Minute)
	for got < rows {
		recvCtx, cancel := context.WithDeadline(ctx, deadline)
		msg, err := conn.ReceiveMessage(recvCtx)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("after %d of %d rows: %w", got, rows, err)
		}
		cd, ok := msg.(*pgproto3.CopyData)
		if !ok || len(cd.Data) == 0 {
			continue
		}
		switch cd.Data[0] {
		case pglogrepl.PrimaryKeepaliveMessageByteID:
			ka, err := pglogrepl.ParsePrimaryKeepaliveMessage(cd.Data[1:])
			if err == nil && ka.ReplyRequested {
				pglogrepl.SendStandbyStatusUpdate(ctx, conn, pglogrepl.StandbyStatusUpdate{WALWritePosition: start})
			}
		case pglogrepl.XLogDataByteID:
			x, err := pglogrepl.ParseXLogData(cd.Data[1:])
			if err != nil {
				return nil, err
			}
			m, err := pglogrepl.Parse(x.WALData)
			if err != nil {
				return nil, err
			}
			if _, ok := m.(*pglogrepl.InsertMessage); ok {
				got++
				last = time.Now()
			}
		}
	}
	if err := <-writeErr; err != nil {
		return nil, err
	}
	return newBurst(rows, last.Sub(<-committed)), nil
}

// gatewayBurst sends the same burst through the gateway to one v1 socket
// subscribed to the burst table: decode, route, encode and the WebSocket.
func gatewayBurst(ctx context.Context, dbURL, base string, rows int) (*burstResult, error) {
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/socket/websocket?apikey=bench&vsn=1.0.0", nil)
	if err != nil {
		return nil, err
	}
	defer ws.CloseNow()
	ws.SetReadLimit(16 << 20)
	if err := ws.Write(ctx, websocket.MessageText, []byte(`{"topic":"realtime:public:bench_burst","event":"phx_join","payload":{},"ref":"1"}`)); err != nil {
		return nil, err
	}
	if _, reply, err := ws.Read(ctx); err != nil || !bytes.Contains(reply, []byte(`"ok"`)) {
		return nil, fmt.Errorf("join: %s %v", reply, err)
	}
	committed := make(chan time.Time, 1)
	writeErr := make(chan error, 1)
	go func() {
		err := exec1(ctx, dbURL, fmt.Sprintf(burstInsert, "bench_burst"), rows, pad)
		committed <- time.Now()
		writeErr <- err
	}()
	readCtx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	got := 0
	var last time.Time
	for got < rows {
		_, data, err := ws.Read(readCtx)
		if err != nil {
			return nil, fmt.Errorf("after %d of %d rows: %w", got, rows, err)
		}
		if bytes.Contains(data, []byte(`"event":"INSERT"`)) {
			got++
			last = time.Now()
		}
	}
	if err := <-writeErr; err != nil {
		return nil, err
	}
	return newBurst(rows, last.Sub(<-committed)), nil
}

func newBurst(rows int, took time.Duration) *burstResult {
	return &burstResult{Rows: rows, Seconds: took.Seconds(), RowsPerSec: float64(rows) / took.Seconds()}
}
