package ledger

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"

	"golang.org/x/mod/sumdb/tlog"

	audit "github.com/ami-orchestrator/ami-audit"
)

// RawRecord is a stored row as verification reads it. Its slices are valid
// only during the callback that receives it.
type RawRecord struct {
	Seq  uint64 // the row's sequence number
	Hash []byte // stored record hash, 32 raw bytes
	Body []byte // stored canonical bytes
	Tree []byte // stored tree hashes, 32 bytes each
	// Indexed holds the values of the columns a store keeps beside the
	// body for its queries, when it keeps them separately: verification
	// checks they say what the hashed body says, so that a changed column
	// cannot hide a record from a query or misreport it.
	Indexed *IndexedFields
	// Values are the stored values of the record's committed fields
	// (audit.Commitment), in any order.
	Values []FieldValue
	// Pruned is set when the row holds only what retention keeps of a
	// record (its Body is then empty).
	Pruned *audit.Pruning
}

// FieldValue is the stored value of a committed field. Its slices are
// valid as long as the RawRecord's.
type FieldValue struct {
	Field string
	Salt  []byte // SaltSize raw bytes
	Value []byte // the value's canonical JSON
}

// IndexedFields are the record fields stores keep in columns of their own.
type IndexedFields [numIndexed][]byte

// Positions in IndexedFields.
const (
	idxTimestamp = iota
	idxActor
	idxAction
	idxTarget
	idxTargetType
	idxSeverity
	numIndexed
)

// IndexedNames names the IndexedFields, in order.
var IndexedNames = [numIndexed]string{"timestamp", "actor", "action", "target", "target_type", "severity"}

// RawScanner is implemented by stores whose rows can be read for
// verification without decoding records.
type RawScanner interface {
	// ScanRaw calls fn for each stored row with from <= sequence < to, in
	// sequence order. It reports rows as stored, gaps and all.
	ScanRaw(ctx context.Context, from, to uint64, fn func(*RawRecord) error) error
}

// ErrTampered is wrapped by every verification failure: the data was read,
// and it is not what was appended.
var ErrTampered = errors.New("verification failed")

// ChainError names the first record that fails verification and why.
type ChainError struct {
	Seq      uint64 `json:"seq"`
	RecordID string `json:"record_id,omitempty"`
	Reason   string `json:"reason"`
	// Check names the check that failed, when the error comes from a
	// verification of several: "rows", "chain" or "tree heads".
	Check string `json:"check,omitempty"`
}

func (e *ChainError) Error() string {
	if e.RecordID != "" {
		return fmt.Sprintf("record %d (%s): %s", e.Seq, e.RecordID, e.Reason)
	}
	return fmt.Sprintf("record %d: %s", e.Seq, e.Reason)
}

func (e *ChainError) Unwrap() error { return ErrTampered }

// VerifyOptions tunes VerifyChain.
type VerifyOptions struct {
	// Difficulty is the log's proof-of-work difficulty.
	Difficulty int
	// RootsAt asks for the tree hash at these sizes (for checkpoints).
	RootsAt []uint64
	// Progress, when set, is called with the number of records checked so
	// far, every few thousand records.
	Progress func(n uint64)
}

// VerifyResult is what a successful verification establishes.
type VerifyResult struct {
	Size     uint64               // records checked
	Root     tlog.Hash            // Merkle tree hash of all of them
	LastHash string               // record_hash of the last record
	RootsAt  map[uint64]tlog.Hash // tree hash at each requested size
	// Forgotten says what the log forgot, and why (redaction, retention).
	Forgotten *Forgotten
}

// VerifyChain reads every stored row in order and checks, for each: the
// sequence is the next one (no gap, no reordering); the body names that
// sequence; SHA-256 of the body is the stored record hash; the body's
// previous_hash is the record hash before it ("0" for the first); the hash
// meets the proof-of-work difficulty; the stored tree hashes are the ones
// the leaf completes. It computes the Merkle root as it goes, in memory
// independent of the log's size. The first failure is returned as a
// *ChainError.
//
// Reading and checking overlap: one goroutine reads rows from the store in
// chunks while the caller's goroutine hashes and checks the previous chunk,
// so verification uses two cores with memory bounded by a few chunks.
//
// A store that also reports its size (audit.Store's Head) is read by
// several goroutines at once, each reading every other block of rows, and
// checked block by block in order: reading rows is most of the cost.
func VerifyChain(ctx context.Context, s RawScanner, opt VerifyOptions) (VerifyResult, error) {
	if sz, ok := s.(sizer); ok {
		head, err := sz.Head(ctx)
		if err != nil {
			return VerifyResult{}, err
		}
		if head.Size > 2*blockRows {
			return verifyBlocks(ctx, s, head.Size, opt)
		}
	}
	return verifySequential(ctx, s, ^uint64(0), opt)
}

