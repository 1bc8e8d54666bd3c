// Package rediscache is a decorator that puts Redis in front of any
// audit.Store: recent records by id and recent query results are served
// from Redis, and every committed append is announced on a pub/sub channel
// (what 'ami-audit query --follow' listens to).
//
// The store behind the cache stays the store of record. Appends, signature
// and status changes go to it first; the cache is then updated or
// invalidated. Everything verification reads (raw rows, tree hashes, tree
// heads) is forwarded to the store unchanged, never served from Redis.
//
// Redis is optional at run time: when it does not answer, the cache logs
// one warning, serves everything from the store, and tries Redis again a
// little later. Because an invalidation may have been missed while Redis
// was unreachable, the first successful contact afterwards deletes every
// cached entry of this trail before anything is read from it. When
// several processes share a trail, each should use the cache: a process
// that changes signatures or status without it leaves other processes'
// cached copies stale for up to RecordTTL (new appends are always seen,
// because query results are keyed by the size of the log).
package rediscache

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/ledger"
	"github.com/ami-orchestrator/ami-audit/store"
)

// Config says which Redis to use and how long entries live.
type Config struct {
	// URL is redis://[user:password@]host:port/db (or rediss:// for TLS).
	URL string
	// Prefix starts every key and the channel name. Trails sharing a
	// Redis need different prefixes; the default is "ami-audit:", the
	// log's id and the store's id, so that two logs — or two copies of
	// one log — never read each other's entries.
	Prefix string
	// Key authenticates cache entries (HMAC-SHA-256). Redis is not
	// trusted: whoever can write to it could otherwise make the cache
	// answer with records the store does not hold or hide records it
	// does. Every entry is written with a tag under Key and read only
	// when the tag checks; a record is also checked against its own
	// hash and id. Without a Key (a process that does not hold the log
	// key, from which the command line derives it) nothing is read from
	// Redis: every read goes to the store, and the cache only carries
	// announcements.
	Key []byte
	// RecordTTL is how long a record stays cached (default 5 minutes).
	RecordTTL time.Duration
	// QueryTTL is how long a query result stays cached (default 30s).
	QueryTTL time.Duration
	// MaxQueryRecords: larger query results are not cached (default 1000).
	MaxQueryRecords int
	// MaxAppendCache: appends of more records are not written to the
	// cache, only announced (default 1000).
	MaxAppendCache int
	// Timeout bounds each Redis operation (default 250ms).
	Timeout time.Duration
	// RetryAfter is how long Redis is left alone after it failed
	// (default 2s).
	RetryAfter time.Duration
	// Logger receives the warning when Redis fails and the notice when it
	// recovers (default slog.Default()).
	Logger *slog.Logger
	// LocalTTL is how long a record stays in this process's own memory
	// (default 5s; negative: no local copies). Local copies are kept only
	// while this process is subscribed to the trail's invalidation
	// channel, and are dropped when any process announces a change.
	LocalTTL time.Duration
	// LocalMax bounds the local copies (default 10,000).
	LocalMax int
}

