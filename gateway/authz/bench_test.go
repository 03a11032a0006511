package authz

import (
	"fmt"
	"testing"
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
