package authz

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pgrealtime/realtime/replication"
)

// Config configures an Authorizer. Zero values take the documented defaults.
type Config struct {
	// ConnString reaches the database as the gateway's own user, which
	// must be able to act as every subscriber role.
	ConnString   string
	Publications []string
	Logger       *slog.Logger
	// CheckTimeout bounds one round of visibility checks (default 2 s):
	// past it the rows of that round are not visible to those it checked.
	CheckTimeout time.Duration
	// Refresh is how often the privilege snapshot is re-read (default
	// 250 ms), and MaxAge how old a snapshot routing may use (default
	// 750 ms): together they make a GRANT or REVOKE apply to changes
	// committed a second after it.
	Refresh, MaxAge time.Duration
	// Conns is how many connections one round of checks may use at once
	// (default 2).
	Conns int
}

// Authorizer answers who may see what, from a cached privilege snapshot and
// batched visibility checks. Its methods are safe for concurrent use.
type Authorizer struct {
	cfg Config
	log *slog.Logger

	// pool runs the checks. Not DB_AFTER_CONNECT_QUERY (see cmd/realtime).
	pool *replication.Pool

	rolesMu sync.Mutex
	roles   map[string]int // roles in use, with how many channels use each

	// loadMu makes loads one at a time: routing and the refresher may
	// both find the snapshot old.
	loadMu sync.Mutex
	snap   atomic.Pointer[Snapshot]

	// lastWarn is when routing's last failure was logged (unix ns).
	lastWarn atomic.Int64

	// Counters for metrics.
	Checks, CheckedRows, Failures, Stale, VisibilityWaits atomic.Int64
}

// New validates cfg and returns an Authorizer; Run must be running for
// the snapshot to stay fresh.
func New(cfg Config) (*Authorizer, error) {
	if cfg.ConnString == "" {
		return nil, errors.New("authz: no connection string")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default().With("component", "authz")
	}
	if cfg.CheckTimeout <= 0 {
		cfg.CheckTimeout = 2 * time.Second
	}
	if cfg.Refresh <= 0 {
		cfg.Refresh = 250 * time.Millisecond
	}
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = 750 * time.Millisecond
	}
	if cfg.Conns <= 0 {
		cfg.Conns = 2
	}
	pool := replication.NewPool(replication.PoolConfig{
		ConnString: cfg.ConnString,
		AppName:    "realtime_authz",
		// The check statements are simple key lookups whose best plan
		// does not depend on the keys: planning them anew for every
		// subject would cost more than running them.
		Params:   map[string]string{"plan_cache_mode": "force_generic_plan"},
		MaxConns: int32(cfg.Conns + 1),
	})
	return &Authorizer{cfg: cfg, log: cfg.Logger, pool: pool, roles: map[string]int{}}, nil
}

func (a *Authorizer) getPool() (*pgxpool.Pool, error) { return a.pool.Get() }

// Run keeps the snapshot fresh until ctx ends, then closes the pool.
func (a *Authorizer) Run(ctx context.Context) {
	defer a.pool.Close()
	t := time.NewTicker(a.cfg.Refresh)
	defer t.Stop()
	var lastErr time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if a.inUse() == 0 {
			continue
		}
		if _, err := a.reload(ctx, time.Time{}); err != nil && ctx.Err() == nil && time.Since(lastErr) > 10*time.Second {
			lastErr = time.Now()
			a.log.Warn("cannot refresh privileges; secure subscribers receive nothing until it works", "err", err)
		}
	}
}

// InUse reports whether any channel holds a role: without one, no secure
// subscriber can receive a change.
func (a *Authorizer) InUse() bool { return a.inUse() > 0 }

func (a *Authorizer) inUse() int {
	a.rolesMu.Lock()
	defer a.rolesMu.Unlock()
	return len(a.roles)
}

// reload loads a new snapshot unless one newer than after is there.
func (a *Authorizer) reload(ctx context.Context, after time.Time) (*Snapshot, error) {
	a.loadMu.Lock()
	defer a.loadMu.Unlock()
	if s := a.snap.Load(); s != nil && !after.IsZero() && s.At.After(after) {
		return s, nil
	}
	// At is taken before the roles are read: a snapshot newer than a
	// role's registration includes that role.
	at := time.Now()
	a.rolesMu.Lock()
	roles := make([]string, 0, len(a.roles))
	for r := range a.roles {
		roles = append(roles, r)
	}
	a.rolesMu.Unlock()
	pool, err := a.getPool()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, a.cfg.CheckTimeout)
	defer cancel()
	s, err := load(ctx, pool, a.cfg.Publications, roles, at)
	if err != nil {
		return nil, err
	}
	a.snap.Store(s)
	return s, nil
}