// Validate checks the configuration and fills the defaults.
func (c *Config) Validate() error {
	if c.URL == "" {
		return errors.New("redis cache: no URL")
	}
	if _, err := redis.ParseURL(c.URL); err != nil {
		return fmt.Errorf("redis cache %s: %w", store.Redact(c.URL), store.RedactError(err, c.URL))
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.RecordTTL, 5*time.Minute)
	def(&c.QueryTTL, 30*time.Second)
	def(&c.Timeout, 250*time.Millisecond)
	def(&c.RetryAfter, 2*time.Second)
	if c.MaxQueryRecords <= 0 {
		c.MaxQueryRecords = 1000
	}
	if c.MaxAppendCache <= 0 {
		c.MaxAppendCache = 1000
	}
	if c.LocalTTL == 0 {
		c.LocalTTL = 5 * time.Second
	}
	if c.LocalMax <= 0 {
		c.LocalMax = 10000
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// String describes the configuration with the password redacted.
func (c Config) String() string { return store.Redact(c.URL) }

// Cache is an audit.Store that serves recent reads from Redis.
type Cache struct {
	inner  audit.Store
	rdb    *redis.Client
	cfg    Config
	prefix string

	mu        sync.Mutex
	downUntil time.Time
	down      bool // a failure was logged and not yet followed by a recovery
	dirty     bool // an invalidation may have been missed

	hits, misses atomic.Int64
	rejected     atomic.Int64 // entries read from Redis whose tag or content did not check

	local      local
	subscribed atomic.Bool
	sub        *redis.PubSub
	cancel     context.CancelFunc
	done       chan struct{}
}

// local holds recent records in this process's memory, as Redis's own
// client-side caching does: only while the invalidation subscription is
// up, so that a change announced by any process is never missed.
type local struct {
	mu  sync.Mutex
	on  bool
	m   map[string]localEntry
	ttl time.Duration
	max int
}

type localEntry struct {
	r   *audit.Record
	exp time.Time
}

func (l *local) get(id string) *audit.Record {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.m[id]
	if !ok || !l.on {
		return nil
	}
	if time.Now().After(e.exp) {
		delete(l.m, id)
		return nil
	}
	return e.r.Clone()
}

func (l *local) put(r *audit.Record) {
	if l.ttl < 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.on {
		return
	}
	if len(l.m) >= l.max {
		clear(l.m)
	}
	l.m[r.RecordID] = localEntry{r: r.Clone(), exp: time.Now().Add(l.ttl)}
}

func (l *local) drop(id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if id == "*" {
		clear(l.m)
		return
	}
	delete(l.m, id)
}

// enable turns local copies on (subscribed) or off (not subscribed),
// dropping what is held either way.
func (l *local) enable(on bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	clear(l.m)
	l.on = on
}

// New wraps inner. It does not fail when Redis is unreachable: the cache
// then works from inner and keeps trying Redis.
func New(ctx context.Context, inner audit.Store, cfg Config) (*Cache, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	opt, _ := redis.ParseURL(cfg.URL)
	opt.DialTimeout = cfg.Timeout
	opt.ReadTimeout = cfg.Timeout
	opt.WriteTimeout = cfg.Timeout
	opt.PoolTimeout = cfg.Timeout
	opt.MaxRetries = -1
	opt.ContextTimeoutEnabled = true
	if cfg.Prefix == "" {
		cfg.Prefix = "ami-audit:"
		if o, ok := inner.(interface{ Identity() store.Identity }); ok {
			id := o.Identity()
			cfg.Prefix += id.LogID + ":" + id.StoreID + ":"
		} else if o, ok := inner.(interface{ Origin() string }); ok {
			cfg.Prefix += o.Origin() + ":"
		}
	}
	c := &Cache{inner: inner, rdb: redis.NewClient(opt), cfg: cfg, prefix: cfg.Prefix,
		local: local{m: map[string]localEntry{}, ttl: cfg.LocalTTL, max: cfg.LocalMax}, done: make(chan struct{})}
	c.call(ctx, func(ctx context.Context) error { return c.rdb.Ping(ctx).Err() })
	sctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	c.sub = c.rdb.Subscribe(sctx)
	go c.invalidations(sctx)
	return c, nil
}

// invalidationChannel carries the ids of records changed by any process
// ("*": everything).
func (c *Cache) invalidationChannel() string { return c.prefix + "invalidate" }

// invalidations keeps local copies coherent: they are served only while
// this subscription is up; a lost connection drops them all.
func (c *Cache) invalidations(ctx context.Context) {
	defer close(c.done)
	sub := c.sub
	if c.cfg.LocalTTL < 0 {
		return
	}
	for sub.Subscribe(ctx, c.invalidationChannel()) != nil {
		select {
		case <-ctx.Done():
			return
		case <-time.After(c.cfg.RetryAfter):
		}
	}
	for {
		msg, err := sub.Receive(ctx)
		if ctx.Err() != nil {
			return
		}
		switch m := msg.(type) {
		case *redis.Subscription:
			on := m.Kind == "subscribe"
			c.subscribed.Store(on)
			c.local.enable(on)
		case *redis.Message:
			c.local.drop(m.Payload)
		case *redis.Pong:
		default:
			if err != nil {
				c.subscribed.Store(false)
				c.local.enable(false)
				select {
				case <-ctx.Done():
					return
				case <-time.After(c.cfg.RetryAfter):
				}
			}
		}
	}
}

// Unwrap returns the store of record.
func (c *Cache) Unwrap() audit.Store { return c.inner }

// Stats reports cache hits and misses of Get and Query since New.
func (c *Cache) Stats() (hits, misses int64) { return c.hits.Load(), c.misses.Load() }

// Channel is the pub/sub channel announcing committed appends.
func (c *Cache) Channel() string { return c.prefix + "records" }

func (c *Cache) recordKey(id string) string { return c.prefix + "rec:" + id }
func (c *Cache) queriesKey() string         { return c.prefix + "queries" }

// call runs op against Redis unless Redis is resting after a failure. It
// reports whether op ran and succeeded (redis.Nil counts as success).
func (c *Cache) call(ctx context.Context, op func(ctx context.Context) error) bool {
	c.mu.Lock()
	if c.down && time.Now().Before(c.downUntil) {
		c.mu.Unlock()
		return false
	}
	dirty := c.dirty
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	if dirty {
		if err := c.flush(ctx); err != nil {
			c.fail(err)
			return false
		}
	}
	err := op(ctx)
	if err != nil && !errors.Is(err, redis.Nil) {
		if ctx.Err() != nil && errors.Is(err, context.Canceled) {
			return false
		}
		c.fail(err)
		return false
	}
	c.mu.Lock()
	if c.down {
		c.down = false
		c.cfg.Logger.Info("redis cache is back", "redis", c.cfg.String())
		c.local.enable(c.subscribed.Load())
	}
	if dirty {
		c.dirty = false
	}
	c.mu.Unlock()
	return true
}

// fail notes a Redis failure: one warning per outage.
func (c *Cache) fail(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.down {
		c.cfg.Logger.Warn("redis cache unavailable; reading and writing the store directly until it answers again",
			"redis", c.cfg.String(), "error", err)
	}
	c.down = true
	c.dirty = true
	c.downUntil = time.Now().Add(c.cfg.RetryAfter)
}

// flush deletes every cached entry of this trail.
func (c *Cache) flush(ctx context.Context) error {
	iter := c.rdb.Scan(ctx, 0, c.prefix+"*", 1000).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
		if len(keys) == 1000 {
			if err := c.rdb.Del(ctx, keys...).Err(); err != nil {
				return err
			}
			keys = keys[:0]
		}
	}
	if err := iter.Err(); err != nil {
		return err
	}
	if len(keys) > 0 {
		if err := c.rdb.Del(ctx, keys...).Err(); err != nil {
			return err
		}
	}
	// Other processes may hold local copies of what was missed.
	return c.rdb.Publish(ctx, c.invalidationChannel(), "*").Err()
}

// sealed returns payload with an authentication tag under the cache's
// key in front (tag || payload), bound to what the entry is (kind) and
// where it is stored (name), so that an entry cannot be replayed under
// another name.
func (c *Cache) sealed(kind, name string, payload []byte) []byte {
	m := hmac.New(sha256.New, c.cfg.Key)
	m.Write([]byte(c.prefix + kind + "\x00" + name + "\x00"))
	m.Write(payload)
	return append(m.Sum(make([]byte, 0, sha256.Size+len(payload))), payload...)
}

// open checks an entry read from Redis and returns its payload, or false
// when the tag does not check (a forged or corrupted entry, or one
// written under another key).
func (c *Cache) open(kind, name string, entry []byte) ([]byte, bool) {
	if len(c.cfg.Key) == 0 || len(entry) < sha256.Size {
		return nil, false
	}
	m := hmac.New(sha256.New, c.cfg.Key)
	m.Write([]byte(c.prefix + kind + "\x00" + name + "\x00"))
	m.Write(entry[sha256.Size:])
	if !hmac.Equal(m.Sum(nil), entry[:sha256.Size]) {
		c.rejected.Add(1)
		return nil, false
	}
	return entry[sha256.Size:], true
}

// trusted reports whether entries may be read from Redis at all.
func (c *Cache) trusted() bool { return len(c.cfg.Key) > 0 }

// encode is the cached form of a record: its export JSON, without the
// values of committed fields (they never leave the store of record).
func encode(r *audit.Record) ([]byte, error) { return r.Masked().AppendJSON(nil) }

// decode reads a cached record and checks it is the record asked for and
// that its content hashes to its record_hash.
func decode(b []byte, id string) (*audit.Record, error) {
	r := new(audit.Record)
	if err := json.Unmarshal(b, r); err != nil {
		return nil, err
	}
	if id != "" && r.RecordID != id {
		return nil, fmt.Errorf("cached entry for %s holds record %s", id, r.RecordID)
	}
	if h, err := r.Hash(); err != nil || h != r.RecordHash {
		return nil, fmt.Errorf("cached record %s does not match its record_hash", r.RecordID)
	}
	return r, nil
}

// Append implements audit.Appender: the store first, then the cache and
// the announcement.
func (c *Cache) Append(ctx context.Context, recs []*audit.Record) error {
	if err := c.inner.Append(ctx, recs); err != nil {
		return err
	}
	c.appended(ctx, recs)
	return nil
}

func (c *Cache) appended(ctx context.Context, recs []*audit.Record) {
	c.call(ctx, func(ctx context.Context) error {
		p := c.rdb.Pipeline()
		if len(recs) <= c.cfg.MaxAppendCache && c.trusted() {
			for _, r := range recs {
				b, err := encode(r)
				if err != nil {
					continue
				}
				p.Set(ctx, c.recordKey(r.RecordID), c.sealed("rec", r.RecordID, b), c.cfg.RecordTTL)
				c.local.put(r.Masked())
			}
		}
		if n := len(recs); n > 0 {
			last := recs[n-1]
			msg, _ := json.Marshal(audit.Head{Size: last.Sequence + 1, Hash: last.RecordHash})
			p.Publish(ctx, c.Channel(), msg)
		}
		_, err := p.Exec(ctx)
		return err
	})
}

// AppendStream forwards to the store and announces the new head.
func (c *Cache) AppendStream(ctx context.Context, seq iter.Seq2[*audit.Record, error]) (int, error) {
	return c.AppendStreamSigned(ctx, seq, nil)
}

// AppendStreamSigned forwards to the store and announces the new head.
func (c *Cache) AppendStreamSigned(ctx context.Context, seq iter.Seq2[*audit.Record, error], sign func(*audit.Record) error) (int, error) {
	var n int
	var err error
	if sign == nil {
		st, ok := c.inner.(interface {
			AppendStream(context.Context, iter.Seq2[*audit.Record, error]) (int, error)
		})
		if !ok {
			return 0, fmt.Errorf("%T cannot append streams", c.inner)
		}
		n, err = st.AppendStream(ctx, seq)
	} else {
		st, ok := c.inner.(interface {
			AppendStreamSigned(context.Context, iter.Seq2[*audit.Record, error], func(*audit.Record) error) (int, error)
		})
		if !ok {
			return 0, fmt.Errorf("%T cannot sign records as it appends them", c.inner)
		}
		n, err = st.AppendStreamSigned(ctx, seq, sign)
	}
	if err == nil && n > 0 {
		if h, herr := c.inner.Head(ctx); herr == nil {
			msg, _ := json.Marshal(h)
			c.call(ctx, func(ctx context.Context) error { return c.rdb.Publish(ctx, c.Channel(), msg).Err() })
		}
	}
	return n, err
}

// Head implements audit.Store; always the store's.
func (c *Cache) Head(ctx context.Context) (audit.Head, error) { return c.inner.Head(ctx) }

// Get implements audit.Store.
func (c *Cache) Get(ctx context.Context, id string) (*audit.Record, error) {
	if !c.trusted() {
		return c.inner.Get(ctx, id)
	}
	if r := c.local.get(id); r != nil {
		c.hits.Add(1)
		return r, nil
	}
	var b []byte
	if c.call(ctx, func(ctx context.Context) error {
		var err error
		b, err = c.rdb.Get(ctx, c.recordKey(id)).Bytes()
		return err
	}) && b != nil {
		if payload, ok := c.open("rec", id, b); ok {
			if r, err := decode(payload, id); err == nil {
				c.hits.Add(1)
				c.local.put(r)
				return r, nil
			}
			c.rejected.Add(1)
		}
	}
	c.misses.Add(1)
	r, err := c.inner.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	c.local.put(r)
	if enc, err := encode(r); err == nil {
		c.call(ctx, func(ctx context.Context) error {
			return c.rdb.Set(ctx, c.recordKey(id), c.sealed("rec", id, enc), c.cfg.RecordTTL).Err()
		})
	}
	return r, nil
}

// queryField names a cached query result: the filter and the log size.
func queryField(f audit.Filter, size uint64) string {
	b, _ := json.Marshal(struct {
		F     audit.Filter
		Since string
		Until string
	}{f, audit.FormatTime(f.Since), audit.FormatTime(f.Until)})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16]) + ":" + strconv.FormatUint(size, 10)
}

