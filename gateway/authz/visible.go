package authz

import (
	"context"
	"fmt"
	"time"
)

// visibleSQL reports whether every transaction in $1 (32-bit xids, as
// pgoutput gives them) is visible to a snapshot taken now. The 64-bit id
// is rebuilt from the snapshot's xmax: a committed xid is below xmax, so
// one larger than xmax's low half belongs to the previous epoch.
const visibleSQL = `
SELECT coalesce(bool_and(pg_visible_in_snapshot(
  ((((pg_snapshot_xmax(s)::text::bigint) >> 32)
    - CASE WHEN x > ((pg_snapshot_xmax(s)::text::bigint) & 4294967295) THEN 1 ELSE 0 END) * 4294967296 + x)::text::xid8,
  s)), true)
FROM pg_current_snapshot() AS s, unnest($1::bigint[]) AS x`

// WaitVisible returns once the transactions xids are visible to new
// snapshots. PostgreSQL hands a commit to logical decoding once its WAL
// is flushed, a moment before it marks the transaction committed for other
// sessions; a check run in between would not see the row yet, or would see
// its previous version. Errors when ctx ends first.
func (a *Authorizer) WaitVisible(ctx context.Context, xids []uint32) error {
	if len(xids) == 0 {
		return nil
	}
	pool, err := a.getPool()
	if err != nil {
		return err
	}
	args := make([]int64, len(xids))
	for i, x := range xids {
		args[i] = int64(x)
	}
	ctx, cancel := context.WithTimeout(ctx, a.cfg.CheckTimeout)
	defer cancel()
	wait := 200 * time.Microsecond
	for {
		var ok bool
		if err := pool.QueryRow(ctx, visibleSQL, args).Scan(&ok); err != nil {
			return fmt.Errorf("wait for commit visibility: %w", err)
		}
		if ok {
			return nil
		}
		a.VisibilityWaits.Add(1)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("wait for commit visibility: %w", ctx.Err())
		case <-t.C:
		}
		wait = min(2*wait, 10*time.Millisecond)
	}
}
