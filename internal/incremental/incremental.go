// Package incremental lets a source append only what changed: each record
// it builds carries a digest of its content (metadata "content_digest"),
// and before a run the source reads, once, the digest of the newest record
// of each of its keys from the trail; a record whose digest equals that is
// not emitted again.
//
// The digest covers what the record says, not when it was made: the
// canonical form without record_id, timestamp, hashes, nonce, signatures,
// status, finding and violation ids, and without the context keys a
// source names as volatile (a scan time, a duration). It is taken before
// the collector masks secrets, so that masking cannot make an unchanged
// record look changed.
package incremental

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"iter"
	"maps"

	audit "github.com/ami-orchestrator/ami-audit"
)

// MetaKey is the metadata key holding a record's content digest, IDKey
// the one holding a hash of its key (what the record is about). Both are
// hex, which no secret rule matches, so masking leaves them as they are;
// the key is kept hashed because the record's own fields may be masked.
const (
	MetaKey = "content_digest"
	IDKey   = "content_id"
)

// Querier reads records; audit.Store satisfies it.
type Querier interface {
	Query(ctx context.Context, f audit.Filter) iter.Seq2[*audit.Record, error]
}

// Digest returns the content digest of r (hex SHA-256), leaving out the
// context keys named in volatile.
func Digest(r *audit.Record, volatile ...string) string {
	c := *r
	c.RecordID, c.RecordHash, c.PreviousHash, c.Nonce = "", "", "", 0
	c.Sequence = 0
	c.Timestamp = audit.Record{}.Timestamp
	c.Signatures, c.Status = nil, ""
	if len(volatile) > 0 && c.Context != nil {
		c.Context = maps.Clone(c.Context)
		for _, k := range volatile {
			delete(c.Context, k)
		}
	}
	_, hasD := c.Metadata[MetaKey]
	_, hasID := c.Metadata[IDKey]
	if hasD || hasID {
		c.Metadata = maps.Clone(c.Metadata)
		delete(c.Metadata, MetaKey)
		delete(c.Metadata, IDKey)
	}
	c.Findings = append([]audit.Finding(nil), c.Findings...)
	for i := range c.Findings {
		c.Findings[i].FindingID = ""
	}
	c.Violations = append([]audit.Violation(nil), c.Violations...)
	for i := range c.Violations {
		c.Violations[i].ViolationID = ""
	}
	b, err := c.AppendCanonical(nil)
	if err != nil {
		// not canonical: a digest that matches nothing
		b = []byte(err.Error() + r.RecordID)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Stamp sets r's content digest and returns it.
func Stamp(r *audit.Record, volatile ...string) string {
	d := Digest(r, volatile...)
	if r.Metadata == nil {
		r.Metadata = map[string]any{}
	}
	r.Metadata[MetaKey] = d
	return d
}

// ID is the hashed form of a record key kept in metadata (IDKey).
func ID(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:16])
}

// Index is the newest digest the trail holds for each key.
type Index struct {
	last map[string]string // ID(key) -> digest
}

// Load reads the records matching each filter (oldest first) whose source
// is source, and keeps the digest of the newest of each key (the record's
// IDKey, else ID(key(r))). A nil q gives an empty index.
func Load(ctx context.Context, q Querier, source string, key func(*audit.Record) string, filters ...audit.Filter) (*Index, error) {
	x := &Index{last: map[string]string{}}
	if q == nil {
		return x, nil
	}
	for _, f := range filters {
		f.Limit = -1
		f.Newest = false
		for r, err := range q.Query(ctx, f) {
			if err != nil {
				return nil, err
			}
			if r.Source != source {
				continue
			}
			d, _ := r.Metadata[MetaKey].(string)
			if d == "" {
				continue
			}
			id, _ := r.Metadata[IDKey].(string)
			if id == "" {
				id = ID(key(r))
			}
			x.last[id] = d
		}
	}
	return x, nil
}

// Unchanged reports whether the newest record of key has digest d.
func (x *Index) Unchanged(key, d string) bool {
	return x != nil && x.last[ID(key)] == d
}

// Filter wraps emit: every record is stamped (its digest with volatile
// left out, and its key's ID) and passed on unless the trail's newest
// record of its key has the same digest; skipped counts the others.
func (x *Index) Filter(key func(*audit.Record) string, emit func(*audit.Record) error, skipped *int64, volatile ...string) func(*audit.Record) error {
	return func(r *audit.Record) error {
		k := key(r)
		d := Stamp(r, volatile...)
		r.Metadata[IDKey] = ID(k)
		if x.Unchanged(k, d) {
			if skipped != nil {
				*skipped++
			}
			return nil
		}
		if x != nil {
			x.last[ID(k)] = d
		}
		return emit(r)
	}
}