// Query implements audit.Store. Results of at most MaxQueryRecords
// records are cached under the filter and the current size of the log.
func (c *Cache) Query(ctx context.Context, f audit.Filter) iter.Seq2[*audit.Record, error] {
	limit := f.EffectiveLimit()
	if limit < 0 || limit > c.cfg.MaxQueryRecords || f.Validate() != nil || !c.trusted() {
		return c.inner.Query(ctx, f)
	}
	return func(yield func(*audit.Record, error) bool) {
		head, err := c.inner.Head(ctx)
		if err != nil {
			yield(nil, err)
			return
		}
		field := queryField(f, head.Size)
		var cached []byte
		if c.call(ctx, func(ctx context.Context) error {
			var err error
			cached, err = c.rdb.HGet(ctx, c.queriesKey(), field).Bytes()
			return err
		}) && cached != nil {
			if recs, ok := c.cachedList(field, cached); ok {
				c.hits.Add(1)
				for _, r := range recs {
					if !yield(r, nil) {
						return
					}
				}
				return
			}
		}
		c.misses.Add(1)
		var list []json.RawMessage
		complete := true
		for r, err := range c.inner.Query(ctx, f) {
			if err != nil {
				yield(nil, err)
				return
			}
			if b, err := encode(r); err == nil {
				list = append(list, b)
			}
			if !yield(r, nil) {
				complete = false
				break
			}
		}
		if !complete {
			return
		}
		if list == nil {
			list = []json.RawMessage{}
		}
		b, _ := json.Marshal(list)
		c.call(ctx, func(ctx context.Context) error {
			p := c.rdb.Pipeline()
			p.HSet(ctx, c.queriesKey(), field, c.sealed("query", field, b))
			p.Expire(ctx, c.queriesKey(), c.cfg.QueryTTL)
			_, err := p.Exec(ctx)
			return err
		})
	}
}