// Current returns a snapshot at most MaxAge old, loading one when the
// refresher is behind. On error the caller must send nothing to secure
// subscribers.
func (a *Authorizer) Current(ctx context.Context) (*Snapshot, error) {
	if s := a.snap.Load(); s != nil && time.Since(s.At) < a.cfg.MaxAge {
		return s, nil
	}
	a.Stale.Add(1)
	return a.reload(ctx, time.Now().Add(-a.cfg.MaxAge/2))
}

func (s *Snapshot) roleOrNil(name string) *role {
	if s == nil {
		return nil
	}
	return s.roles[name]
}

// RoleError says why a channel cannot act as its role.
type RoleError struct{ Role, User, Reason string }

func (e *RoleError) Error() string { return e.Reason }

// Acquire registers a channel's role and checks that the gateway's user
// may act as it. Release must follow when the channel goes.
func (a *Authorizer) Acquire(ctx context.Context, roleName string) error {
	a.rolesMu.Lock()
	a.roles[roleName]++
	registered := time.Now()
	a.rolesMu.Unlock()
	s := a.snap.Load()
	if r := s.roleOrNil(roleName); r == nil || !r.usable || time.Since(s.At) >= a.cfg.MaxAge {
		// A refusal is never taken from the cache (the GRANT may have just
		// been run), and a burst of joins shares one load: any snapshot
		// begun after this registration will do.
		var err error
		if s, err = a.reload(ctx, registered); err != nil {
			a.Release(roleName)
			return fmt.Errorf("read privileges: %w", err)
		}
	}
	r := s.roles[roleName]
	if r == nil {
		a.Release(roleName)
		return &RoleError{Role: roleName, Reason: fmt.Sprintf("role %q of the token does not exist in the database", roleName)}
	}
	if !r.usable {
		a.Release(roleName)
		user := a.user(ctx)
		return &RoleError{Role: roleName, User: user, Reason: fmt.Sprintf(
			"the gateway's database user %s cannot act as role %s, so it cannot check what that role may read: run GRANT %s TO %s;",
			user, roleName, quoteIdent(roleName), quoteIdent(user))}
	}
	return nil
}

func (a *Authorizer) user(ctx context.Context) string {
	pool, err := a.getPool()
	if err != nil {
		return "current_user"
	}
	var u string
	if err := pool.QueryRow(ctx, "SELECT current_user::text").Scan(&u); err != nil {
		return "current_user"
	}
	return u
}

// quoteIdent quotes a name for SQL that a person will paste, only when it
// needs quotes.
func quoteIdent(s string) string {
	for i, r := range s {
		if !(r >= 'a' && r <= 'z' || r == '_' || i > 0 && (r >= '0' && r <= '9' || r == '$')) {
			return pgx.Identifier{s}.Sanitize()
		}
	}
	if s == "" {
		return `""`
	}
	return s
}

// Release forgets one use of a role.
func (a *Authorizer) Release(roleName string) {
	a.rolesMu.Lock()
	defer a.rolesMu.Unlock()
	if a.roles[roleName]--; a.roles[roleName] <= 0 {
		delete(a.roles, roleName)
	}
}

// Request asks which of Rows (primary keys as text, in key order) of the
// view's table Subject may SELECT.
type Request struct {
	View    *View
	Subject *Subject
	Rows    [][]string
}

