package authz

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