// cachedList opens a cached query result: every record in it must check,
// or none is used.
func (c *Cache) cachedList(field string, entry []byte) ([]*audit.Record, bool) {
	payload, ok := c.open("query", field, entry)
	if !ok {
		return nil, false
	}
	var list []json.RawMessage
	if json.Unmarshal(payload, &list) != nil {
		c.rejected.Add(1)
		return nil, false
	}
	recs := make([]*audit.Record, 0, len(list))
	for _, raw := range list {
		r, err := decode(raw, "")
		if err != nil {
			c.rejected.Add(1)
			return nil, false
		}
		recs = append(recs, r)
	}
	return recs, true
}

// Rejected counts entries read from Redis that were not used because
// their authentication tag or their content did not check.
func (c *Cache) Rejected() int64 { return c.rejected.Load() }

// Range implements audit.Store; always the store's.
func (c *Cache) Range(ctx context.Context, from, to uint64) iter.Seq2[*audit.Record, error] {
	return c.inner.Range(ctx, from, to)
}

// invalidate drops the cached copies a change to record id makes stale.
// When Redis cannot be told, the next contact flushes the whole trail.
func (c *Cache) invalidate(ctx context.Context, id string) {
	c.local.drop(id)
	if !c.call(ctx, func(ctx context.Context) error {
		p := c.rdb.TxPipeline()
		p.Del(ctx, c.recordKey(id), c.queriesKey())
		p.Publish(ctx, c.invalidationChannel(), id)
		_, err := p.Exec(ctx)
		return err
	}) {
		// Nobody could be told: local copies elsewhere drop themselves
		// when their subscription breaks, and Redis is flushed when it
		// answers again.
		c.local.enable(false)
		c.mu.Lock()
		c.dirty = true
		c.mu.Unlock()
	}
}

