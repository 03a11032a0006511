package authz

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// The payload errors of the original for rows a role may not have.
const (
	ErrUnauthorized = "Error 401: Unauthorized"
	ErrNoPrimaryKey = "Error 400: Bad Request, no primary key"
)

// Snapshot is what the catalog said at one moment about the published
// tables and the roles in use. Immutable; shared by every goroutine.
type Snapshot struct {
	// At is when the queries that made it started: a privilege change
	// committed before At is in it.
	At     time.Time
	tables map[[2]string]*table
	roles  map[string]*role
}

type table struct {
	schema, name string
	rls          bool
	pk           []string
	pkTypes      []string
	// check is the visibility statement, built from catalog names only.
	check string
}

type role struct {
	name   string
	bypass bool // superuser or BYPASSRLS
	// usable is true when the gateway's user may act as the role.
	usable bool
	views  map[[2]string]*View
}

// View is what one role may see of one table.
type View struct {
	// RLS is true when inserts and updates must be checked row by row for
	// this role: the table has RLS enabled and the role does not bypass it.
	RLS bool
	// TableRLS is true when the table has RLS enabled, whoever looks:
	// deletes then carry only the primary key.
	TableRLS bool
	// Err is the payload error for inserts and updates the role gets
	// without their row (ErrUnauthorized, ErrNoPrimaryKey), or "".
	Err   string
	cols  map[string]bool
	pk    map[string]bool
	table *table
}

// Can reports whether the role may SELECT the column.
func (v *View) Can(col string) bool { return v.cols[col] }

// IsKey reports whether the column is part of the table's primary key.
func (v *View) IsKey(col string) bool { return v.pk[col] }

// PrimaryKey returns the table's primary key columns in key order.
func (v *View) PrimaryKey() []string { return v.table.pk }

// View returns what role may see of schema.table, or nil when the snapshot
// does not know the role or the table: then nothing may be sent.
func (s *Snapshot) View(roleName, schema, tbl string) *View {
	if s == nil {
		return nil
	}
	r := s.roles[roleName]
	if r == nil || !r.usable {
		return nil
	}
	return r.views[[2]string{schema, tbl}]
}

// HasRLS reports whether schema.table has RLS enabled (false when unknown).
func (s *Snapshot) HasRLS(schema, tbl string) bool {
	if s == nil {
		return false
	}
	t := s.tables[[2]string{schema, tbl}]
	return t != nil && t.rls
}

const tablesSQL = `
SELECT n.nspname::text, c.relname::text, c.relrowsecurity,
  ARRAY(SELECT a.attname::text FROM pg_index i
        CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
        JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
        WHERE i.indrelid = c.oid AND i.indisprimary ORDER BY k.ord),
  ARRAY(SELECT format_type(a.atttypid, NULL) FROM pg_index i
        CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
        JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
        WHERE i.indrelid = c.oid AND i.indisprimary ORDER BY k.ord)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE (n.nspname, c.relname) IN (SELECT schemaname, tablename FROM pg_publication_tables WHERE pubname = ANY($1))`

const rolesSQL = `
SELECT r.rolname::text, r.rolsuper OR r.rolbypassrls, pg_has_role(current_user, r.oid, 'MEMBER')
FROM pg_roles r WHERE r.rolname = ANY($1)`

const privilegesSQL = `
SELECT r.rolname::text, n.nspname::text, c.relname::text,
  ARRAY(SELECT a.attname::text FROM pg_attribute a
        WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
          AND has_column_privilege(r.oid, c.oid, a.attnum, 'SELECT'))
FROM pg_roles r, pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE r.rolname = ANY($2)
  AND (n.nspname, c.relname) IN (SELECT schemaname, tablename FROM pg_publication_tables WHERE pubname = ANY($1))`

