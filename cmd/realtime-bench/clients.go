package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/coder/websocket"
	"github.com/golang-jwt/jwt/v5"
)

// client is one benchmark socket. Its reader goroutine owns the counters
// until closeClients has stopped it.
type client struct {
	ws     *websocket.Conn
	v2     bool
	key    int  // the rows it should get: k = key, or every row for -1
	filter bool // subscribed with the eq filter k=eq.key
	token  string
	// readEvery paces a slow client's reads (zero: as fast as it can).
	readEvery time.Duration
	cancel    context.CancelFunc
	done      chan struct{}

	// Owned by the reader.
	seen      []uint8 // by row index: how many times it arrived
	latencies []time.Duration
	bytes     int64
	received  atomic.Int64
	err       error
}

// openClients dials and subscribes every client, 64 at a time.
func openClients(ctx context.Context, base string, o options) ([]*client, error) {
	ws := "ws" + strings.TrimPrefix(base, "http")
	clients := make([]*client, o.sockets)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	errs := make([]error, o.sockets)
	filtered := int(float64(o.sockets)*o.filtered + 0.5)
	for i := range clients {
		c := &client{key: -1, done: make(chan struct{})}
		if i < filtered && !o.dbcast {
			c.key, c.filter = i%o.keys, true
		}
		if o.rls {
			// A user sees its own rows, with or without the filter.
			c.key = i % o.keys
			token, err := userToken(c.key)
			if err != nil {
				return nil, err
			}
			c.token = token
		}
		if i >= o.sockets-o.slow {
			// The last ones, unfiltered: each reads a share of every row.
			c.key, c.filter = -1, false
			c.readEvery = time.Duration(float64(time.Second) / (o.slowShare * float64(max(1, o.rate))))
		}
		switch o.vsn {
		case "2":
			c.v2 = true
		case "mix":
			c.v2 = i%2 == 1
		}
		clients[i] = c
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			errs[i] = c.open(ctx, ws, i, o.dbcast)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		closeClients(clients)
		return nil, err
	}
	for _, c := range clients {
		readCtx, cancel := context.WithCancel(context.Background())
		c.cancel = cancel
		go c.read(readCtx)
	}
	return clients, nil
}

func (c *client) open(ctx context.Context, base string, i int, dbcast bool) error {
	vsn, join := "1.0.0", ""
	topic := "realtime:public:bench"
	if c.v2 {
		vsn = "2.0.0"
		filter := ""
		if c.filter {
			filter = fmt.Sprintf(`,"filter":"k=eq.%d"`, c.key)
		}
		join = fmt.Sprintf(`["1","1","realtime:bench-%d","phx_join",{"config":{"postgres_changes":[{"event":"INSERT","schema":"public","table":"bench"%s}]}}]`, i, filter)
	} else {
		if c.filter {
			topic += ":k=eq." + strconv.Itoa(c.key)
		}
		join = fmt.Sprintf(`{"topic":%q,"event":"phx_join","payload":{},"ref":"1"}`, topic)
	}
	if dbcast {
		join = `{"topic":"realtime:bench","event":"phx_join","payload":{"config":{"private":true}},"ref":"1"}`
		if c.v2 {
			join = `["1","1","realtime:bench","phx_join",{"config":{"private":true}}]`
		}
	}
	dialCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	apikey := "bench"
	if c.token != "" {
		apikey = c.token
	}
	opts := &websocket.DialOptions{CompressionMode: websocket.CompressionDisabled}
	if c.readEvery > 0 {
		opts.HTTPClient = &http.Client{Transport: &http.Transport{DialContext: smallReceiveBuffer.DialContext}}
	}
	ws, _, err := websocket.Dial(dialCtx, base+"/socket/websocket?apikey="+apikey+"&vsn="+vsn, opts)
	if err != nil {
		return fmt.Errorf("socket %d: %w", i, err)
	}
	ws.SetReadLimit(16 << 20)
	c.ws = ws
	if err := ws.Write(dialCtx, websocket.MessageText, []byte(join)); err != nil {
		return fmt.Errorf("socket %d join: %w", i, err)
	}
	_, reply, err := ws.Read(dialCtx)
	if err != nil {
		return fmt.Errorf("socket %d join reply: %w", i, err)
	}
	if !bytes.Contains(reply, []byte(`"status":"ok"`)) {
		return fmt.Errorf("socket %d join refused: %s", i, reply)
	}
	return nil
}