// AddSignature implements audit.Store.
func (c *Cache) AddSignature(ctx context.Context, id string, sig audit.Signature) error {
	err := c.inner.AddSignature(ctx, id, sig)
	c.invalidate(ctx, id)
	return err
}

// SetStatus implements audit.Store.
func (c *Cache) SetStatus(ctx context.Context, id string, status audit.Status) error {
	err := c.inner.SetStatus(ctx, id, status)
	c.invalidate(ctx, id)
	return err
}

// Close closes the Redis client and the store.
func (c *Cache) Close() error {
	c.cancel()
	c.sub.Close()
	<-c.done
	return errors.Join(c.rdb.Close(), c.inner.Close())
}

// Watch subscribes to the announcements of committed appends: the
// returned channel receives the head after each one, until ctx ends.
// Announcements sent while Redis is unreachable are lost, so a watcher
// should also read the store now and then.
func (c *Cache) Watch(ctx context.Context) (<-chan audit.Head, error) {
	sub := c.rdb.Subscribe(ctx, c.Channel())
	rctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout*4)
	_, err := sub.Receive(rctx)
	cancel()
	if err != nil {
		sub.Close()
		return nil, fmt.Errorf("redis cache %s: subscribe: %w", c.cfg, err)
	}
	out := make(chan audit.Head, 16)
	go func() {
		defer close(out)
		defer sub.Close()
		ch := sub.Channel()
		for {
			select {
			case <-ctx.Done():
				return
			case m, ok := <-ch:
				if !ok {
					return
				}
				var h audit.Head
				if json.Unmarshal([]byte(m.Payload), &h) != nil {
					continue
				}
				select {
				case out <- h:
				default: // the watcher is behind; it reads the store anyway
				}
			}
		}
	}()
	return out, nil
}

