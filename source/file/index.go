package file

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"iter"
	"strconv"
	"time"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/internal/incremental"
)

// Querier is the part of a store the source reads to learn what it
// recorded before. audit.Store satisfies it.
type Querier interface {
	Query(ctx context.Context, f audit.Filter) iter.Seq2[*audit.Record, error]
}

// seen is the state of a path as its last record describes it: what the
// incremental run compares against. It is kept small (the strings other
// than the link target are shared between paths): with the map's own cost,
// a path takes about 250 bytes plus its name.
type seen struct {
	sum                          [32]byte
	size                         int64
	mtime, ctime, scanned        int64 // Unix nanoseconds
	dev, ino                     uint64
	uid, gid                     uint32
	hasSum, binary, skipped      bool   // skipped: the last record was file_skipped
	privateKey                   bool   // the content is a private key
	fileType, mode, reason, link string // link: the symlink target
	// target is the record's target: the path as recorded (escaped
	// when its context says so), "" when masking changed it.
	target  string
	escaped bool
}

// Index maps a record target (the path as recorded, hashed: see
// incremental.ID) to what its last record said. It is read concurrently
// during a collection and must not be changed then.
type Index struct {
	m map[string]seen
}

func (x *Index) lookup(target string) *seen {
	if x == nil {
		return nil
	}
	s, ok := x.m[incremental.ID(target)]
	if !ok {
		return nil
	}
	return &s
}

// LoadIndex reads the trail once, streaming every record of target type
// file, and keeps the last file_hash or file_skipped record this source
// wrote for each path. One query, whatever the number of paths.
func LoadIndex(ctx context.Context, q Querier) (*Index, error) {
	x := &Index{m: map[string]seen{}}
	shared := map[string]string{}
	intern := func(v string) string {
		if v == "" {
			return ""
		}
		if s, ok := shared[v]; ok {
			return s
		}
		if len(shared) < 10_000 {
			shared[v] = v
		}
		return v
	}
	f := audit.Filter{TargetType: audit.TargetFile, Limit: -1}
	for r, err := range q.Query(ctx, f) {
		if err != nil {
			return nil, fmt.Errorf("file source: read previous records: %w", err)
		}
		if r.Source != SourceName || (r.Action != ActionHash && r.Action != ActionSkipped && r.Action != ActionRemoved) {
			continue
		}
		if r.Action == ActionRemoved {
			id, _ := r.Metadata[incremental.IDKey].(string)
			if id == "" {
				id = incremental.ID(r.Target)
			}
			delete(x.m, id)
			continue
		}
		s, err := seenFromRecord(r, intern)
		if err != nil {
			// A record the source cannot read back (written by an older
			// version, or by hand) only means the path is treated as new.
			continue
		}
		// Records name their path in metadata too (hashed): the target
		// itself may have been masked for a secret in the name.
		id, _ := r.Metadata[incremental.IDKey].(string)
		if id == "" {
			id = incremental.ID(r.Target)
		}
		if id == incremental.ID(r.Target) {
			s.target = r.Target
			s.escaped, _ = r.Context["path_escaped"].(bool)
		}
		x.m[id] = *s
	}
	return x, nil
}

func seenFromRecord(r *audit.Record, intern func(string) string) (*seen, error) {
	c := r.Context
	s := &seen{
		skipped:  r.Action == ActionSkipped,
		reason:   intern(ctxString(c, "reason")),
		fileType: intern(ctxString(c, "file_type")),
		mode:     intern(ctxString(c, "mode")),
		link:     ctxString(c, "symlink_target"),
	}
	s.dev, _ = strconv.ParseUint(ctxString(c, "device"), 10, 64)
	s.ino, _ = strconv.ParseUint(ctxString(c, "inode"), 10, 64)
	var err error
	if s.size, err = ctxInt(c, "size"); err != nil {
		return nil, err
	}
	s.binary, _ = c["binary"].(bool)
	s.privateKey, _ = c["private_key"].(bool)
	uid, _ := ctxInt(c, "uid")
	gid, _ := ctxInt(c, "gid")
	s.uid, s.gid = uint32(uid), uint32(gid)
	s.mtime = ctxTime(c, "mtime")
	s.ctime = ctxTime(c, "ctime")
	s.scanned = ctxTime(c, "scanned_at")
	if h := ctxString(c, "sha256"); h != "" {
		b, err := hex.DecodeString(h)
		if err != nil || len(b) != 32 {
			return nil, fmt.Errorf("sha256 %q is not a SHA-256", h)
		}
		copy(s.sum[:], b)
		s.hasSum = true
	}
	return s, nil
}

func ctxString(c map[string]any, k string) string {
	s, _ := c[k].(string)
	return s
}

// ctxInt reads a number as it may come back from a store: a Go integer,
// a float64 or a json.Number. A missing key is 0.
func ctxInt(c map[string]any, k string) (int64, error) {
	switch v := c[k].(type) {
	case nil:
		return 0, nil
	case int:
		return int64(v), nil
	case int64:
		return v, nil
	case uint32:
		return int64(v), nil
	case float64:
		return int64(v), nil
	case json.Number:
		return v.Int64()
	case string:
		return strconv.ParseInt(v, 10, 64)
	}
	return 0, fmt.Errorf("%s: unexpected %T", k, c[k])
}

func ctxTime(c map[string]any, k string) int64 {
	s := ctxString(c, k)
	if s == "" {
		return 0
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return 0
	}
	return t.UnixNano()
}
