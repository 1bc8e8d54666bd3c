package rediscache_test

import (
	"context"
	"testing"
	"time"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/store"
	"github.com/ami-orchestrator/ami-audit/store/postgres/pgtest"
	"github.com/ami-orchestrator/ami-audit/store/rediscache"
	"github.com/ami-orchestrator/ami-audit/storetest"
)

// BenchmarkGet reads recent records by id, b.N times from PostgreSQL
// directly and b.N times through the cache, in the same run: with local
// copies (the default) and from Redis alone.
//
//	go test ./store/rediscache -run '^$' -bench Get -benchtime 20000x
func BenchmarkGet(b *testing.B) {
	b.Run("local+redis", func(b *testing.B) { benchGet(b, 0) })
	b.Run("redis", func(b *testing.B) { benchGet(b, -1) })
}

func benchGet(b *testing.B, localTTL time.Duration) {
	ctx := context.Background()
	inst := pgtest.Open(b, pgtest.URL(b), store.Options{Create: true})
	pg := inst.Store
	c := wrapConfig(b, pg, rediscache.Config{Key: testKey, URL: redisURL(b), LocalTTL: localTTL})
	recs := make([]*audit.Record, 1000)
	for i := range recs {
		recs[i] = storetest.Sample(i)
	}
	if err := c.Append(ctx, recs); err != nil {
		b.Fatal(err)
	}
	recent := recs[900:]
	get := func(s audit.Store) time.Duration {
		start := time.Now()
		for i := range b.N {
			r, err := s.Get(ctx, recent[i%len(recent)].RecordID)
			if err != nil || r.RecordID != recent[i%len(recent)].RecordID {
				b.Fatal(err)
			}
		}
		return time.Since(start)
	}
	b.ResetTimer()
	direct := get(pg)
	hits0, _ := c.Stats()
	cached := get(c)
	b.StopTimer()
	if hits, _ := c.Stats(); hits-hits0 != int64(b.N) {
		b.Fatalf("%d of %d reads hit the cache", hits-hits0, b.N)
	}
	b.ReportMetric(float64(direct.Nanoseconds())/float64(b.N), "postgres-ns/get")
	b.ReportMetric(float64(cached.Nanoseconds())/float64(b.N), "cached-ns/get")
	b.ReportMetric(float64(direct)/float64(cached), "speedup")
}
