package authz

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pgrealtime/realtime/test/harness"
)

// BenchmarkCheck measures one round of checks: subjects distinct users,
// each with rows primary keys, on the notes table (RLS owner = auth.uid()).
func BenchmarkCheck(b *testing.B) {
	for _, shape := range []struct{ subjects, rows int }{{17, 1}, {64, 1}, {1000, 1}, {1000, 20}, {1000, 300}} {
		b.Run(fmt.Sprintf("subjects=%d/rows=%d", shape.subjects, shape.rows), func(b *testing.B) {
			t := &testing.T{}
			_ = t
			db := suite.Database(b)
			harnessExec(b, db)
			a := startOnB(b, db)
			v := viewB(b, a, "authenticated", "notes")
			reqs := make([]Request, shape.subjects)
			for i := range reqs {
				s, _ := NewSubject(map[string]any{"role": "authenticated", "exp": 1, "sub": fmt.Sprintf("00000000-0000-0000-0000-%012d", i)})
				var rows [][]string
				for j := range shape.rows {
					rows = append(rows, []string{fmt.Sprint(i*shape.rows + j)})
				}
				reqs[i] = Request{View: v, Subject: s, Rows: rows}
			}
			b.ResetTimer()
			for b.Loop() {
				_, errs := a.Check(b.Context(), reqs)
				if errs[0] != nil {
					b.Fatal(errs[0])
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/float64(shape.subjects), "µs/subject")
		})
	}
}

// BenchmarkSnapshot measures one privilege snapshot (re-read four times a
// second while roles are in use) for 300 published tables of 10 columns
// and the three Supabase roles.
func BenchmarkSnapshot(b *testing.B) {
	db := suite.Database(b)
	var ddl strings.Builder
	ddl.WriteString(harness.NotesSchema)
	for i := range 300 {
		fmt.Fprintf(&ddl, "\nCREATE TABLE public.t%d (id bigint PRIMARY KEY, c1 text, c2 text, c3 text, c4 text, c5 text, c6 text, c7 text, c8 text, c9 text);", i)
		fmt.Fprintf(&ddl, "\nGRANT SELECT ON public.t%d TO anon, authenticated, service_role;", i)
	}
	harness.Exec(b, db, ddl.String())
	a := startOnB(b, db)
	for _, r := range []string{"anon", "authenticated", "service_role"} {
		if err := a.Acquire(b.Context(), r); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := a.reload(b.Context(), time.Time{}); err != nil {
			b.Fatal(err)
		}
	}
}
