package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/pgrealtime/realtime/replication"
)

// Config configures one node.
type Config struct {
	// NATSURL is where the cluster's NATS server(s) are (CLUSTER_NATS_URL).
	NATSURL string
	// Prefix starts every subject, so that clusters can share NATS
	// (CLUSTER_NAME, default "realtime").
	Prefix string
	// NodeID names this node to the others; default hostname-random.
	NodeID string
	// Replication configures the stream this node runs while it holds the
	// slot.
	Replication replication.Config
	// RejoinGrace holds the first stream of a cluster (and, capped at
	// failoverHold, the stream of a new slot holder) so that clients of a
	// gateway that went away rejoin before the changes they missed are
	// routed.
	RejoinGrace time.Duration
	Logger      *slog.Logger
}

const (
	// heartbeatEvery is how often a node says it is alive; peerTimeout is
	// how long without that before its presence is dropped.
	heartbeatEvery = time.Second
	peerTimeout    = 5 * time.Second
	// electEvery is how often a node asks for the slot holder's lock.
	electEvery = time.Second
	// failoverHold caps the rejoin hold of a stream that takes over from
	// another node: its clients reconnect within realtime-js's first retry.
	failoverHold = 2 * time.Second
	// confirmEvery is how often the slot holder confirms to PostgreSQL what
	// NATS has acknowledged.
	confirmEvery = 250 * time.Millisecond
	// inboxSize is how many messages may wait for the hub before NATS
	// drops them (and the node tells its clients so).
	inboxSize = 1 << 16
)

// Node is one gateway of a cluster. It is the gateway's Relay (rooms and
// interests) and its Replication (health and the catalog). Create it with
// New, build the hub around it, then Run it once with that hub.
type Node struct {
	cfg  Config
	log  *slog.Logger
	subj subjects
	cat  *replication.Catalog
	nc   *nats.Conn

	inbox chan *nats.Msg
	// local carries the slot holder's own batches to the feed.
	local chan replication.Batch
	// lost is signalled when NATS dropped messages meant for this node.
	lost chan string

	mu       sync.Mutex
	interest map[string]*watched // subject → subscription

	status    atomic.Pointer[replication.Status] // the slot holder's, as last heard
	statusAt  atomic.Int64                       // when it was heard (unix ns)
	leading   atomic.Pointer[replication.Stream] // this node's stream while it holds the slot
	everLive  chan struct{}
	liveOnce  sync.Once
	seenOther atomic.Bool // another node has held the slot
}

type watched struct {
	sub  *nats.Subscription
	refs int
}

// New checks cfg and connects to NATS (retrying in the background while
// NATS is not there yet). It needs no hub: the hub is built with the node
// as its relay, and handed to Run.
func New(cfg Config) (*Node, error) {
	if cfg.Prefix == "" {
		cfg.Prefix = "realtime"
	}
	if !validPrefix(cfg.Prefix) {
		return nil, fmt.Errorf("CLUSTER_NAME %q cannot start a NATS subject: use letters, digits, '-' and '_', tokens separated by '.'", cfg.Prefix)
	}
	if cfg.NodeID == "" {
		cfg.NodeID = defaultNodeID()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	n := &Node{
		cfg: cfg, log: cfg.Logger.With("node", cfg.NodeID),
		subj:     subjects{prefix: cfg.Prefix},
		cat:      replication.NewCatalogConfig(cfg.Replication),
		inbox:    make(chan *nats.Msg, inboxSize),
		local:    make(chan replication.Batch),
		lost:     make(chan string, 1),
		interest: map[string]*watched{},
		everLive: make(chan struct{}),
	}
	nc, err := nats.Connect(cfg.NATSURL,
		nats.Name("realtime "+cfg.NodeID),
		// Each node routes what it publishes itself.
		nats.NoEcho(),
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250*time.Millisecond),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			n.log.Warn("lost the connection to NATS", "err", err)
		}),
		nats.ReconnectHandler(func(*nats.Conn) {
			n.log.Info("reconnected to NATS")
			n.signalLost("This gateway lost its connection to the cluster for a moment: changes made meanwhile may be missing. Refetch to be sure.")
		}),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			if errors.Is(err, nats.ErrSlowConsumer) {
				n.signalLost("This gateway fell behind the cluster and dropped changes: refetch to be sure.")
				return
			}
			n.log.Warn("NATS error", "err", err)
		}),
	)
	if err != nil {
		n.cat.Close()
		return nil, fmt.Errorf("connect to NATS at %s: %w", cfg.NATSURL, err)
	}
	n.nc = nc
	return n, nil
}