// load reads a snapshot for roles in one read-only transaction, so its
// three answers agree with each other.
func load(ctx context.Context, pool *pgxpool.Pool, publications, roles []string, at time.Time) (*Snapshot, error) {
	s := &Snapshot{At: at, tables: map[[2]string]*table{}, roles: map[string]*role{}}
	tx, err := pool.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly, IsoLevel: pgx.RepeatableRead})
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	rows, _ := tx.Query(ctx, tablesSQL, publications)
	for rows.Next() {
		t := &table{}
		if err := rows.Scan(&t.schema, &t.name, &t.rls, &t.pk, &t.pkTypes); err != nil {
			return nil, fmt.Errorf("read tables: %w", err)
		}
		t.check = checkSQL(t)
		s.tables[[2]string{t.schema, t.name}] = t
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read tables: %w", err)
	}
	if len(roles) == 0 {
		return s, nil
	}
	rows, _ = tx.Query(ctx, rolesSQL, roles)
	for rows.Next() {
		r := &role{views: map[[2]string]*View{}}
		if err := rows.Scan(&r.name, &r.bypass, &r.usable); err != nil {
			return nil, fmt.Errorf("read roles: %w", err)
		}
		s.roles[r.name] = r
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read roles: %w", err)
	}
	rows, _ = tx.Query(ctx, privilegesSQL, publications, roles)
	for rows.Next() {
		var rn, schema, name string
		var cols []string
		if err := rows.Scan(&rn, &schema, &name, &cols); err != nil {
			return nil, fmt.Errorf("read privileges: %w", err)
		}
		r, t := s.roles[rn], s.tables[[2]string{schema, name}]
		if r == nil || t == nil {
			continue
		}
		r.views[[2]string{schema, name}] = newView(t, r, cols)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read privileges: %w", err)
	}
	return s, nil
}

func newView(t *table, r *role, cols []string) *View {
	v := &View{TableRLS: t.rls, RLS: t.rls && !r.bypass, cols: make(map[string]bool, len(cols)), pk: make(map[string]bool, len(t.pk)), table: t}
	for _, c := range cols {
		v.cols[c] = true
	}
	for _, c := range t.pk {
		v.pk[c] = true
		if !v.cols[c] {
			v.Err = ErrUnauthorized
		}
	}
	if len(t.pk) == 0 {
		v.Err = ErrNoPrimaryKey
	}
	return v
}

// checkSQL is the statement that returns which of a list of primary keys
// the current role and claims can SELECT: the ordinals of the visible keys.
// Parameter i+1 is the text of key column i for every row; the last two
// are the role and claims the caller set, checked again here so that a
// setting that did not take effect hides rows instead of showing them.
func checkSQL(t *table) string {
	if len(t.pk) == 0 {
		return ""
	}
	var args, names, conds []string
	for i, col := range t.pk {
		args = append(args, fmt.Sprintf("$%d::text[]", i+1))
		names = append(names, fmt.Sprintf("k%d", i))
		conds = append(conds, fmt.Sprintf("t.%s = u.k%d::%s", pgx.Identifier{col}.Sanitize(), i, t.pkTypes[i]))
	}
	n := len(t.pk)
	if n == 1 {
		// One index scan for every key at once (= ANY), then the keys
		// found are matched back to their ordinals with the type's own
		// equality: text output need not round-trip.
		col, typ := pgx.Identifier{t.pk[0]}.Sanitize(), t.pkTypes[0]
		return fmt.Sprintf(`SELECT u.ord FROM unnest($1::text[]) WITH ORDINALITY AS u(k0, ord)
WHERE u.k0::%[3]s IN (SELECT t.%[2]s FROM %[1]s t WHERE t.%[2]s = ANY($1::text[]::%[3]s[]))
  AND current_user = $2::name AND current_setting('request.jwt.claims', true) = $3`,
			pgx.Identifier{t.schema, t.name}.Sanitize(), col, typ)
	}
	// LATERAL with LIMIT 1 keeps the lookup a nested loop over the primary
	// key index: as a semi-join the planner, which guesses 100 keys for
	// unnest, may hash the whole table instead, evaluating the policy on
	// every row of it.
	return fmt.Sprintf(`SELECT u.ord FROM unnest(%s) WITH ORDINALITY AS u(%s, ord)
CROSS JOIN LATERAL (SELECT 1 FROM %s t WHERE %s LIMIT 1) AS hit
WHERE current_user = $%d::name AND current_setting('request.jwt.claims', true) = $%d`,
		strings.Join(args, ", "), strings.Join(names, ", "),
		pgx.Identifier{t.schema, t.name}.Sanitize(), strings.Join(conds, " AND "), n+1, n+2)
}

// NewView builds a View without a database, for tests and tools: a table
// with primary key pk, whose role may SELECT cols.
func NewView(cols, pk []string, tableRLS, bypass bool) *View {
	t := &table{pk: pk, rls: tableRLS}
	return newView(t, &role{bypass: bypass}, cols)
}
