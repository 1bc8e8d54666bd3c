package ledger

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"maps"
	"slices"

	"golang.org/x/mod/sumdb/tlog"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/canonical"
)

// MaxDifficulty bounds proof of work: 8 hex digits is already about four
// billion hashes per record.
const MaxDifficulty = 8

// Entry is one record prepared for storage by Link.
type Entry struct {
	Record *audit.Record
	Body   []byte      // canonical bytes; SHA-256(Body) is the record hash
	Hash   tlog.Hash   // the record hash, raw
	Tree   []tlog.Hash // tree hashes completed by this leaf: leaf hash, then parents
}

// TreeBlob is the stored form of Tree: the hashes concatenated.
func (e *Entry) TreeBlob() []byte {
	b := make([]byte, 0, 32*len(e.Tree))
	for _, h := range e.Tree {
		b = append(b, h[:]...)
	}
	return b
}

// BatchError names the record of a batch that could not be linked.
type BatchError struct {
	Index int // position in the batch, from 0
	Err   error
}

func (e *BatchError) Error() string {
	return fmt.Sprintf("record %d of the batch: %v", e.Index+1, e.Err)
}
func (e *BatchError) Unwrap() error { return e.Err }

// Params are a log's rules for the records it appends.
type Params struct {
	// Difficulty is the proof-of-work difficulty: leading zero hex digits
	// of every record hash.
	Difficulty int
	// Committed lists the classifications whose context and metadata
	// values are committed rather than hashed in the clear
	// (audit.Record.CommitValues).
	Committed []string
}

// Link prepares recs to follow tip: it normalizes and validates each record,
// commits the values of a record whose classification is in p.Committed,
// assigns Sequence, PreviousHash, Nonce (mining to p.Difficulty leading
// zero hex digits) and RecordHash in place, and computes each leaf's tree
// hashes, reading the tree's frontier at tip.Size through r. It returns the
// entries and the new tip. Nothing is stored: the caller writes the entries
// in the same transaction in which it read tip.
//
// A record that arrives with a record hash is a copy of a stored record
// (package migrate): it is linked as it is, its commitments (if any) kept
// and checked against its disclosures, and never committed anew — the
// copy must hash as the original did.
func Link(tip audit.Head, recs []*audit.Record, p Params, r tlog.HashReader) ([]Entry, audit.Head, error) {
	acc, err := Frontier(tip.Size, r)
	if err != nil {
		return nil, tip, err
	}
	entries, next, _, err := LinkWith(tip, recs, p, acc)
	return entries, next, err
}

// LinkWith is Link given the tree's frontier at tip.Size (which a store may
// keep in memory between appends, saving the reads). It returns the
// frontier after the new records; acc itself is not changed.
func LinkWith(tip audit.Head, recs []*audit.Record, p Params, acc *Accumulator) ([]Entry, audit.Head, *Accumulator, error) {
	if err := checkDifficulty(p.Difficulty); err != nil {
		return nil, tip, nil, err
	}
	preps := make([]*Prepared, len(recs))
	for i, rec := range recs {
		preps[i] = &Prepared{Record: rec}
	}
	return LinkPrepared(tip, preps, p, acc)
}

func checkDifficulty(d int) error {
	if d < 0 || d > MaxDifficulty {
		return fmt.Errorf("proof-of-work difficulty %d is out of range 0..%d", d, MaxDifficulty)
	}
	return nil
}

// Prepared is a record made ready for linking by Prepare (or, with only
// Record set, a record still to be prepared): normalized,
// validated, its values committed, its canonical form written but for the
// members the chain decides (sequence, previous_hash, nonce), and SHA-256
// run over the bytes before them. Whatever does not depend on the record's
// place in the chain is done, so that a store can prepare records on the
// goroutines that produce them and keep its writer, which links them in
// order, for what must be done in order.
type Prepared struct {
	Record *audit.Record
	tmpl   []byte
	slots  audit.ChainSlots
	mid    hash.Cloner // SHA-256 of tmpl[:slots.Nonce]
}