func defaultNodeID() string {
	host, _ := os.Hostname()
	var b [3]byte
	rand.Read(b[:])
	if host == "" {
		host = "node"
	}
	return host + "-" + hex.EncodeToString(b[:])
}

func (n *Node) signalLost(why string) {
	select {
	case n.lost <- why:
	default:
	}
}

// Run runs the node until ctx is done: hub's routing, the feed from NATS
// into hub, heartbeats, and the election with the stream it leads to. On
// the way out it tells the others it is leaving and closes NATS.
func (n *Node) Run(ctx context.Context, hub Hub) error {
	defer n.cat.Close()
	defer n.nc.Close()
	if _, err := n.nc.ChanSubscribe(n.subj.nodes(), n.inbox); err != nil {
		return fmt.Errorf("subscribe to %s: %w", n.subj.nodes(), err)
	}
	batches := make(chan replication.Batch, 16)
	var wg sync.WaitGroup
	wg.Go(func() { hub.Run(ctx, batches) })
	wg.Go(func() { n.feed(ctx, hub, batches) })
	wg.Go(func() { n.heartbeat(ctx) })
	wg.Go(func() { n.elect(ctx) })
	n.log.Info("cluster node running", "nats", n.cfg.NATSURL, "prefix", n.cfg.Prefix)
	wg.Wait()
	n.publishJSON(n.subj.nodes(), heartbeat{Node: n.cfg.NodeID, Bye: true})
	n.nc.FlushTimeout(time.Second)
	return nil
}

// heartbeat is what a node says on the nodes subject every second, and
// once more (Bye) when it stops.
type heartbeat struct {
	Node   string              `json:"node"`
	Bye    bool                `json:"bye,omitempty"`
	Leader *replication.Status `json:"leader,omitempty"` // set by the slot holder
	// Gap, from the slot holder, says changes may be missing and why.
	Gap string `json:"gap,omitempty"`
}

func (n *Node) heartbeat(ctx context.Context) {
	t := time.NewTicker(heartbeatEvery)
	defer t.Stop()
	for {
		hb := heartbeat{Node: n.cfg.NodeID}
		if s := n.leading.Load(); s != nil {
			st := s.Status()
			hb.Leader = &st
			n.setStatus(st)
		}
		n.publishJSON(n.subj.nodes(), hb)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (n *Node) setStatus(st replication.Status) {
	n.status.Store(&st)
	n.statusAt.Store(time.Now().UnixNano())
	if st.Live {
		n.liveOnce.Do(func() { close(n.everLive) })
	}
}

func (n *Node) publishJSON(subject string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		n.log.Error("encode cluster message", "subject", subject, "err", err)
		return
	}
	if err := n.nc.Publish(subject, b); err != nil {
		n.log.Warn("publish to NATS", "subject", subject, "err", err)
	}
}

// Status is the replication status of the cluster as this node knows it:
// its own stream's while it holds the slot, else the slot holder's last
// heartbeat. Without a recent one the cluster is not live.
func (n *Node) Status() replication.Status {
	if s := n.leading.Load(); s != nil {
		return s.Status()
	}
	st := n.status.Load()
	if st == nil {
		return replication.Status{LastError: "no gateway of the cluster holds the replication slot yet"}
	}
	out := *st
	if age := time.Since(time.Unix(0, n.statusAt.Load())); age > peerTimeout {
		out.Live = false
		out.LastError = fmt.Sprintf("no word from the gateway holding the replication slot for %s", age.Round(time.Second))
	}
	if !n.nc.IsConnected() {
		out.Live = false
		out.LastError = "not connected to NATS at " + n.cfg.NATSURL
	}
	return out
}

// Table answers join-time table checks from this node's own catalog.
func (n *Node) Table(ctx context.Context, schema, table string) (replication.TableInfo, error) {
	return n.cat.Table(ctx, schema, table)
}

// WaitLive returns once some node's stream has been live: from then on
// the slot keeps every change for the cluster.
func (n *Node) WaitLive(ctx context.Context) error {
	select {
	case <-n.everLive:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
