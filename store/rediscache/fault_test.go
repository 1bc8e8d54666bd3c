package rediscache_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/ledger"
	"github.com/ami-orchestrator/ami-audit/store/rediscache"
	"github.com/ami-orchestrator/ami-audit/store/sqlite"
	"github.com/ami-orchestrator/ami-audit/storetest"
)

// privateRedis is a redis-server of the test's own, on a free port, so it
// can be killed and restarted without touching the shared one.
type privateRedis struct {
	t    *testing.T
	port int
	dir  string
	cmd  *exec.Cmd
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func startRedis(t *testing.T) *privateRedis {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv(storetest.EnvRequireServers) == "1" {
			t.Fatal("redis-server is not installed")
		}
		t.Skip("redis-server is not installed; the fault tests start their own")
	}
	r := &privateRedis{t: t, port: freePort(t), dir: t.TempDir()}
	r.start()
	t.Cleanup(r.kill)
	return r
}

func (r *privateRedis) url() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", r.port) }

func (r *privateRedis) start() {
	r.t.Helper()
	r.cmd = exec.Command("redis-server", "--port", fmt.Sprint(r.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", r.dir)
	r.cmd.Stdout, r.cmd.Stderr = nil, nil
	if err := r.cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	rdb := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", r.port)})
	defer rdb.Close()
	for i := 0; ; i++ {
		if rdb.Ping(context.Background()).Err() == nil {
			return
		}
		if i == 200 {
			r.t.Fatal("private redis-server does not answer")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (r *privateRedis) kill() {
	if r.cmd != nil && r.cmd.Process != nil {
		r.cmd.Process.Kill()
		r.cmd.Wait()
		r.cmd = nil
	}
}

// logBuffer collects log lines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(l.b.String(), s)
}

func openSQLite(t *testing.T) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(t.TempDir(), "a.db"), Create: true})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestRedisKilled kills Redis in the middle of a run and restarts it: the
// cache keeps working from the store with one warning, loses nothing, and
// uses Redis again once it is back.
func TestRedisKilled(t *testing.T) {
	ctx := context.Background()
	r := startRedis(t)
	var logs logBuffer
	c, err := rediscache.New(ctx, openSQLite(t), rediscache.Config{Key: testKey, URL: r.url(), Prefix: "fault:", RetryAfter: 100 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var all []*audit.Record
	appendN := func(n int) {
		t.Helper()
		recs := make([]*audit.Record, n)
		for i := range recs {
			recs[i] = storetest.Sample(len(all) + i)
		}
		if err := c.Append(ctx, recs); err != nil {
			t.Fatalf("append with Redis %s: %v", map[bool]string{true: "up", false: "down"}[r.cmd != nil], err)
		}
		all = append(all, recs...)
	}
	getAll := func() {
		t.Helper()
		for _, want := range all {
			got, err := c.Get(ctx, want.RecordID)
			if err != nil {
				t.Fatal(err)
			}
			if got.RecordHash != want.RecordHash {
				t.Fatalf("record %d: wrong record", want.Sequence)
			}
		}
	}
	appendN(20)
	getAll()
	if hits, _ := c.Stats(); hits != 20 {
		t.Fatalf("%d cache hits after appending and reading 20 records, want 20 (appends write through)", hits)
	}

	r.kill()
	for range 5 {
		appendN(4)
	}
	getAll()
	if err := c.SetStatus(ctx, all[0].RecordID, audit.StatusAnalyzed); err != nil {
		t.Fatal(err)
	}
	if got, _ := c.Get(ctx, all[0].RecordID); got.Status != audit.StatusAnalyzed {
		t.Errorf("status read while Redis is down: %s", got.Status)
	}
	if n := logs.count("redis cache unavailable"); n != 1 {
		t.Errorf("%d warnings while Redis was down, want exactly 1:\n%s", n, logs.b.String())
	}
	if res, err := ledger.VerifyChain(ctx, c, ledger.VerifyOptions{}); err != nil || res.Size != 40 {
		t.Fatalf("verify through the cache with Redis down: %d records, %v", res.Size, err)
	}

	r.start()
	time.Sleep(150 * time.Millisecond)
	appendN(5)
	getAll()
	if n := logs.count("redis cache is back"); n != 1 {
		t.Errorf("recovery logged %d times, want once:\n%s", n, logs.b.String())
	}
	hitsBefore, _ := c.Stats()
	getAll()
	if hits, _ := c.Stats(); hits-hitsBefore != int64(len(all)) {
		t.Errorf("after recovery %d of %d reads hit the cache", hits-hitsBefore, len(all))
	}
	if got, _ := c.Get(ctx, all[0].RecordID); got.Status != audit.StatusAnalyzed {
		t.Errorf("status after recovery: %s", got.Status)
	}
	if h, _ := c.Head(ctx); h.Size != uint64(len(all)) {
		t.Errorf("head %d, appended %d", h.Size, len(all))
	}
}

// TestRedisUnresponsive pauses Redis (it keeps its data but does not
// answer) while a record's status changes: the cached copy is stale, and
// must not be served once Redis answers again.
func TestRedisUnresponsive(t *testing.T) {
	ctx := context.Background()
	r := startRedis(t)
	var logs logBuffer
	c, err := rediscache.New(ctx, openSQLite(t), rediscache.Config{Key: testKey, URL: r.url(), Prefix: "pause:", RetryAfter: 100 * time.Millisecond,
		Timeout: 100 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	recs := []*audit.Record{storetest.Sample(0), storetest.Sample(1)}
	if err := c.Append(ctx, recs); err != nil {
		t.Fatal(err)
	}
	id := recs[1].RecordID
	if got, _ := c.Get(ctx, id); got.Status != audit.StatusRecorded {
		t.Fatal(got.Status)
	}
	admin := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", r.port)})
	defer admin.Close()
	if err := admin.Do(ctx, "CLIENT", "PAUSE", "800", "ALL").Err(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := c.SetStatus(ctx, id, audit.StatusVerified); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 600*time.Millisecond {
		t.Errorf("SetStatus took %s while Redis was paused", d)
	}
	if logs.count("redis cache unavailable") != 1 {
		t.Fatalf("no warning while Redis was paused:\n%s", logs.b.String())
	}
	time.Sleep(time.Second) // the pause ends; the stale copy is still in Redis
	if n, _ := admin.Exists(ctx, "pause:rec:"+id).Result(); n != 1 {
		t.Fatalf("the test needs the stale copy in Redis (exists = %d)", n)
	}
	got, err := c.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != audit.StatusVerified {
		t.Errorf("after Redis answered again the cache served status %s, want verified", got.Status)
	}
}

// TestRedisSilent points the cache at a server that accepts connections
// and never answers: New and every operation return within the timeout.
func TestRedisSilent(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			defer conn.Close()
		}
	}()
	ctx := context.Background()
	start := time.Now()
	var logs logBuffer
	c, err := rediscache.New(ctx, openSQLite(t), rediscache.Config{Key: testKey, URL: "redis://" + l.Addr().String() + "/0", Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rec := storetest.Sample(0)
	if err := c.Append(ctx, []*audit.Record{rec}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(ctx, rec.RecordID); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("a silent Redis cost %s", d)
	}
	if logs.count("redis cache unavailable") != 1 {
		t.Errorf("want one warning:\n%s", logs.b.String())
	}
	if _, err := c.Watch(ctx); err == nil {
		t.Error("Watch on a silent Redis succeeded")
	}
}

// TestTwoProcessesInvalidate runs two caches on one store and one Redis,
// as two processes would: a status change through one reaches the
// other's local copy through the invalidation channel.
func TestTwoProcessesInvalidate(t *testing.T) {
	ctx := context.Background()
	url := redisURL(t)
	s := openSQLite(t)
	prefix := storetest.RandomName("two:") + ":"
	open := func() *rediscache.Cache {
		c, err := rediscache.New(ctx, s, rediscache.Config{Key: testKey, URL: url, Prefix: prefix})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	c1, c2 := open(), open()
	defer c1.Close()
	defer c2.Close() // the store's Close is idempotent
	rec := storetest.Sample(0)
	if err := c1.Append(ctx, []*audit.Record{rec}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // both subscribed
	for _, st := range []audit.Status{audit.StatusAnalyzed, audit.StatusVerified} {
		if got, _ := c1.Get(ctx, rec.RecordID); got == nil {
			t.Fatal("no record")
		}
		if err := c2.SetStatus(ctx, rec.RecordID, st); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(time.Second)
		for {
			got, err := c1.Get(ctx, rec.RecordID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status == st {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the other process still reads status %s, want %s", got.Status, st)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}
