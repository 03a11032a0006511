package replication

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/jackc/pgx/v5/pgxpool"
)

// PoolConfig is a small pool of ordinary connections to the stream's
// database.
type PoolConfig struct {
	ConnString string
	// AppName is the connections' application_name, unless ConnString
	// sets one.
	AppName string
	// AfterConnect is SQL run on each new connection (see
	// AfterConnectFunc); empty runs nothing.
	AfterConnect string
	// Params are more session settings, as runtime parameters.
	Params map[string]string
	// MaxConns bounds the pool (default 4).
	MaxConns int32
}

// ErrPoolClosed is Get's error after Close.
var ErrPoolClosed = errors.New("database pool is closed")

// Pool opens its connections on first use and never for the replication
// protocol: the catalog reads and the gateway's checks share this shape
// and keep one pool each. Safe for concurrent use.
type Pool struct {
	cfg    PoolConfig
	mu     sync.Mutex
	pool   *pgxpool.Pool
	closed bool
}

// NewPool returns a pool that connects on first Get.
func NewPool(cfg PoolConfig) *Pool { return &Pool{cfg: cfg} }

// Get returns the pool, making it on first use.
func (p *Pool) Get() (*pgxpool.Pool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, ErrPoolClosed
	}
	if p.pool != nil {
		return p.pool, nil
	}
	cfg, err := pgxpool.ParseConfig(p.cfg.ConnString)
	if err != nil {
		return nil, fmt.Errorf("parse connection string: %w", err)
	}
	params := cfg.ConnConfig.RuntimeParams
	delete(params, "replication")
	if _, ok := params["application_name"]; !ok && p.cfg.AppName != "" {
		params["application_name"] = p.cfg.AppName
	}
	for k, v := range p.cfg.Params {
		params[k] = v
	}
	cfg.ConnConfig.AfterConnect = AfterConnectFunc(p.cfg.AfterConnect)
	cfg.MaxConns = p.cfg.MaxConns
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = 4
	}
	cfg.MinConns = 0
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		return nil, fmt.Errorf("create the %s pool: %w", p.cfg.AppName, err)
	}
	p.pool = pool
	return pool, nil
}

// Reset drops the pool's connections after a failure: when PostgreSQL
// restarted they are all dead, and the next use would fail on one.
func (p *Pool) Reset() {
	p.mu.Lock()
	pool := p.pool
	p.mu.Unlock()
	if pool != nil {
		pool.Reset()
	}
}

// Close closes the pool; later Gets fail with ErrPoolClosed.
func (p *Pool) Close() {
	p.mu.Lock()
	pool := p.pool
	p.pool, p.closed = nil, true
	p.mu.Unlock()
	if pool != nil {
		pool.Close()
	}
}
