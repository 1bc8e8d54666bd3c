package audit

import (
	"context"
	"errors"
	"iter"
)

// Sentinel errors shared by every store.
var (
	// ErrNotFound: no record with that id.
	ErrNotFound = errors.New("record not found")
	// ErrSchemaNewer: the store was written by a newer ami-audit.
	ErrSchemaNewer = errors.New("store schema is newer than this ami-audit understands")
	// ErrNotInitialized: there is no store at the location yet.
	ErrNotInitialized = errors.New("no audit store here")
	// ErrDuplicateID: a record with that record_id is already in the
	// trail (Append refuses it; the request appends nothing).
	ErrDuplicateID = errors.New("is already in the trail")
)

// Appender adds records to the end of the trail.
type Appender interface {
	// Append validates recs, links them to the tip of the chain (assigning
	// Sequence, PreviousHash, Nonce and RecordHash in place) and stores them
	// in one atomic, durable step: when Append returns nil every record is
	// stored and survives a crash of the process; when it returns an error
	// none is. Concurrent calls, from any number of goroutines or
	// processes, are serialized: the chain never forks.
	Append(ctx context.Context, recs []*Record) error
}

// Head describes the tip of a chain.
type Head struct {
	Size uint64 // number of records; the next sequence number
	Hash string // record_hash of the last record, GenesisHash when empty
}

// Store is the durable home of a chain. Implementations are safe for
// concurrent use.
type Store interface {
	Appender
	// Head returns the current tip.
	Head(ctx context.Context) (Head, error)
	// Get returns the record with the given id, or ErrNotFound.
	Get(ctx context.Context, id string) (*Record, error)
	// Query yields the records matching f, in the order f asks for.
	Query(ctx context.Context, f Filter) iter.Seq2[*Record, error]
	// Range yields the records with from <= sequence < to, in order.
	Range(ctx context.Context, from, to uint64) iter.Seq2[*Record, error]
	// AddSignature attaches a signature to a stored record. A second
	// signature by the same signer replaces the first.
	AddSignature(ctx context.Context, id string, sig Signature) error
	// SetStatus changes a stored record's lifecycle status.
	SetStatus(ctx context.Context, id string, status Status) error
	// Close releases the store. Pending appends finish first.
	Close() error
}

// Source collects records about a target (SPEC §6). Sources stream: they
// hand each record to emit as soon as it is built, and stop when emit or
// ctx says so. A source is configured when constructed (each package has
// its own Config); Collect takes only the target.
type Source interface {
	// Name is the value of the records' source field, e.g. "git_source".
	Name() string
	// Describe says in one line what the source collects.
	Describe() string
	// TargetTypes lists the target types of the records it produces.
	TargetTypes() []TargetType
	// Collect produces records about target. An error returned by emit
	// stops collection and is returned.
	Collect(ctx context.Context, target string, emit func(*Record) error) error
}

// Analyzer derives findings from records (SPEC §7).
type Analyzer interface {
	// Name identifies the analyzer, e.g. "security".
	Name() string
	// Understands lists the record sources it reads (e.g. "git_source").
	Understands() []string
	// Analyze reads records and returns findings about them.
	Analyze(ctx context.Context, recs iter.Seq[*Record]) ([]Finding, error)
}

// RecordSignature is a signature and the record it belongs to.
type RecordSignature struct {
	RecordID  string
	Signature Signature
}

// SignatureAdder is implemented by stores that add many signatures in one
// transaction: every signature sigs yields, or — when it yields an error
// or a signature of a record that is not stored — none. It returns the
// number added.
type SignatureAdder interface {
	AddSignatures(ctx context.Context, sigs iter.Seq2[RecordSignature, error]) (int, error)
}