// VerifyPrefix is VerifyChain over exactly the records with sequence
// 0..n-1: rows beyond them (appended since n was read) are not read, and
// a row missing among them is a failure.
func VerifyPrefix(ctx context.Context, s RawScanner, n uint64, opt VerifyOptions) (VerifyResult, error) {
	var res VerifyResult
	var err error
	if n > 2*blockRows {
		res, err = verifyBlocks(ctx, s, n, opt)
	} else {
		res, err = verifySequential(ctx, s, n, opt)
	}
	if err == nil && res.Size != n {
		return res, &ChainError{Seq: res.Size, Reason: fmt.Sprintf("missing: records %d..%d are gone (deleted from the end)", res.Size, n-1)}
	}
	return res, err
}

// verifySequential verifies rows [0, to) read by one goroutine while the
// caller's goroutine checks the previous chunk.
func verifySequential(ctx context.Context, s RawScanner, to uint64, opt VerifyOptions) (VerifyResult, error) {
	v := newChainVerifier(opt)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	full := make(chan *rawChunk, 2)
	free := make(chan *rawChunk, 3)
	for range 3 {
		free <- new(rawChunk)
	}
	readErr := make(chan error, 1)
	go func() {
		defer close(full)
		c := <-free
		c.reset()
		err := s.ScanRaw(ctx, 0, to, func(r *RawRecord) error {
			c.add(r)
			if len(c.rows) < chunkRows && len(c.buf) < chunkBytes {
				return nil
			}
			select {
			case full <- c:
			case <-ctx.Done():
				return ctx.Err()
			}
			select {
			case c = <-free:
			case <-ctx.Done():
				return ctx.Err()
			}
			c.reset()
			return nil
		})
		if err == nil && len(c.rows) > 0 {
			select {
			case full <- c:
			case <-ctx.Done():
				err = ctx.Err()
			}
		}
		readErr <- err
	}()
	var row RawRecord
	var cols IndexedFields
	for c := range full {
		for i := range c.rows {
			c.row(i, &row, &cols)
			if err := v.check(&row); err != nil {
				cancel()
				for range full {
				}
				return VerifyResult{}, err
			}
		}
		free <- c
	}
	if err := <-readErr; err != nil {
		return VerifyResult{}, err
	}
	return v.result()
}

const (
	chunkRows  = 1024
	chunkBytes = 4 << 20
	blockRows  = 2048 // rows per block when reading in parallel
	readers    = 2
)

type sizer interface {
	Head(ctx context.Context) (audit.Head, error)
}

// verifyBlocks verifies rows [0, end) read in blocks by parallel readers.
func verifyBlocks(ctx context.Context, s RawScanner, end uint64, opt VerifyOptions) (VerifyResult, error) {
	v := newChainVerifier(opt)
	ctx, cancel := context.WithCancel(ctx)
	nblocks := (end + blockRows - 1) / blockRows
	free := make(chan *rawChunk, readers*2)
	for range readers * 2 {
		free <- new(rawChunk)
	}
	outs := make([]chan *rawChunk, readers)
	var wg sync.WaitGroup
	for k := range readers {
		outs[k] = make(chan *rawChunk, 2)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(outs[k])
			for b := uint64(k); b < nblocks; b += readers {
				var c *rawChunk
				select {
				case c = <-free:
				case <-ctx.Done():
					return
				}
				c.reset()
				c.err = s.ScanRaw(ctx, b*blockRows, min((b+1)*blockRows, end), func(r *RawRecord) error {
					c.add(r)
					return nil
				})
				if c.err == nil {
					c.precheck()
				}
				select {
				case outs[k] <- c:
				case <-ctx.Done():
					return
				}
				if c.err != nil {
					return
				}
			}
		}()
	}
	defer func() {
		cancel() // readers blocked on a full channel give up
		wg.Wait()
	}()
	var row RawRecord
	var cols IndexedFields
	for b := uint64(0); b < nblocks; b++ {
		c, ok := <-outs[b%readers]
		if !ok {
			return VerifyResult{}, ctx.Err()
		}
		if c.err != nil {
			return VerifyResult{}, c.err
		}
		for i := range c.rows {
			c.row(i, &row, &cols)
			if err := v.checkRow(&row, &c.pre[i]); err != nil {
				return VerifyResult{}, err
			}
		}
		free <- c
	}
	return v.result()
}