// Prepare prepares rec for linking under the log's rules p (see Link). The
// record must not change until it is linked.
func Prepare(rec *audit.Record, p Params) (*Prepared, error) {
	rec.Normalize()
	copied := rec.RecordHash != ""
	rec.Sequence, rec.PreviousHash, rec.Nonce, rec.RecordHash = 0, "", 0, ""
	if err := rec.ValidateFields(); err != nil {
		return nil, err
	}
	var err error
	if copied {
		err = rec.CheckDisclosures()
	} else {
		err = rec.CommitValues(p.Committed)
	}
	if err != nil {
		return nil, err
	}
	tmpl, slots, err := rec.AppendChainTemplate(nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", audit.ErrInvalid, err)
	}
	mid := sha256.New().(hash.Cloner)
	mid.Write(tmpl[:slots.Nonce])
	return &Prepared{Record: rec, tmpl: tmpl, slots: slots, mid: mid}, nil
}

// appendBody appends the prepared record's canonical form with the chain's
// values.
func (pr *Prepared) appendBody(dst []byte, nonce uint64, prev string, seq uint64) ([]byte, error) {
	t, sl := pr.tmpl, pr.slots
	dst = append(dst, t[:sl.Nonce]...)
	dst, _ = canonical.AppendUint(dst, nonce)
	dst = append(dst, t[sl.Nonce:sl.PreviousHash]...)
	dst, err := canonical.AppendString(dst, prev)
	if err != nil {
		return dst, fmt.Errorf("%w: previous_hash: %w", audit.ErrInvalid, err)
	}
	dst = append(dst, t[sl.PreviousHash:sl.Sequence]...)
	dst, _ = canonical.AppendUint(dst, seq)
	return append(dst, t[sl.Sequence:]...), nil
}

// LinkPrepared is LinkWith given prepared records (those with only their
// Record set are prepared here, under p): it assigns Sequence,
// PreviousHash, Nonce (mining to p.Difficulty) and RecordHash in place,
// hashes each record's canonical form from where Prepare stopped, and
// computes each leaf's tree hashes.
func LinkPrepared(tip audit.Head, preps []*Prepared, p Params, acc *Accumulator) ([]Entry, audit.Head, *Accumulator, error) {
	difficulty := p.Difficulty
	if err := checkDifficulty(difficulty); err != nil {
		return nil, tip, nil, err
	}
	for i, pr := range preps {
		if pr.mid == nil {
			full, err := Prepare(pr.Record, p)
			if err != nil {
				return nil, tip, nil, &BatchError{Index: i, Err: err}
			}
			*pr = *full
		}
	}
	if acc.Size() != tip.Size {
		return nil, tip, nil, fmt.Errorf("internal: tree frontier of size %d given for a tip of size %d", acc.Size(), tip.Size)
	}
	if tip.Hash == "" {
		tip.Hash = audit.GenesisHash
	}
	acc = acc.Clone()
	entries := make([]Entry, len(preps))
	var body []byte
	for i, pr := range preps {
		rec := pr.Record
		rec.Sequence = tip.Size
		rec.PreviousHash = tip.Hash
		rec.Nonce = 0
		var sum [32]byte
		for {
			var err error
			if body, err = pr.appendBody(body[:0], rec.Nonce, tip.Hash, tip.Size); err != nil {
				return nil, tip, nil, &BatchError{Index: i, Err: err}
			}
			h, err := pr.mid.Clone()
			if err != nil {
				return nil, tip, nil, &BatchError{Index: i, Err: err}
			}
			h.Write(body[pr.slots.Nonce:])
			h.Sum(sum[:0])
			if meetsDifficulty(sum, difficulty) {
				break
			}
			rec.Nonce++
		}
		rec.RecordHash = hex.EncodeToString(sum[:])
		tree := slices.Clone(acc.Add(LeafHash(sum), nil))
		entries[i] = Entry{Record: rec, Body: slices.Clone(body), Hash: sum, Tree: tree}
		tip = audit.Head{Size: tip.Size + 1, Hash: rec.RecordHash}
	}
	return entries, tip, acc, nil
}

