package join

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/pgrealtime/realtime/filters"
	"github.com/pgrealtime/realtime/replication"
)

// Catalog is what a Checker asks of the replication stream
// (replication.Stream answers): a table's columns and whether a
// publication publishes it, from a short-lived cache, and whether the
// first slot exists.
type Catalog interface {
	Table(ctx context.Context, schema, table string) (replication.TableInfo, error)
	// WaitLive returns once the stream has started at least once: from
	// then on its slot keeps every change.
	WaitLive(ctx context.Context) error
}

// lookupTimeout bounds one catalog question; past it the join goes on
// unchecked rather than wait on a slow database.
const lookupTimeout = 3 * time.Second

// Checker refuses, at join, a subscription that could never deliver: the
// first slot does not exist yet, its table or a column is missing, or no
// publication publishes the table. It is built once per server and never
// changes.
type Checker struct {
	catalog      Catalog
	publications []string
	log          *slog.Logger
}

// NewChecker returns a Checker that asks catalog, names publications (at
// least one) in the fix it suggests, and logs on log when the catalog
// cannot answer. With a nil catalog it lets every join through.
func NewChecker(catalog Catalog, publications []string, log *slog.Logger) *Checker {
	return &Checker{catalog: catalog, publications: publications, log: log}
}

// FirstSlot holds a join made before the stream ever started, for up to
// wait: a change committed before the first slot exists could not reach
// it, and the reply must not promise otherwise. Once the stream has
// started, the slot keeps what is committed while it reconnects, so joins
// never wait again.
func (k *Checker) FirstSlot(wait time.Duration) *Refusal {
	if k.catalog == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := k.catalog.WaitLive(ctx); err != nil {
		return Initializing()
	}
	return nil
}

// Topic refuses a table topic that cannot deliver anything (missing
// table or column, table outside the publication). It returns nil when it
// can or when the catalog cannot be asked right now: a join never fails
// because the database is briefly unreachable.
func (k *Checker) Topic(t filters.Topic) *Refusal {
	if t.Table == "" || t.Table == filters.Wildcard {
		return nil
	}
	reason := k.columns(t.Schema, t.Table, func(cols map[string]string) string {
		if t.Column != "" {
			if _, ok := cols[t.Column]; !ok {
				return fmt.Sprintf("column %q does not exist in table %s.%s", t.Column, t.Schema, t.Table)
			}
		}
		return ""
	})
	if reason == "" {
		return nil
	}
	return Undeliverable(reason)
}

// Binding validates a postgres_changes binding against the catalog and
// casts its filter values to the column types. It returns the error the
// original reports after the join, or "".
func (k *Checker) Binding(b *filters.Binding) string {
	if b.Schema == filters.Wildcard || b.Table == "" || b.Table == filters.Wildcard {
		return ""
	}
	reason := k.columns(b.Schema, b.Table, func(cols map[string]string) string {
		for c := range b.Selected {
			if _, ok := cols[c]; !ok {
				return fmt.Sprintf("invalid column in select: %s does not exist in %s.%s", c, b.Schema, b.Table)
			}
		}
		for i := range b.Filter {
			cond := &b.Filter[i]
			typ, ok := cols[cond.Column]
			if !ok {
				return fmt.Sprintf("invalid column for filter %s: column does not exist in %s.%s", cond.Column, b.Schema, b.Table)
			}
			if err := cond.Bind(typ); err != nil {
				return fmt.Sprintf("invalid filter value: %v", err)
			}
		}
		b.IndexByValue(cols)
		return ""
	})
	return reason
}

// columns looks a table up and runs check on its column types. It
// returns why the join cannot deliver, or "" when it can or when the
// catalog could not be asked (a join never fails because the database is
// briefly unreachable).
func (k *Checker) columns(schema, table string, check func(cols map[string]string) string) string {
	if k.catalog == nil {
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), lookupTimeout)
	defer cancel()
	info, err := k.catalog.Table(ctx, schema, table)
	if err != nil {
		k.log.Warn("cannot check table at join", "schema", schema, "table", table, "err", err)
		return ""
	}
	name := schema + "." + table
	if !info.Exists {
		return fmt.Sprintf("table %s does not exist", name)
	}
	cols := make(map[string]string, len(info.Columns))
	for _, col := range info.Columns {
		cols[col.Name] = col.Type
	}
	if reason := check(cols); reason != "" {
		return reason
	}
	if !info.InPublication {
		return fmt.Sprintf("table %s is not in publication %s, so no change of it is replicated: run ALTER PUBLICATION %s ADD TABLE %s;",
			name, strings.Join(k.publications, ", "), k.publications[0], name)
	}
	return ""
}