// rawChunk holds copies of consecutive rows in one buffer, by offset.
type rawChunk struct {
	rows   []rowRef
	buf    []byte
	vals   []valRef
	pruned []audit.Pruning
	err    error        // reading the chunk failed
	values []FieldValue // scratch for row
	pre    []rowCheck   // by precheck
}

// precheck does, for every row of the chunk, the checks that need no
// other row (rowCheck), so that the reader goroutines share them and the
// one goroutine that checks rows in order does only what needs the order.
// It runs once the chunk is complete (its buf no longer moves).
func (c *rawChunk) precheck() {
	var row RawRecord
	var cols IndexedFields
	c.pre = slices.Grow(c.pre[:0], len(c.rows))[:len(c.rows)]
	for i := range c.rows {
		c.row(i, &row, &cols)
		c.pre[i] = checkAlone(&row)
	}
}

type rowRef struct {
	seq           uint64
	hash, body, t int // start offsets of hash, body and tree in buf
	end           int
	indexed       bool
	cols          [numIndexed + 1]int // offsets of the indexed columns, after end
	vals          [2]int              // the row's values: c.vals[vals[0]:vals[1]]
	pruned        int                 // index+1 in c.pruned, 0 when not pruned
}

// valRef locates a FieldValue in a chunk's buf.
type valRef struct{ field, salt, value, end int }

func (c *rawChunk) reset() {
	c.rows = c.rows[:0]
	c.buf = c.buf[:0]
	c.vals = c.vals[:0]
	c.pruned = c.pruned[:0]
	c.err = nil
}

func (c *rawChunk) add(r *RawRecord) {
	ref := rowRef{seq: r.Seq, hash: len(c.buf)}
	c.buf = append(c.buf, r.Hash...)
	ref.body = len(c.buf)
	c.buf = append(c.buf, r.Body...)
	ref.t = len(c.buf)
	c.buf = append(c.buf, r.Tree...)
	ref.end = len(c.buf)
	if r.Indexed != nil {
		ref.indexed = true
		for i, v := range r.Indexed {
			ref.cols[i] = len(c.buf)
			c.buf = append(c.buf, v...)
		}
		ref.cols[numIndexed] = len(c.buf)
	}
	ref.vals[0] = len(c.vals)
	for _, v := range r.Values {
		vr := valRef{field: len(c.buf)}
		c.buf = append(c.buf, v.Field...)
		vr.salt = len(c.buf)
		c.buf = append(c.buf, v.Salt...)
		vr.value = len(c.buf)
		c.buf = append(c.buf, v.Value...)
		vr.end = len(c.buf)
		c.vals = append(c.vals, vr)
	}
	ref.vals[1] = len(c.vals)
	if r.Pruned != nil {
		c.pruned = append(c.pruned, *r.Pruned)
		ref.pruned = len(c.pruned)
	}
	c.rows = append(c.rows, ref)
}

func (c *rawChunk) row(i int, r *RawRecord, cols *IndexedFields) {
	ref := c.rows[i]
	r.Seq = ref.seq
	r.Hash = c.buf[ref.hash:ref.body:ref.body]
	r.Body = c.buf[ref.body:ref.t:ref.t]
	r.Tree = c.buf[ref.t:ref.end:ref.end]
	r.Indexed = nil
	if ref.indexed {
		for j := range cols {
			cols[j] = c.buf[ref.cols[j]:ref.cols[j+1]:ref.cols[j+1]]
		}
		r.Indexed = cols
	}
	c.values = c.values[:0]
	for _, v := range c.vals[ref.vals[0]:ref.vals[1]] {
		c.values = append(c.values, FieldValue{Field: string(c.buf[v.field:v.salt]), Salt: c.buf[v.salt:v.value:v.value], Value: c.buf[v.value:v.end:v.end]})
	}
	r.Values = c.values
	r.Pruned = nil
	if ref.pruned > 0 {
		r.Pruned = &c.pruned[ref.pruned-1]
	}
}

