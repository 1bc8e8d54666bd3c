package rediscache_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/redis/go-redis/v9"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/store/rediscache"
	"github.com/ami-orchestrator/ami-audit/storetest"
)

// testKey authenticates the test caches' entries.
var testKey = []byte("0123456789abcdef0123456789abcdef")

// TestRedisIsNotTrusted writes to the cache's keys as an attacker with
// access to Redis but not to the log key would: altered records, injected
// records, a record replayed under another id, forged query answers (an
// empty one hiding records, one listing an injected record). The cache
// must answer what the store holds every time.
func TestRedisIsNotTrusted(t *testing.T) {
	ctx := context.Background()
	url := redisURL(t)
	opt, _ := redis.ParseURL(url)
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	s := openSQLite(t)
	prefix := storetest.RandomName("untrusted:") + ":"
	t.Cleanup(func() {
		keys, _ := rdb.Keys(ctx, prefix+"*").Result()
		if len(keys) > 0 {
			rdb.Del(ctx, keys...)
		}
	})
	// No local copies: every read goes to Redis first.
	c, err := rediscache.New(ctx, s, rediscache.Config{Key: testKey, URL: url, Prefix: prefix, LocalTTL: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	recs := []*audit.Record{storetest.Sample(0), storetest.Sample(1), storetest.Sample(2)}
	if err := c.Append(ctx, recs); err != nil {
		t.Fatal(err)
	}
	a, b := recs[0], recs[1]
	filter := audit.Filter{Actor: a.Actor}
	want := queryIDs(t, c, filter) // computed by the store, cached
	if len(want) == 0 {
		t.Fatal("the query matches nothing")
	}
	if got := queryIDs(t, c, filter); !equal(got, want) {
		t.Fatalf("cached answer %v, store's %v", got, want)
	}
	hits, _ := c.Stats()
	if hits == 0 {
		t.Fatal("the second query was not served from the cache")
	}

	entry, err := rdb.Get(ctx, prefix+"rec:"+a.RecordID).Bytes()
	if err != nil {
		t.Fatalf("the appended record is not cached: %v", err)
	}
	injected := storetest.Sample(9)
	injected.RecordHash = "00"
	injectedJSON, _ := injected.AppendJSON(nil)

	attacks := map[string]func(){
		"a cached record altered, its tag kept": func() {
			rdb.Set(ctx, prefix+"rec:"+a.RecordID, bytes.Replace(entry, []byte(a.Actor), []byte("mallory"), 1), 0)
		},
		"a record replayed under another id": func() {
			rdb.Set(ctx, prefix+"rec:"+b.RecordID, entry, 0)
		},
		"a record injected without a tag": func() {
			rdb.Set(ctx, prefix+"rec:"+a.RecordID, append(make([]byte, 32), injectedJSON...), 0)
		},
		"an empty query answer": func() {
			fields, _ := rdb.HKeys(ctx, prefix+"queries").Result()
			for _, f := range fields {
				rdb.HSet(ctx, prefix+"queries", f, append(make([]byte, 32), "[]"...))
			}
		},
		"a query answer replayed from another query": func() {
			other := queryIDs(t, c, audit.Filter{Actor: "nobody"}) // cached: an empty answer
			if len(other) != 0 {
				t.Fatal("nobody acted")
			}
			vals, _ := rdb.HGetAll(ctx, prefix+"queries").Result()
			var empty string
			for _, v := range vals {
				if len(v) == 32+2 {
					empty = v
				}
			}
			for f := range vals {
				rdb.HSet(ctx, prefix+"queries", f, empty)
			}
		},
	}
	for name, attack := range attacks {
		attack()
		for _, r := range recs {
			got, err := c.Get(ctx, r.RecordID)
			if err != nil {
				t.Fatalf("%s: get %s: %v", name, r.RecordID, err)
			}
			if got.RecordHash != r.RecordHash || got.Actor != r.Actor {
				t.Errorf("%s: get %s answered a record the store does not hold (actor %q)", name, r.RecordID, got.Actor)
			}
		}
		if got := queryIDs(t, c, filter); !equal(got, want) {
			t.Errorf("%s: query answered %v, the store holds %v", name, got, want)
		}
		if _, err := c.Get(ctx, injected.RecordID); !errors.Is(err, audit.ErrNotFound) {
			t.Errorf("%s: the injected record is found: %v", name, err)
		}
	}
	if c.Rejected() == 0 {
		t.Error("no forged entry was counted as rejected")
	}

	// A process without the key reads nothing from Redis, not even the
	// entries written with the key.
	blind, err := rediscache.New(ctx, s, rediscache.Config{URL: url, Prefix: prefix, LocalTTL: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer blind.Close()
	queryIDs(t, blind, filter)
	if _, err := blind.Get(ctx, a.RecordID); err != nil {
		t.Fatal(err)
	}
	if hits, _ := blind.Stats(); hits != 0 {
		t.Errorf("a cache without the key served %d reads from Redis", hits)
	}
}

func queryIDs(t *testing.T, c *rediscache.Cache, f audit.Filter) []string {
	t.Helper()
	var out []string
	for r, err := range c.Query(context.Background(), f) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, r.RecordID)
	}
	return out
}

func equal(a, b []string) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}
