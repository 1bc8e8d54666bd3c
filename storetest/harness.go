// Package storetest is the conformance suite every store backend runs:
// the same test functions against SQLite, PostgreSQL and PostgreSQL behind
// the Redis cache. A backend's test file supplies a Harness that opens a
// fresh, empty store and a Tamperer that edits that backend's raw rows the
// way an attacker with write access to the database would; Run does the
// rest.
package storetest

import (
	"context"
	"iter"
	"testing"

	"golang.org/x/mod/sumdb/tlog"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/ledger"
	"github.com/ami-orchestrator/ami-audit/store"
)

// Verifiable is what verification needs from a store beyond audit.Store
// (the command line's verify, checkpoint and prove use the same methods).
type Verifiable interface {
	audit.Store
	ledger.Verifiable
}

// Streamer is implemented by stores that append a stream of records in one
// transaction.
type Streamer interface {
	AppendStream(ctx context.Context, seq iter.Seq2[*audit.Record, error]) (int, error)
}

// Harness opens stores of one backend.
type Harness struct {
	// Open returns a fresh, empty store created with opts. It registers
	// its own cleanup with t.
	Open func(t *testing.T, opts store.Options) *Instance
	// Slow marks backends whose round trips are expensive: the suite
	// then uses smaller sizes where size does not change what is proved.
	Slow bool
}

// Instance is one store under test.
type Instance struct {
	Store audit.Store
	// Tamper edits the rows behind Store. Nil skips the tamper tests.
	Tamper Tamperer
	// Reopen opens the same location again, after Store was closed.
	Reopen func(ctx context.Context) (audit.Store, error)
}

// Row is one stored record as verification sees it.
type Row struct {
	Seq  uint64
	ID   string
	Hash []byte // 32 raw bytes
	Body []byte // canonical bytes
	Tree []byte // tree hashes, 32 bytes each
}

// Tamperer changes a backend's stored rows behind the store's back. Each
// method does what a careful attacker would: it keeps whatever bookkeeping
// the backend has (tip pointers, derived columns) consistent with the
// change, so that only the ledger's checks can catch it.
type Tamperer interface {
	// PutRow replaces everything stored for the record at r.Seq (id, hash,
	// body, tree hashes), deriving any query columns from r.Body.
	PutRow(ctx context.Context, r Row) error
	// SetColumn sets a stored column named after a hashed field (actor,
	// action, target, target_type, severity, reason, source) of the
	// record at seq, in whatever place the backend keeps it outside the
	// canonical body; a backend that derives it from the body edits the
	// body.
	SetColumn(ctx context.Context, seq uint64, field, value string) error
	// DeleteRows removes the records with from <= seq < to and what hangs
	// off them.
	DeleteRows(ctx context.Context, from, to uint64) error
	// SwapRows exchanges the stored contents of two sequence numbers.
	SwapRows(ctx context.Context, a, b uint64) error
	// DeleteHeads removes the stored tree heads with size >= from.
	DeleteHeads(ctx context.Context, from uint64) error
	// PutHead stores (or replaces) the tree head at size.
	PutHead(ctx context.Context, size uint64, root tlog.Hash, note []byte) error
	// SetSchemaVersion writes the stored schema version.
	SetSchemaVersion(ctx context.Context, v int) error
	// AddStrayRow adds a record row at sequence seq (which may be
	// negative: outside the log's sequence) holding a copy of the row at
	// from under a new record id and record hash, with a signature row
	// attached to it.
	AddStrayRow(ctx context.Context, from uint64, seq int64) error
	// SetValue stores value (canonical JSON) as the value of the field of
	// the record at seq, keeping its salt, or with a salt of zeros when
	// the field had no stored value.
	SetValue(ctx context.Context, seq uint64, field string, value []byte) error
	// DeleteValue removes the stored value of the field of the record at
	// seq.
	DeleteValue(ctx context.Context, seq uint64, field string) error
	// PruneRow does to the record at seq what retention does — removes
	// its body, query columns and values — and marks it pruned as mark
	// says, without a record saying so.
	PruneRow(ctx context.Context, seq uint64, mark audit.Pruning) error
}
