package postgres_test

import (
	"context"
	"sync"
	"testing"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/ledger"
	"github.com/ami-orchestrator/ami-audit/store"
	"github.com/ami-orchestrator/ami-audit/store/postgres/pgtest"
	"github.com/ami-orchestrator/ami-audit/storetest"
)

// TestStoresShareOneDatabase appends through three stores on one database
// (as three processes would), alternately and then concurrently: each
// store's one-round-trip commit must notice that another moved the tip,
// and relink. The chain verifies and holds every record once.
func TestStoresShareOneDatabase(t *testing.T) {
	ctx := context.Background()
	inst := pgtest.Open(t, pgtest.URL(t), store.Options{Create: true})
	stores := []audit.Store{inst.Store}
	for range 2 {
		s, err := inst.Reopen(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		stores = append(stores, s)
	}
	n := 0
	for i := range 30 {
		if err := stores[i%3].Append(ctx, []*audit.Record{storetest.Sample(n), storetest.Sample(n + 1)}); err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
		n += 2
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	for w := range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				if err := stores[w%3].Append(ctx, []*audit.Record{storetest.Sample(1000 + w*100 + i)}); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				n++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	res, err := ledger.Verify(ctx, stores[1].(storetest.Verifiable), ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Size != uint64(n) {
		t.Fatalf("verified %d records, appended %d", res.Size, n)
	}
	for _, s := range stores {
		if h, _ := s.Head(ctx); h.Size != uint64(n) || h.Hash != res.LastHash {
			t.Errorf("a store sees head %+v, want %d %s", h, n, res.LastHash)
		}
	}
}

// TestNULInText stores records whose actor and context hold NUL, which
// PostgreSQL text and jsonb refuse: the body keeps them exactly, the query
// columns hold U+FFFD, and queries by the exact value find exactly them.
func TestNULInText(t *testing.T) {
	ctx := context.Background()
	inst := pgtest.Open(t, pgtest.URL(t), store.Options{Create: true})
	a, b := storetest.Sample(0), storetest.Sample(1)
	a.Classification = audit.ClassInternal // context in the clear
	a.Actor = "nul\x00actor"
	a.Context = map[string]any{"k": "v\x00w"}
	b.Actor = "nul\uFFFDactor"
	if err := inst.Store.Append(ctx, []*audit.Record{a, b}); err != nil {
		t.Fatal(err)
	}
	got, err := inst.Store.Get(ctx, a.RecordID)
	if err != nil || got.Actor != a.Actor || got.Context["k"] != "v\x00w" {
		t.Fatalf("read back %q %v (%v)", got.Actor, got.Context, err)
	}
	for _, actor := range []string{a.Actor, b.Actor} {
		var ids []string
		for r, err := range inst.Store.Query(ctx, audit.Filter{Actor: actor, Limit: -1}) {
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, r.RecordID)
		}
		if len(ids) != 1 {
			t.Errorf("query by actor %q found %d records", actor, len(ids))
		}
	}
	if _, err := ledger.VerifyChain(ctx, inst.Store.(storetest.Verifiable), ledger.VerifyOptions{}); err != nil {
		t.Fatal(err)
	}
}
