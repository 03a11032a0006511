package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// writes is what the writer pool committed: rows 0..rows-1 of public.bench,
// row i with k = i % keys.
type writes struct {
	rows     int64
	took     time.Duration
	txPerSec float64
}

// expected is how many committed rows a client with filter key (-1: none) must receive.
func (w *writes) expected(key, keys int) int {
	if key < 0 {
		return int(w.rows)
	}
	n := int(w.rows) / keys
	if key < int(w.rows)%keys {
		n++
	}
	return n
}

// write commits o.rate rows per second for o.duration, o.batch rows per
// transaction, over o.writers connections. Transactions are paced by a
// central clock; writers that fall behind make the achieved rate lower,
// which the report shows.
func write(ctx context.Context, dbURL string, o options) (*writes, error) {
	conns := make([]*pgx.Conn, o.writers)
	for i := range conns {
		c, err := pgx.Connect(ctx, dbURL)
		if err != nil {
			return nil, err
		}
		defer c.Close(context.Background())
		conns[i] = c
	}
	txns := o.rate / o.batch
	if txns < 1 {
		txns = 1
	}
	interval := time.Second / time.Duration(txns)
	total := int64(o.duration.Seconds() * float64(txns))
	tokens := make(chan int64, o.writers*4)
	var next atomic.Int64
	var failed atomic.Int64
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Go(func() {
			sql := `INSERT INTO public.bench (k, seq, pad)
					SELECT s % $3, s, $4 FROM generate_series($1::bigint, $2::bigint) s`
			if o.dbcast {
				// The send time stands for the commit time, which a
				// broadcast does not carry: latency includes the commit.
				sql = `SELECT realtime.send(jsonb_build_object('seq', s, 'k', s % $3, 'pad', $4::text,
					'commit_timestamp', to_char(clock_timestamp() AT TIME ZONE 'utc', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')), 'bench', 'bench', true)
					FROM generate_series($1::bigint, $2::bigint) s`
			}
			for first := range tokens {
				_, err := c.Exec(ctx, sql, first, first+int64(o.batch)-1, o.keys, pad)
				if err != nil {
					failed.Add(int64(o.batch))
				}
			}
		})
	}
	start := time.Now()
	for i := range total {
		// Sleep to the transaction's slot on the clock, not per tick, so
		// that timer slack does not add up.
		if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
			select {
			case <-time.After(d):
			case <-ctx.Done():
			}
		}
		if ctx.Err() != nil {
			break
		}
		tokens <- next.Add(int64(o.batch)) - int64(o.batch)
	}
	close(tokens)
	wg.Wait()
	took := time.Since(start)
	if f := failed.Load(); f > 0 {
		return nil, fmt.Errorf("%d rows failed to commit", f)
	}
	rows := next.Load()
	return &writes{rows: rows, took: took, txPerSec: float64(rows/int64(o.batch)) / took.Seconds()}, nil
}