// smallReceiveBuffer dials with a 4 KiB receive buffer, so that a slow
// client's backlog piles up in the gateway's queue within seconds rather
// than in megabytes of kernel buffers.
var smallReceiveBuffer = &net.Dialer{Control: func(network, address string, rc syscall.RawConn) error {
	var serr error
	err := rc.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	if err != nil {
		return err
	}
	return serr
}}

// read counts change frames until ctx ends, and heartbeats so that long
// runs are not closed as idle.
func (c *client) read(ctx context.Context) {
	defer close(c.done)
	heartbeat := []byte(`{"topic":"phoenix","event":"heartbeat","payload":{},"ref":"hb"}`)
	if c.v2 {
		heartbeat = []byte(`[null,"hb","phoenix","heartbeat",{}]`)
	}
	go func() {
		t := time.NewTicker(25 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				c.ws.Write(ctx, websocket.MessageText, heartbeat)
			}
		}
	}()
	for {
		_, data, err := c.ws.Read(ctx)
		now := time.Now()
		if err != nil {
			if ctx.Err() == nil {
				c.err = err
			}
			return
		}
		c.bytes += int64(len(data))
		seq, commit, ok := parseChange(data)
		if !ok {
			continue
		}
		for int(seq) >= len(c.seen) {
			c.seen = append(c.seen, make([]uint8, max(1024, len(c.seen)))...)
		}
		if c.seen[seq] < 255 {
			c.seen[seq]++
		}
		c.latencies = append(c.latencies, now.Sub(commit))
		c.received.Add(1)
		if c.readEvery > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(c.readEvery):
			}
		}
	}
}

// parseChange finds the row index and commit time in a change frame of
// either serializer, or in a broadcast from the database (jsonb text, with
// a space after each colon, in a JSON or binary frame), without decoding
// all of it, as a lean client would.
func parseChange(data []byte) (seq int64, commit time.Time, ok bool) {
	i := bytes.Index(data, []byte(`"seq":`))
	j := bytes.Index(data, []byte(`"commit_timestamp":`))
	if i < 0 || j < 0 {
		return 0, time.Time{}, false
	}
	rest := data[i+len(`"seq":`):]
	rest = bytes.TrimLeft(rest, ` "`)
	end := bytes.IndexAny(rest, `",}`)
	if end < 0 {
		return 0, time.Time{}, false
	}
	seq, err := strconv.ParseInt(string(rest[:end]), 10, 64)
	if err != nil {
		return 0, time.Time{}, false
	}
	ts := bytes.TrimLeft(data[j+len(`"commit_timestamp":`):], ` "`)
	end = bytes.IndexByte(ts, '"')
	if end < 0 {
		return 0, time.Time{}, false
	}
	commit, err = time.Parse(time.RFC3339Nano, string(ts[:end]))
	return seq, commit, err == nil
}

func closeClients(clients []*client) {
	for _, c := range clients {
		if c == nil || c.ws == nil {
			continue
		}
		if c.cancel != nil {
			c.cancel()
			<-c.done
		}
		c.ws.CloseNow()
	}
}

// waitDelivered waits until every client has what it should have, or until
// timeout passes without progress.
func waitDelivered(ctx context.Context, clients []*client, w *writes, o options, timeout time.Duration) {
	want := int64(0)
	for _, c := range clients {
		if c.readEvery == 0 {
			want += int64(w.expected(c.key, o.keys))
		}
	}
	last, lastChange := int64(-1), time.Now()
	for ctx.Err() == nil {
		got := int64(0)
		for _, c := range clients {
			if c.readEvery == 0 {
				got += c.received.Load()
			}
		}
		if got >= want {
			return
		}
		if got != last {
			last, lastChange = got, time.Now()
		} else if time.Since(lastChange) > timeout {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// userToken signs the token of the RLS mode's user key.
func userToken(key int) (string, error) {
	claims := jwt.MapClaims{"role": "authenticated", "sub": strconv.Itoa(key), "exp": time.Now().Add(24 * time.Hour).Unix()}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(benchSecret))
}
