package gateway

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// rawClient speaks WebSocket by hand over TCP, for tests about how bytes
// arrive: in the upgrade's packet, or several frames in one write.
type rawClient struct {
	t  *testing.T
	nc net.Conn
	br *bufio.Reader
}

// dialRaw upgrades a TCP connection to ts's socket endpoint (vsn 1.0.0),
// sending early right behind the request, in the same write.
func dialRaw(t *testing.T, ts *testServer, early []byte) *rawClient {
	t.Helper()
	addr := strings.TrimPrefix(ts.url, "ws://")
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	req := "GET /socket/websocket?vsn=1.0.0 HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := nc.Write(append([]byte(req), early...)); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(nc)
	if resp, err := http.ReadResponse(br, nil); err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	return &rawClient{t: t, nc: nc, br: br}
}

// frame reads one unmasked server frame and returns its payload.
func (rc *rawClient) frame() string {
	rc.t.Helper()
	head := make([]byte, 2)
	if _, err := io.ReadFull(rc.br, head); err != nil {
		rc.t.Fatal(err)
	}
	n := int(head[1] & 0x7f)
	if n == 126 {
		ext := make([]byte, 2)
		io.ReadFull(rc.br, ext)
		n = int(ext[0])<<8 | int(ext[1])
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(rc.br, body); err != nil {
		rc.t.Fatal(err)
	}
	return string(body)
}

// maskedText frames payload as a client must: a masked text frame.
func maskedText(payload string) []byte {
	mask := []byte{9, 8, 7, 6}
	f := []byte{0x81, 0x80 | byte(len(payload))}
	f = append(f, mask...)
	for i := range len(payload) {
		f = append(f, payload[i]^mask[i%4])
	}
	return f
}

// The reader waits for the socket to be readable between frames, so
// frames that arrive together must not wait for a third: two heartbeats
// in one TCP write after the first frame are both answered, and so is a
// frame that arrives alone later.
func TestFramesArrivingTogetherAreAllRead(t *testing.T) {
	ts := newTestServer(t, nil)
	rc := dialRaw(t, ts, nil)
	hb := func(ref string) []byte {
		return maskedText(`{"topic":"phoenix","event":"heartbeat","payload":{},"ref":"` + ref + `"}`)
	}
	rc.nc.Write(hb("1"))
	if r := rc.frame(); !strings.Contains(r, `"ref":"1"`) {
		t.Fatalf("first reply: %s", r)
	}
	rc.nc.Write(append(hb("2"), hb("3")...))
	for _, ref := range []string{"2", "3"} {
		if r := rc.frame(); !strings.Contains(r, `"ref":"`+ref+`"`) {
			t.Fatalf("reply %s: %s", ref, r)
		}
	}
	time.Sleep(50 * time.Millisecond) // the reader is waiting again
	rc.nc.Write(hb("4"))
	if r := rc.frame(); !strings.Contains(r, `"ref":"4"`) {
		t.Fatalf("reply 4: %s", r)
	}
}
