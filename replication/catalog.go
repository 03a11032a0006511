package replication

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// TableInfo is what the gateway checks a subscription against at join.
type TableInfo struct {
	Exists bool
	// Columns in table order, as pgoutput will announce them (no dropped or
	// generated columns), with Name, Type, TypeOID, TypeModifier and Key set.
	Columns []Column
	// InPublication is true when one of the stream's publications publishes
	// the table.
	InPublication bool
}

// tableCacheTTL bounds how stale a join-time answer may be: a burst of
// joins costs one query per table, and a table created a moment ago is
// found soon after.
const tableCacheTTL = 2 * time.Second

// catalog answers catalog queries (Table, slot rows, type names) over a
// small pool of ordinary connections, separate from the replication
// connection so that Table can be called from any goroutine. The pool is
// made on first use and closed when Run returns.
type catalog struct {
	publications []string
	pool         *Pool

	mu     sync.Mutex // guards tables
	tables map[[2]string]cachedTable
}

type cachedTable struct {
	info TableInfo
	at   time.Time
}

// newCatalog reads connString's database; afterConnect is SQL run on each
// new connection of its pool.
func newCatalog(connString, afterConnect string, publications []string) *catalog {
	return &catalog{publications: publications, tables: map[[2]string]cachedTable{},
		pool: NewPool(PoolConfig{ConnString: connString, AppName: "realtime", AfterConnect: afterConnect})}
}

func (c *catalog) get() (*pgxpool.Pool, error) { return c.pool.Get() }

func (c *catalog) close() { c.pool.Close() }

// reset drops the pool's connections after a failure: when PostgreSQL
// restarted they are all dead, and the next check would fail on one.
func (c *catalog) reset() { c.pool.Reset() }

// invalidate forgets a table, because PostgreSQL just announced its shape.
func (c *catalog) invalidate(schema, table string) {
	c.mu.Lock()
	delete(c.tables, [2]string{schema, table})
	c.mu.Unlock()
}

func (c *catalog) table(ctx context.Context, schema, table string) (TableInfo, error) {
	key := [2]string{schema, table}
	c.mu.Lock()
	e, ok := c.tables[key]
	c.mu.Unlock()
	if ok && time.Since(e.at) < tableCacheTTL {
		return e.info, nil
	}
	pool, err := c.get()
	if err != nil {
		return TableInfo{}, err
	}
	info, err := queryTable(ctx, pool, schema, table, c.publications)
	if err != nil {
		return TableInfo{}, fmt.Errorf("look up table %s.%s: %w", schema, table, err)
	}
	c.mu.Lock()
	c.tables[key] = cachedTable{info: info, at: time.Now()}
	c.mu.Unlock()
	return info, nil
}

// queryTable reads a table's replicated columns and whether a publication
// covers it. Key follows the replica identity, as pgoutput flags columns.
func queryTable(ctx context.Context, q querier, schema, table string, pubs []string) (TableInfo, error) {
	rows, err := q.Query(ctx, `
SELECT a.attname, t.typname, a.atttypid, a.atttypmod,
       CASE c.relreplident
         WHEN 'f' THEN true
         WHEN 'd' THEN EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary AND a.attnum = ANY(i.indkey))
         WHEN 'i' THEN EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisreplident AND a.attnum = ANY(i.indkey))
         ELSE false
       END,
       EXISTS (SELECT 1 FROM pg_publication_tables p
               WHERE p.pubname = ANY($3) AND p.schemaname = n.nspname AND p.tablename = c.relname)
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
LEFT JOIN pg_type t ON t.oid = a.atttypid
WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')
ORDER BY a.attnum`, schema, table, pubs)
	if err != nil {
		return TableInfo{}, err
	}
	defer rows.Close()
	var info TableInfo
	for rows.Next() {
		var name, typ *string
		var oid *uint32
		var mod *int32
		var key *bool
		if err := rows.Scan(&name, &typ, &oid, &mod, &key, &info.InPublication); err != nil {
			return TableInfo{}, err
		}
		info.Exists = true
		if name == nil {
			continue // a table without columns
		}
		col := Column{Name: *name, Key: key != nil && *key}
		if typ != nil {
			col.Type = *typ
		}
		if oid != nil {
			col.TypeOID = *oid
		}
		if mod != nil {
			col.TypeModifier = *mod
		}
		info.Columns = append(info.Columns, col)
	}
	return info, rows.Err()
}

// slot reads a slot's row over the pool.
func (c *catalog) slot(ctx context.Context, name string) (slotRow, bool, error) {
	pool, err := c.get()
	if err != nil {
		return slotRow{}, false, err
	}
	return readSlot(ctx, pool, name)
}

// typeName names a type by OID, for the decoder.
func (c *catalog) typeName(ctx context.Context, oid uint32) (string, error) {
	pool, err := c.get()
	if err != nil {
		return "", err
	}
	var name string
	err = pool.QueryRow(ctx, "SELECT typname FROM pg_type WHERE oid = $1", oid).Scan(&name)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil // dropped meanwhile: the original omits such columns' types too
	}
	if err != nil {
		return "", fmt.Errorf("look up type %d: %w", oid, err)
	}
	return name, nil
}

// Catalog answers join-time table lookups without a replication stream, for
// a gateway that receives its changes from another one (a cluster node that
// does not hold the slot). It keeps the same two-second cache as a Stream.
type Catalog struct{ c *catalog }

// NewCatalog returns a catalog of the database at connString whose answers
// say whether one of publications covers a table. It connects on first use.
func NewCatalog(connString string, publications []string) *Catalog {
	return &Catalog{c: newCatalog(connString, "", publications)}
}

// Table describes a table. Safe from any goroutine until Close.
func (c *Catalog) Table(ctx context.Context, schema, table string) (TableInfo, error) {
	return c.c.table(ctx, schema, table)
}

// Close closes the catalog's connections; later calls to Table fail.
func (c *Catalog) Close() { c.c.close() }
