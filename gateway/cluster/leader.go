package cluster

import (
	"context"
	"fmt"
	"hash/fnv"
	"sync"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"

	"github.com/pgrealtime/realtime/replication"
)

// lockKey is the advisory lock of the slot holder: one per cluster name
// and slot, so clusters that share a database do not block each other.
func (n *Node) lockKey() int64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "realtime cluster %s slot %s", n.cfg.Prefix, n.cfg.Replication.SlotName)
	return int64(h.Sum64())
}

// elect competes for the slot holder's lock until ctx is done and leads
// whenever it wins. The lock lives in a session on an ordinary connection:
// if this node dies, PostgreSQL ends the session and frees the lock (and
// the slot, whose walsender dies with the same process) for another node.
func (n *Node) elect(ctx context.Context) {
	cfg, err := pgx.ParseConfig(n.cfg.Replication.ConnString)
	if err != nil {
		n.log.Error("cluster election cannot start", "err", err)
		return
	}
	delete(cfg.RuntimeParams, "replication")
	cfg.RuntimeParams["application_name"] = "realtime cluster " + n.cfg.NodeID
	cfg.AfterConnect = replication.AfterConnectFunc(n.cfg.Replication.AfterConnect)
	key := n.lockKey()
	for ctx.Err() == nil {
		if n.nc.IsConnected() {
			if err := n.tryLead(ctx, cfg, key); err != nil && ctx.Err() == nil {
				n.log.Warn("cluster election", "err", err)
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(electEvery):
		}
	}
}

// tryLead asks for the lock until it is held by another session or the
// connection fails; with the lock, it leads until it must stop.
func (n *Node) tryLead(ctx context.Context, cfg *pgx.ConnConfig, key int64) error {
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	for ctx.Err() == nil && n.nc.IsConnected() {
		var got bool
		if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", key).Scan(&got); err != nil {
			return err
		}
		if got {
			n.lead(ctx, conn)
			// Closing the session frees the lock for whoever comes next.
			return nil
		}
		select {
		case <-ctx.Done():
		case <-time.After(electEvery):
		}
	}
	return nil
}

// lead runs the replication stream while this node holds the lock: it
// publishes every batch to NATS, routes it locally, and confirms to
// PostgreSQL only what NATS has acknowledged. It returns when ctx is done,
// when the lock's session fails or when NATS is gone for too long.
func (n *Node) lead(ctx context.Context, lockConn *pgx.Conn) {
	stream, err := replication.New(n.cfg.Replication)
	if err != nil {
		n.log.Error("cannot lead", "err", err)
		return
	}
	// The term outlives ctx by a final confirm.
	termCtx, endTerm := context.WithCancel(context.WithoutCancel(ctx))
	defer endTerm()
	out := make(chan replication.Batch, 16)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer endTerm()
	wg.Go(func() { stream.Run(termCtx, out) })
	wg.Go(func() { n.guardTerm(ctx, termCtx, endTerm, lockConn) })
	n.leading.Store(stream)
	defer n.leading.Store(nil)
	wg.Go(func() {
		if stream.WaitLive(termCtx) == nil {
			n.setStatus(stream.Status())
		}
	})

	hold := n.cfg.RejoinGrace
	if n.seenOther.Load() {
		hold = min(hold, failoverHold)
	}
	n.log.Info("holding the replication slot for the cluster", "slot", n.cfg.Replication.SlotName, "rejoin_hold", hold)
	if hold > 0 {
		select {
		case <-termCtx.Done():
			return
		case <-time.After(hold):
		}
	}

	var pending, confirmed pglogrepl.LSN
	confirm := func() {
		if pending <= confirmed {
			return
		}
		if err := n.nc.FlushTimeout(2 * time.Second); err != nil {
			n.log.Warn("NATS did not acknowledge; not confirming to PostgreSQL yet", "err", err)
			return
		}
		stream.Confirm(pending)
		confirmed = pending
	}
	tick := time.NewTicker(confirmEvery)
	defer tick.Stop()
	var buf []byte
	for {
		select {
		case <-termCtx.Done():
			return
		case <-ctx.Done():
			confirm()
			return
		case <-tick.C:
			confirm()
		case b := <-out:
			if buf, err = n.publishBatch(buf, b); err != nil {
				n.log.Error("cannot publish to NATS; giving up the slot", "err", err)
				return
			}
			select {
			case n.local <- b:
			case <-termCtx.Done():
				return
			}
			if b.Commit {
				pending = b.CommitLSN
			}
		}
	}
}