type chainVerifier struct {
	forget  forgetState
	opt     VerifyOptions
	acc     Accumulator
	next    uint64
	prev    []byte // hex of the previous record hash
	prevBuf []byte
	tree    []tlog.Hash
	want    map[uint64]bool
	roots   map[uint64]tlog.Hash
}

func newChainVerifier(opt VerifyOptions) *chainVerifier {
	v := &chainVerifier{opt: opt, prev: []byte(audit.GenesisHash), prevBuf: make([]byte, 64), roots: map[uint64]tlog.Hash{}}
	if len(opt.RootsAt) > 0 {
		v.want = map[uint64]bool{}
		for _, n := range opt.RootsAt {
			v.want[n] = true
			if n == 0 {
				v.roots[0] = emptyRoot
			}
		}
	}
	return v
}

func (v *chainVerifier) fail(seq uint64, body []byte, format string, args ...any) error {
	id := ""
	if f, err := scanChainFields(body); err == nil {
		id = string(f.recordID)
	}
	return &ChainError{Seq: seq, RecordID: id, Reason: fmt.Sprintf(format, args...)}
}

// rowCheck is what can be learnt of a row without the rows before it:
// SHA-256 of its body, the leaf hash of its record hash, and the chain
// fields its body names. Its slices point into the row's body.
type rowCheck struct {
	sum  [32]byte // SHA-256 of the body (unset for a row without one)
	leaf tlog.Hash
	f    chainFields
	ferr error // the body does not parse
}

func checkAlone(r *RawRecord) rowCheck {
	var p rowCheck
	if r.Pruned != nil || len(r.Body) == 0 {
		if len(r.Hash) == 32 {
			p.leaf = LeafHash([32]byte(r.Hash))
		}
		return p
	}
	p.sum = sha256.Sum256(r.Body)
	p.leaf = LeafHash(p.sum)
	p.f, p.ferr = scanChainFields(r.Body)
	return p
}

func (v *chainVerifier) check(r *RawRecord) error {
	p := checkAlone(r)
	return v.checkRow(r, &p)
}

// checkRow checks r, the next row in sequence order, given what
// checkAlone found in it.
func (v *chainVerifier) checkRow(r *RawRecord, p *rowCheck) error {
	seq := v.next
	switch {
	case r.Seq > seq:
		if seq == 0 {
			return &ChainError{Seq: seq, Reason: fmt.Sprintf("missing: the log starts at sequence %d", r.Seq)}
		}
		return &ChainError{Seq: seq, Reason: fmt.Sprintf("missing: sequence jumps from %d to %d (deleted records)", seq-1, r.Seq)}
	case r.Seq < seq:
		return v.fail(r.Seq, r.Body, "sequence %d appears twice or out of order", r.Seq)
	}
	if r.Pruned != nil || len(r.Body) == 0 {
		if len(r.Hash) != 32 {
			return &ChainError{Seq: seq, Reason: "the stored record_hash is not 32 bytes"}
		}
		if err := v.forget.pruned(seq, r); err != nil {
			return err
		}
		return v.advance(seq, [32]byte(r.Hash), p.leaf, nil, r)
	}
	sum := p.sum
	if len(r.Hash) != 32 || !bytes.Equal(sum[:], r.Hash) {
		return v.fail(seq, r.Body, "record_hash mismatch: the stored content does not hash to the stored record_hash (the record was changed)")
	}
	f, err := p.f, p.ferr
	if err != nil {
		return &ChainError{Seq: seq, Reason: err.Error()}
	}
	if !f.hasSequence || f.sequence != seq {
		return v.fail(seq, r.Body, "record says it is sequence %d but is stored at %d (records moved or swapped)", f.sequence, seq)
	}
	if !bytes.Equal(f.previousHash, v.prev) {
		return v.fail(seq, r.Body, "previous_hash mismatch: it links to %.16s… but the record before it is %.16s… (a record before it was changed, removed or swapped)", f.previousHash, v.prev)
	}
	if r.Indexed != nil {
		for i, col := range r.Indexed {
			if !sameString(f.indexed[i], col) {
				return v.fail(seq, r.Body, "the stored %s column says %q but the hashed record says %s (the row's query columns were changed)", IndexedNames[i], col, f.indexed[i])
			}
		}
	}
	if err := v.forget.record(seq, sum, &f, r); err != nil {
		return err
	}
	return v.advance(seq, sum, p.leaf, r.Body, r)
}