// Frontier rebuilds the accumulator of a tree of n leaves from its stored
// hashes: the roots of its complete subtrees, O(log n) reads.
func Frontier(n uint64, r tlog.HashReader) (*Accumulator, error) {
	var idx []int64
	var start uint64
	for k := 63; k >= 0; k-- {
		if n&(1<<k) == 0 {
			continue
		}
		idx = append(idx, tlog.StoredHashIndex(k, int64(start>>k)))
		start += 1 << k
	}
	acc := &Accumulator{size: n}
	if len(idx) == 0 {
		return acc, nil
	}
	if r == nil {
		return nil, errors.New("no tree hash reader for the existing leaves")
	}
	hs, err := r.ReadHashes(idx)
	if err != nil {
		return nil, fmt.Errorf("tree frontier at size %d: %w", n, err)
	}
	acc.stack = hs
	return acc, nil
}

// LeafHash is the Merkle leaf hash of a record hash.
func LeafHash(recordHash [32]byte) tlog.Hash { return tlog.RecordHash(recordHash[:]) }

// meetsDifficulty reports whether the hex form of sum starts with d zeros.
func meetsDifficulty(sum [32]byte, d int) bool {
	for i := 0; i < d; i++ {
		b := sum[i/2]
		if i%2 == 0 {
			b >>= 4
		}
		if b&0xf != 0 {
			return false
		}
	}
	return true
}

// TreeLocation says where the stored tree hash with tlog index idx lives:
// in the Tree of the record with sequence leaf, at position pos.
func TreeLocation(idx int64) (leaf uint64, pos int) {
	level, n := tlog.SplitStoredHashIndex(idx)
	return uint64((n+1)<<level - 1), level
}

// BlobHashReader builds a tlog.HashReader from a function returning the
// stored tree blob of a record. Stores use it to serve tree hashes.
func BlobHashReader(blob func(leaf uint64) ([]byte, error)) tlog.HashReader {
	return tlog.HashReaderFunc(func(indexes []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(indexes))
		for i, idx := range indexes {
			leaf, pos := TreeLocation(idx)
			b, err := blob(leaf)
			if err != nil {
				return nil, err
			}
			if len(b) < 32*(pos+1) {
				return nil, fmt.Errorf("record %d: stored tree hashes are short (%d bytes, need %d)", leaf, len(b), 32*(pos+1))
			}
			copy(out[i][:], b[32*pos:])
		}
		return out, nil
	})
}

// SignEntries calls sign with the record of each linked entry (its hash
// known), so that the signatures it adds are stored with it. offset is the
// position of entries[0] in the whole batch, for the error.
func SignEntries(entries []Entry, sign func(*audit.Record) error, offset int) error {
	if sign == nil {
		return nil
	}
	for i := range entries {
		if err := sign(entries[i].Record); err != nil {
			return &BatchError{Index: offset + i, Err: fmt.Errorf("sign: %w", err)}
		}
	}
	return nil
}

// Values returns the disclosures of the entry's record as stores keep
// them: the raw salt and the value's canonical JSON, by field name.
func (e *Entry) Values() ([]FieldValue, error) {
	out := make([]FieldValue, 0, len(e.Record.Disclosures))
	for _, field := range slices.Sorted(maps.Keys(e.Record.Disclosures)) {
		d := e.Record.Disclosures[field]
		salt, err := hex.DecodeString(d.Salt)
		if err != nil || len(salt) != audit.SaltSize {
			return nil, fmt.Errorf("record %d: %s: the salt is not %d bytes of hex", e.Record.Sequence, field, audit.SaltSize)
		}
		v, err := canonical.Marshal(d.Value)
		if err != nil {
			return nil, fmt.Errorf("record %d: %s: %w", e.Record.Sequence, field, err)
		}
		out = append(out, FieldValue{Field: field, Salt: salt, Value: v})
	}
	return out, nil
}