// Check answers requests: visible[i][j] is whether request i's row j is
// visible; errs[i] is why request i could not be answered (its rows are
// then all invisible). It blocks for at most CheckTimeout.
func (a *Authorizer) Check(ctx context.Context, reqs []Request) (visible [][]bool, errs []error) {
	visible = make([][]bool, len(reqs))
	errs = make([]error, len(reqs))
	for i := range reqs {
		visible[i] = make([]bool, len(reqs[i].Rows))
	}
	if len(reqs) == 0 {
		return visible, errs
	}
	a.Checks.Add(int64(len(reqs)))
	for i := range reqs {
		a.CheckedRows.Add(int64(len(reqs[i].Rows)))
	}
	ctx, cancel := context.WithTimeout(ctx, a.cfg.CheckTimeout)
	defer cancel()
	pool, err := a.getPool()
	if err != nil {
		for i := range errs {
			errs[i] = err
		}
		a.Failures.Add(int64(len(reqs)))
		return visible, errs
	}
	// Split the round over the connections, one transaction each.
	n := min(a.cfg.Conns, len(reqs))
	var wg sync.WaitGroup
	for w := range n {
		lo, hi := w*len(reqs)/n, (w+1)*len(reqs)/n
		wg.Go(func() { a.checkChunk(ctx, pool, reqs[lo:hi], visible[lo:hi], errs[lo:hi]) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			a.Failures.Add(1)
		}
	}
	return visible, errs
}

// maxIsolate bounds the requests of a failing table retried one by one:
// past it all of that table's requests of the round fail, so a broken
// policy on a table with a thousand subjects cannot turn one round trip
// into a thousand.
const maxIsolate = 16

// checkChunk runs requests in one round trip. When one fails (a policy
// raised), the requests are retried grouped by table, so a broken policy
// hides only its own table's rows; within a failing table, small groups are
// retried one by one to find the subjects it fails for.
func (a *Authorizer) checkChunk(ctx context.Context, pool *pgxpool.Pool, reqs []Request, visible [][]bool, errs []error) {
	err := a.runBatch(ctx, pool, reqs, visible)
	if err == nil {
		return
	}
	for i := range visible {
		clear(visible[i])
	}
	if len(reqs) == 1 || ctx.Err() != nil {
		for i := range errs {
			errs[i] = err
		}
		return
	}
	byTable := map[*table][]int{}
	var order []*table
	for i, r := range reqs {
		t := r.View.table
		if byTable[t] == nil {
			order = append(order, t)
		}
		byTable[t] = append(byTable[t], i)
	}
	for _, t := range order {
		idx := byTable[t]
		if len(order) > 1 {
			sub, vis := make([]Request, len(idx)), make([][]bool, len(idx))
			for j, i := range idx {
				sub[j], vis[j] = reqs[i], visible[i]
			}
			err = a.runBatch(ctx, pool, sub, vis)
			if err == nil {
				continue
			}
			for _, v := range vis {
				clear(v)
			}
		}
		if len(idx) == 1 || len(idx) > maxIsolate {
			for _, i := range idx {
				errs[i] = err
			}
			continue
		}
		for _, i := range idx {
			if err := a.runBatch(ctx, pool, reqs[i:i+1], visible[i:i+1]); err != nil {
				errs[i] = err
				clear(visible[i])
			}
		}
	}
}

const settingsSQL = `SELECT set_config('role', $1, true), set_config('request.jwt.claims', $2, true),
  set_config('request.jwt.claim.sub', $3, true), set_config('request.jwt.claim.role', $4, true),
  set_config('statement_timeout', $5, true)`

// runBatch sends one read-only transaction: per request, the subject's
// settings (local to the transaction) then the check; rolled back.
func (a *Authorizer) runBatch(ctx context.Context, pool *pgxpool.Pool, reqs []Request, visible [][]bool) error {
	timeout := "2000"
	if dl, ok := ctx.Deadline(); ok {
		timeout = strconv.FormatInt(max(time.Until(dl).Milliseconds(), 1), 10)
	}
	b := &pgx.Batch{}
	b.Queue("BEGIN READ ONLY")
	for i, r := range reqs {
		t := r.View.table
		if t.check == "" {
			return fmt.Errorf("table %s.%s has no primary key", t.schema, t.name)
		}
		s := r.Subject
		b.Queue(settingsSQL, s.Role, s.Claims, s.Sub, s.ClaimRole, timeout)
		args := make([]any, 0, len(t.pk)+2)
		for k := range t.pk {
			col := make([]*string, len(r.Rows))
			for j, row := range r.Rows {
				if k < len(row) {
					col[j] = &row[k]
				}
			}
			args = append(args, col)
		}
		args = append(args, s.Role, s.Claims)
		b.Queue(t.check, args...).Query(func(rows pgx.Rows) error {
			for rows.Next() {
				var ord int64
				if err := rows.Scan(&ord); err != nil {
					return err
				}
				if ord >= 1 && int(ord) <= len(visible[i]) {
					visible[i][ord-1] = true
				}
			}
			return rows.Err()
		})
	}
	b.Queue("ROLLBACK")
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		// The connection may be inside an aborted transaction or mid-way;
		// never hand it back with a role set.
		conn.Conn().Close(context.Background())
		return err
	}
	return nil
}