// The capabilities verification and proofs need are forwarded to the
// store of record.

// ScanRaw implements ledger.RawScanner from the store of record.
func (c *Cache) ScanRaw(ctx context.Context, from, to uint64, fn func(*ledger.RawRecord) error) error {
	rs, ok := c.inner.(ledger.RawScanner)
	if !ok {
		return fmt.Errorf("%T does not expose its stored rows", c.inner)
	}
	return rs.ScanRaw(ctx, from, to, fn)
}

// TreeHeadSizes implements ledger.HeadStore from the store of record.
func (c *Cache) TreeHeadSizes(ctx context.Context) ([]uint64, error) {
	hs, ok := c.inner.(ledger.HeadStore)
	if !ok {
		return nil, nil
	}
	return hs.TreeHeadSizes(ctx)
}

// TreeHead implements ledger.HeadStore from the store of record.
func (c *Cache) TreeHead(ctx context.Context, size uint64) (tlog.Hash, []byte, error) {
	hs, ok := c.inner.(ledger.HeadStore)
	if !ok {
		return tlog.Hash{}, nil, fmt.Errorf("%T keeps no tree heads", c.inner)
	}
	return hs.TreeHead(ctx, size)
}

// LatestTreeHead implements ledger.HeadStore from the store of record.
func (c *Cache) LatestTreeHead(ctx context.Context) (*ledger.StoredHead, error) {
	hs, ok := c.inner.(ledger.HeadStore)
	if !ok {
		return nil, fmt.Errorf("%T keeps no tree heads", c.inner)
	}
	return hs.LatestTreeHead(ctx)
}

// HashReader serves tree hashes from the store of record.
func (c *Cache) HashReader(ctx context.Context) tlog.HashReader {
	if hr, ok := c.inner.(interface {
		HashReader(context.Context) tlog.HashReader
	}); ok {
		return hr.HashReader(ctx)
	}
	return tlog.HashReaderFunc(func([]int64) ([]tlog.Hash, error) {
		return nil, fmt.Errorf("%T serves no tree hashes", c.inner)
	})
}

// Origin is the store's log origin.
func (c *Cache) Origin() string {
	if o, ok := c.inner.(interface{ Origin() string }); ok {
		return o.Origin()
	}
	return ""
}

// Difficulty is the store's proof-of-work difficulty.
func (c *Cache) Difficulty() int {
	if d, ok := c.inner.(interface{ Difficulty() int }); ok {
		return d.Difficulty()
	}
	return 0
}