// guardTerm ends the term when the lock's session fails (another node may
// already hold the lock) or when NATS has been unreachable for a while
// (this node could publish nothing, and another one can).
func (n *Node) guardTerm(ctx, termCtx context.Context, endTerm func(), lockConn *pgx.Conn) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	var offline time.Time
	for {
		select {
		case <-termCtx.Done():
			return
		case <-ctx.Done():
			return
		case <-t.C:
		}
		pingCtx, cancel := context.WithTimeout(termCtx, 2*time.Second)
		err := lockConn.Ping(pingCtx)
		cancel()
		if err != nil && termCtx.Err() == nil {
			n.log.Error("lost the session that holds the cluster lock; giving up the slot", "err", err)
			endTerm()
			return
		}
		switch {
		case n.nc.IsConnected():
			offline = time.Time{}
		case offline.IsZero():
			offline = time.Now()
		case time.Since(offline) > peerTimeout:
			n.log.Error("NATS unreachable; giving up the slot to a node that can publish", "for", time.Since(offline).Round(time.Second))
			endTerm()
			return
		}
	}
}

// publishBatch publishes b as runs of one table each, split to fit NATS's
// largest message.
func (n *Node) publishBatch(buf []byte, b replication.Batch) ([]byte, error) {
	switch {
	case b.Notice != nil:
		// Every node tells its clients, as of a gap.
		n.publishJSON(n.subj.nodes(), heartbeat{Node: n.cfg.NodeID, Gap: b.Notice.Message})
	case b.Gap:
		n.publishJSON(n.subj.nodes(), heartbeat{Node: n.cfg.NodeID, Gap: gapOnNewSlot})
	}
	limit := int(n.nc.MaxPayload())
	for i := 0; i < len(b.Changes); {
		j := i + 1
		for j < len(b.Changes) && b.Changes[j].Rel == b.Changes[i].Rel {
			j++
		}
		var err error
		if buf, err = n.publishRun(buf, b, i, j, limit); err != nil {
			return buf, err
		}
		i = j
	}
	return buf, nil
}

// publishRun publishes changes [i, j) of b, halving the run until each
// part fits. A single change too large for NATS is left out and every node
// is told, rather than stopping the cluster.
func (n *Node) publishRun(buf []byte, b replication.Batch, i, j, limit int) ([]byte, error) {
	ch := b.Changes[i:j]
	buf = appendRun(buf[:0], b.FinalLSN, b.First+i, ch[0].CommitTime, ch)
	if limit > 0 && len(buf) > limit {
		if j-i == 1 {
			n.log.Error("a change is larger than NATS's max_payload and cannot reach the cluster; raise max_payload on the NATS server",
				"table", ch[0].Rel.Schema+"."+ch[0].Rel.Table, "bytes", len(buf), "max_payload", limit)
			n.publishJSON(n.subj.nodes(), heartbeat{Node: n.cfg.NodeID, Gap: gapTooLarge})
			return buf, nil
		}
		mid := i + (j-i)/2
		var err error
		if buf, err = n.publishRun(buf, b, i, mid, limit); err != nil {
			return buf, err
		}
		return n.publishRun(buf, b, mid, j, limit)
	}
	return buf, n.nc.Publish(n.subj.changes(ch[0].Rel.Schema, ch[0].Rel.Table), buf)
}

const (
	gapOnNewSlot = "Replication restarted on a new temporary slot: changes committed while no gateway held it may be missing. Set SLOT_NAME for a permanent slot that keeps them."
	gapTooLarge  = "A change was larger than the cluster's NATS max_payload and was not delivered. Refetch to be sure."
)