// advance checks what every row must satisfy, its body present or not —
// the proof of work and the stored tree hashes — and moves on. leaf is
// LeafHash(sum).
func (v *chainVerifier) advance(seq uint64, sum [32]byte, leaf tlog.Hash, body []byte, r *RawRecord) error {
	if !meetsDifficulty(sum, v.opt.Difficulty) {
		return v.fail(seq, body, "record_hash does not meet the proof-of-work difficulty %d", v.opt.Difficulty)
	}
	v.tree = v.acc.Add(leaf, v.tree)
	if len(r.Tree) != 32*len(v.tree) {
		return v.fail(seq, body, "stored Merkle tree hashes are wrong (%d bytes, want %d)", len(r.Tree), 32*len(v.tree))
	}
	for i, h := range v.tree {
		if !bytes.Equal(r.Tree[32*i:32*i+32], h[:]) {
			return v.fail(seq, body, "stored Merkle tree hash at level %d does not match the records", i)
		}
	}
	hex.Encode(v.prevBuf, sum[:])
	v.prev = v.prevBuf
	v.next++
	if v.want != nil && v.want[v.next] {
		v.roots[v.next] = v.acc.Root()
	}
	if v.opt.Progress != nil && v.next%4096 == 0 {
		v.opt.Progress(v.next)
	}
	return nil
}

// sameString reports whether the JSON string token tok (quotes included)
// decodes to s.
func sameString(tok, s []byte) bool {
	if len(tok) < 2 || tok[0] != '"' {
		return false
	}
	inner := tok[1 : len(tok)-1]
	if bytes.IndexByte(inner, '\\') < 0 {
		return bytes.Equal(inner, s)
	}
	var dec string
	if err := json.Unmarshal(tok, &dec); err != nil {
		return false
	}
	return dec == string(s)
}

func (v *chainVerifier) result() (VerifyResult, error) {
	res := VerifyResult{Size: v.next, Root: v.acc.Root(), LastHash: string(v.prev), RootsAt: v.roots}
	f, err := v.forget.finish(v.next)
	res.Forgotten = f
	return res, err
}

// CheckCheckpoint compares a verified chain with a saved checkpoint: the log
// must hold at least the checkpoint's records, its tree at the checkpoint's
// size must have the checkpoint's root (res must have been computed with
// cp.Size in RootsAt), and a consistency proof built from the stored tree
// hashes must prove the current tree extends the checkpointed one.
func CheckCheckpoint(cp Checkpoint, res VerifyResult, hr tlog.HashReader) error {
	if cp.Size > res.Size {
		return &ChainError{Seq: res.Size, Reason: fmt.Sprintf(
			"missing: the log holds %d records but the checkpoint covers %d (records %d..%d were removed from the end)",
			res.Size, cp.Size, res.Size, cp.Size-1)}
	}
	root, ok := res.RootsAt[cp.Size]
	if !ok {
		return fmt.Errorf("internal: tree hash at size %d was not computed", cp.Size)
	}
	if root != cp.Root {
		return &ChainError{Seq: 0, Reason: fmt.Sprintf(
			"rewritten: the first %d records do not match the checkpoint's tree hash (records were rewritten with recomputed hashes; the log's signed tree heads were rewritten too, so the first altered record cannot be named)", cp.Size)}
	}
	if cp.Size == 0 || cp.Size == res.Size {
		return nil
	}
	proof, err := tlog.ProveTree(int64(res.Size), int64(cp.Size), hr)
	if err != nil {
		return fmt.Errorf("consistency proof: %w", err)
	}
	if err := tlog.CheckTree(proof, int64(res.Size), res.Root, int64(cp.Size), cp.Root); err != nil {
		return &ChainError{Seq: cp.Size, Reason: "the stored tree does not prove the log extends the checkpoint: " + err.Error()}
	}
	return nil
}
