package rediscache_test

import (
	"context"
	"testing"

	"github.com/redis/go-redis/v9"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/store"
	"github.com/ami-orchestrator/ami-audit/store/postgres/pgtest"
	"github.com/ami-orchestrator/ami-audit/store/rediscache"
	"github.com/ami-orchestrator/ami-audit/storetest"
)

const exampleRedis = "redis://127.0.0.1:6379/0"

func redisURL(t testing.TB) string { return storetest.ServerURL(t, storetest.EnvRedis, exampleRedis) }

// TestConformance runs the store conformance suite against PostgreSQL
// behind the cache; the tamper tests edit the PostgreSQL rows.
func TestConformance(t *testing.T) {
	pg := pgtest.URL(t)
	rurl := redisURL(t)
	storetest.Run(t, storetest.Harness{Slow: true, Open: func(t *testing.T, opts store.Options) *storetest.Instance {
		inst := pgtest.Open(t, pg, opts)
		c := wrap(t, inst.Store, rurl)
		inst.Store = c
		return inst
	}})
}

// wrap puts a cache with a key prefix of its own in front of s; the keys
// are deleted when the test ends.
func wrap(t testing.TB, s audit.Store, url string) *rediscache.Cache {
	t.Helper()
	return wrapConfig(t, s, rediscache.Config{Key: testKey, URL: url})
}

func wrapConfig(t testing.TB, s audit.Store, cfg rediscache.Config) *rediscache.Cache {
	t.Helper()
	url := cfg.URL
	prefix := storetest.RandomName("ami-audit-test:") + ":"
	cfg.Prefix = prefix
	c, err := rediscache.New(context.Background(), s, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Close()
		opt, _ := redis.ParseURL(url)
		rdb := redis.NewClient(opt)
		defer rdb.Close()
		ctx := context.Background()
		keys, _ := rdb.Keys(ctx, prefix+"*").Result()
		if len(keys) > 0 {
			rdb.Del(ctx, keys...)
		}
	})
	return c
}
