package replication

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"
)

// AfterConnectFunc returns a pgconn hook that runs query on each new
// ordinary connection, or nil when query is empty. The query goes through
// the simple protocol, so it may hold several statements (as
// DB_AFTER_CONNECT_QUERY may). It is not for the replication connection:
// there the session speaks the replication protocol, and nothing pgoutput
// sends depends on session settings such as search_path.
func AfterConnectFunc(query string) pgconn.AfterConnectFunc {
	if query == "" {
		return nil
	}
	return func(ctx context.Context, conn *pgconn.PgConn) error {
		if _, err := conn.Exec(ctx, query).ReadAll(); err != nil {
			return fmt.Errorf("run the after-connect query (DB_AFTER_CONNECT_QUERY) %q: %w", query, err)
		}
		return nil
	}
}

// NewCatalogConfig is NewCatalog for cfg's database, publications (default
// ["supabase_realtime"]) and after-connect query.
func NewCatalogConfig(cfg Config) *Catalog {
	pubs := cfg.Publications
	if len(pubs) == 0 {
		pubs = []string{DefaultPublication}
	}
	return &Catalog{c: newCatalog(cfg.ConnString, cfg.AfterConnect, pubs)}
}
