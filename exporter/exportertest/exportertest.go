// Package exportertest holds what the exporters' tests share: a store
// with records to export, and the check that a receiver got every record
// at least once, and none more often than at-least-once delivery allows.
package exportertest

import (
	"context"
	"path/filepath"
	"sync"
	"testing"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/store/sqlite"
	"github.com/ami-orchestrator/ami-audit/storetest"
)

// Store returns an SQLite store holding n sample records.
func Store(t testing.TB, n int) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(t.TempDir(), "audit.db"), Create: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	recs := make([]*audit.Record, 0, 1000)
	for i := range n {
		recs = append(recs, storetest.Sample(i))
		if len(recs) == cap(recs) || i == n-1 {
			if err := s.Append(context.Background(), recs); err != nil {
				t.Fatal(err)
			}
			recs = recs[:0]
		}
	}
	return s
}

// Received counts what a receiver got, by record id. It is safe for
// concurrent use.
type Received struct {
	mu sync.Mutex
	n  map[string]int
	k  int
}

// Add counts one delivery of the record id.
func (r *Received) Add(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.n == nil {
		r.n = map[string]int{}
	}
	r.n[id]++
	r.k++
}

// Total is the number of deliveries.
func (r *Received) Total() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.k
}

// Check fails t unless every record of s matching f was received at
// least once, nothing else was received, and at most maxExtra deliveries
// were repeats. It returns the number of repeats.
func (r *Received) Check(t testing.TB, s audit.Store, f audit.Filter, maxExtra int) int {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	f.Limit = -1
	want := map[string]bool{}
	missing := 0
	for rec, err := range s.Query(context.Background(), f) {
		if err != nil {
			t.Fatal(err)
		}
		want[rec.RecordID] = true
		if r.n[rec.RecordID] == 0 {
			missing++
		}
	}
	extra, unknown := 0, 0
	for id, k := range r.n {
		if !want[id] {
			unknown++
		}
		extra += k - 1
	}
	if missing > 0 || unknown > 0 || extra > maxExtra {
		t.Fatalf("%d records to export: %d never received, %d received that should not have been, %d repeats (at most %d allowed)",
			len(want), missing, unknown, extra, maxExtra)
	}
	return extra
}

// All returns every record of s, in order.
func All(t testing.TB, s audit.Store) []*audit.Record {
	t.Helper()
	var out []*audit.Record
	for r, err := range s.Range(context.Background(), 0, ^uint64(0)) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}
