package audit

import (
	"context"
	"errors"
	"iter"
	"time"
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

// Reader reads a trail. Store satisfies it; analyzers and incremental
// sources read through it.
type Reader interface {
	// Query yields the records matching f, in the order f asks for.
	Query(ctx context.Context, f Filter) iter.Seq2[*Record, error]
	// Range yields the records with from <= sequence < to, in order.
	Range(ctx context.Context, from, to uint64) iter.Seq2[*Record, error]
}

// Analyzer derives findings from evidence (SPEC §7): the records of the
// trail, those this run appended or the current state of what sources
// recorded before, and, for some analyzers, the repository itself.
//
// An analyzer states conclusions, not changes. Each call to Analyze
// reports every finding that holds now, each with a stable key; package
// analyzer compares them with the findings open in the trail and appends
// a record for each new or changed finding and for each one that went
// away. An analyzer never appends and keeps no state between runs: the
// trail is its memory. See package analyzer for the records it leads to.
type Analyzer interface {
	// Name identifies the analyzer, e.g. "security". It names the actions
	// of its records ("security_finding") and must be a lower-case word.
	Name() string
	// Understands lists the sources whose records or inputs it examines
	// ("git_source", "module_source"). A run of several sources runs the
	// analyzers that understand at least one of them; an empty list means
	// it reads nothing sources produce and runs only when asked for.
	Understands() []string
	// Analyze examines in and hands each finding to report, in any order
	// and from any number of goroutines (report is safe for concurrent
	// use), returning when it has reported all. It returns the checks (see
	// Detected.Check) that ran to completion: for those, what it reported
	// is everything that holds, and a finding open in the trail that it
	// did not report is resolved. A check that could not run (no data, an
	// option not given) is not returned, and its open findings stay open.
	// An error from report stops the analysis and is returned; after any
	// error nothing is resolved, but what was reported is recorded.
	Analyze(ctx context.Context, in *Analysis, report func(Detected) error) (done []string, err error)
}

// Analysis is what an analyzer may read in one run. The analyzer must not
// modify the records it reads.
type Analysis struct {
	// Target is what the run audits: the repository's root directory.
	Target string
	// Trail reads the whole trail, including what this run appended.
	Trail Reader
	// Ran lists the sources that ran in this run, by record source name
	// ("file_source"); empty when the analyzer runs on its own.
	Ran []string
	// Appended yields the records this run's sources appended, of the
	// sources the analyzer understands, in append order. It yields nothing
	// when the run appended nothing, as on an unchanged repository: an
	// analyzer of the current state reads that from Trail instead (for
	// instance the newest record per target).
	Appended iter.Seq2[*Record, error]
	// Now is the time of the run.
	Now time.Time
}

// Detected is one finding as an analyzer reports it: the finding, what it
// is about and the evidence for it. Package analyzer turns it into a
// record whose target, target type and severity are those given here and
// whose context holds the evidence, the key and the check.
//
// Nothing in a Detected may hold a secret's value: keep its rule, its
// location and a keyed fingerprint.
type Detected struct {
	// Key identifies the finding across runs: a later run that finds the
	// same problem reports the same key, and a different problem has a
	// different key (within the analyzer). A location that moves without
	// the problem changing (a line number) belongs in the evidence, not in
	// the key.
	Key string
	// Check is the part of the analyzer that found it ("secrets",
	// "dependencies"); see Analyzer.Analyze.
	Check string
	// Target and TargetType say what the finding is about: a file path
	// relative to the repository, a module, ….
	Target     string
	TargetType TargetType
	// Finding is the conclusion. Its severity grades the record.
	Finding Finding
	// Evidence is what the finding rests on (file, line, commit, rule,
	// advisory): free JSON values.
	Evidence map[string]any
	// Records are the ids of the trail records the finding was derived
	// from, when it was derived from records. They are kept with the
	// finding but do not make it a different statement: the same problem
	// seen in a newer snapshot of the same evidence is not recorded again.
	Records []string
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