// Snapshot implements ledger.Snapshotter from the store of record.
func (c *Cache) Snapshot(ctx context.Context) (ledger.Snapshot, error) {
	sn, ok := c.inner.(ledger.Snapshotter)
	if !ok {
		return ledger.Snapshot{}, fmt.Errorf("%T cannot describe itself in one snapshot", c.inner)
	}
	return sn.Snapshot(ctx)
}

// Identity is the store's identity.
func (c *Cache) Identity() store.Identity {
	if o, ok := c.inner.(interface{ Identity() store.Identity }); ok {
		return o.Identity()
	}
	return store.Identity{Origin: c.Origin(), Difficulty: c.Difficulty()}
}

// AddSignatures implements audit.SignatureAdder: the store, then the
// cached copies are invalidated (all of them: the records signed are not
// kept).
func (c *Cache) AddSignatures(ctx context.Context, sigs iter.Seq2[audit.RecordSignature, error]) (int, error) {
	sa, ok := c.inner.(audit.SignatureAdder)
	if !ok {
		return 0, fmt.Errorf("%T cannot add signatures in one transaction", c.inner)
	}
	n, err := sa.AddSignatures(ctx, sigs)
	c.dropAll(ctx)
	return n, err
}

// dropAll drops every cached entry of the trail, here and in Redis; when
// Redis cannot be told now it is flushed when it answers again. It
// reports whether Redis was flushed now.
func (c *Cache) dropAll(ctx context.Context) bool {
	c.local.drop("*")
	if c.call(ctx, c.flush) {
		return true
	}
	c.local.enable(false)
	c.mu.Lock()
	c.dirty = true
	c.mu.Unlock()
	return false
}

// FieldValues implements ledger.ValueReader from the store of record:
// values of committed fields are never cached.
func (c *Cache) FieldValues(ctx context.Context, seqs []uint64, fn func(seq uint64, v ledger.FieldValue) error) error {
	vr, ok := c.inner.(ledger.ValueReader)
	if !ok {
		return fmt.Errorf("%T keeps no values of committed fields", c.inner)
	}
	return vr.FieldValues(ctx, seqs, fn)
}

// Forget implements ledger.Forgetter on the store of record, then drops
// every cached entry of the trail: nothing it removed stays in Redis.
func (c *Cache) Forget(ctx context.Context, fn func(ledger.ForgetTx) error) (ledger.ForgetResult, error) {
	f, ok := c.inner.(ledger.Forgetter)
	if !ok {
		return ledger.ForgetResult{}, fmt.Errorf("%T cannot forget", c.inner)
	}
	res, err := f.Forget(ctx, fn)
	if !c.dropAll(ctx) {
		res.Residue = strings.TrimPrefix(res.Residue+"; ", "; ") + "the Redis cache could not be flushed now: it is flushed when it answers again"
	} else if err == nil {
		res.Scrubbed = strings.TrimPrefix(res.Scrubbed+"; ", "; ") + "Redis cache flushed"
	}
	return res, err
}

// AddCosignature implements ledger.CosignatureStore on the store of record.
func (c *Cache) AddCosignature(ctx context.Context, cs ledger.Cosignature) error {
	st, ok := c.inner.(ledger.CosignatureStore)
	if !ok {
		return fmt.Errorf("%T keeps no co-signatures", c.inner)
	}
	return st.AddCosignature(ctx, cs)
}

// Cosignatures implements ledger.CosignatureStore from the store of record.
func (c *Cache) Cosignatures(ctx context.Context) ([]ledger.Cosignature, error) {
	st, ok := c.inner.(ledger.CosignatureStore)
	if !ok {
		return nil, fmt.Errorf("%T keeps no co-signatures", c.inner)
	}
	return st.Cosignatures(ctx)
}

// SetLogKey implements store.KeySetter on the store of record.
func (c *Cache) SetLogKey(signer note.Signer, verifier note.Verifier) error {
	ks, ok := c.inner.(store.KeySetter)
	if !ok {
		return fmt.Errorf("%T cannot take a log key after it is opened", c.inner)
	}
	return ks.SetLogKey(signer, verifier)
}
