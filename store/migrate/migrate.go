// Package migrate copies a trail from one store to another, whatever the
// backends: streaming (memory does not grow with the trail), resumable (a
// second run continues where the first stopped), and proven (both stores
// end with the same Merkle root).
//
// The copy is not a re-recording: each record keeps its id, timestamp,
// sequence, previous_hash, nonce and record_hash, its signatures and its
// status. The target links the copies itself, as any append does; before
// a chunk is written, migrate links it the same way in memory and checks
// that every record hash comes out as in the source, so a target can never
// end up holding a different chain.
package migrate

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"iter"
	"slices"

	"golang.org/x/mod/sumdb/tlog"
	"golang.org/x/sync/errgroup"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/internal/plural"
	"github.com/ami-orchestrator/ami-audit/ledger"
	"github.com/ami-orchestrator/ami-audit/store"
)

// Store is what migrate reads and writes: a store that can be verified.
type Store interface {
	audit.Store
	ledger.RawScanner
	HashReader(ctx context.Context) tlog.HashReader
	Origin() string
	Difficulty() int
}

// Options tune Copy.
type Options struct {
	// Chunk is the number of records read, checked and committed at a
	// time (default 2,000). Each chunk is one transaction in the target:
	// a run that stops resumes after the last committed chunk.
	Chunk int
	// Progress, when set, is called with the number of records copied so
	// far in this run.
	Progress func(n uint64)
	// SkipVerify skips the full verification of both stores at the end
	// (the roots are then compared from the stored tree hashes only).
	SkipVerify bool
}

// Result is what a finished copy establishes.
type Result struct {
	Resumed uint64    // records the target already held
	Copied  uint64    // records copied by this run
	Size    uint64    // records in both stores
	Root    tlog.Hash // the Merkle root both stores produce at Size
}

// RootBase64 is the root as checkpoints write it.
func (r Result) RootBase64() string { return base64.StdEncoding.EncodeToString(r.Root[:]) }

// ErrDiverged is wrapped when the target holds records that are not the
// source's.
var ErrDiverged = errors.New("the target is not a copy of the source")

// streamer appends a stream in one transaction.
type streamer interface {
	AppendStream(ctx context.Context, seq iter.Seq2[*audit.Record, error]) (int, error)
}

// Copy copies the records of src that dst does not hold yet, up to the
// size src has when Copy starts, and proves that both produce the same
// tree.
func Copy(ctx context.Context, src, dst Store, opt Options) (Result, error) {
	if opt.Chunk <= 0 {
		opt.Chunk = 2000
	}
	var res Result
	if a, b := identityOf(src), identityOf(dst); a != "" && b != "" && a != b {
		return res, fmt.Errorf("%w: the target holds log %s, the source is log %s (another trail: choose an empty target)", ErrDiverged, b, a)
	}
	if src.Origin() != dst.Origin() {
		return res, fmt.Errorf("%w: the target is log %q, the source %q", ErrDiverged, dst.Origin(), src.Origin())
	}
	if src.Difficulty() != dst.Difficulty() {
		return res, fmt.Errorf("%w: the target has proof-of-work difficulty %d, the source %d (the copies would get other nonces)", ErrDiverged, dst.Difficulty(), src.Difficulty())
	}
	sHead, err := src.Head(ctx)
	if err != nil {
		return res, fmt.Errorf("source: %w", err)
	}
	tHead, err := dst.Head(ctx)
	if err != nil {
		return res, fmt.Errorf("target: %w", err)
	}
	if err := checkPrefix(ctx, src, dst, sHead, tHead); err != nil {
		return res, err
	}
	res.Resumed = tHead.Size
	if err := copyRange(ctx, src, dst, tHead, sHead.Size, opt, &res); err != nil {
		return res, err
	}
	res.Size = sHead.Size
	return res, prove(ctx, src, dst, &res, opt)
}

// identityOf is a store's log id, empty when it keeps none.
func identityOf(s Store) string {
	if id, ok := s.(interface{ Identity() store.Identity }); ok {
		return id.Identity().LogID
	}
	return ""
}

// checkPrefix makes sure the target's records are the source's first
// records: same last hash, same Merkle root at the target's size.
func checkPrefix(ctx context.Context, src, dst Store, sHead, tHead audit.Head) error {
	if tHead.Size == 0 {
		return nil
	}
	if tHead.Size > sHead.Size {
		return fmt.Errorf("%w: the target holds %s, the source only %d", ErrDiverged, plural.Count(tHead.Size, "record"), sHead.Size)
	}
	var last *audit.Record
	for r, err := range src.Range(ctx, tHead.Size-1, tHead.Size) {
		if err != nil {
			return fmt.Errorf("source: %w", err)
		}
		last = r
	}
	if last == nil || last.RecordHash != tHead.Hash {
		return fmt.Errorf("%w: its record %d is not the source's record %d", ErrDiverged, tHead.Size-1, tHead.Size-1)
	}
	sr, err := ledger.TreeRoot(tHead.Size, src.HashReader(ctx))
	if err != nil {
		return fmt.Errorf("source tree: %w", err)
	}
	tr, err := ledger.TreeRoot(tHead.Size, dst.HashReader(ctx))
	if err != nil {
		return fmt.Errorf("target tree: %w", err)
	}
	if sr != tr {
		return fmt.Errorf("%w: the first %s %s different Merkle roots", ErrDiverged, plural.Count(tHead.Size, "record"), plural.Pick(tHead.Size, "has", "have"))
	}
	return nil
}

// zeroHashes stands in for the tree when only record hashes are checked.
var zeroHashes = tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) { return make([]tlog.Hash, len(idx)), nil })

func copyRange(ctx context.Context, src, dst Store, tip audit.Head, end uint64, opt Options, res *Result) error {
	chunks := make(chan []*audit.Record, 2)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		defer close(chunks)
		chunk := make([]*audit.Record, 0, opt.Chunk)
		for r, err := range src.Range(gctx, tip.Size, end) {
			if err != nil {
				return fmt.Errorf("source: %w", err)
			}
			if r.Pruned != nil {
				return fmt.Errorf("source: record %d (%s) was pruned by retention (policy %s): copying a trail with pruned records is not supported yet", r.Sequence, r.RecordID, r.Pruned.Policy)
			}
			chunk = append(chunk, r)
			if len(chunk) == opt.Chunk {
				if err := disclose(gctx, src, chunk); err != nil {
					return err
				}
				select {
				case chunks <- chunk:
				case <-gctx.Done():
					return gctx.Err()
				}
				chunk = make([]*audit.Record, 0, opt.Chunk)
			}
		}
		if len(chunk) > 0 {
			if err := disclose(gctx, src, chunk); err != nil {
				return err
			}
			select {
			case chunks <- chunk:
			case <-gctx.Done():
				return gctx.Err()
			}
		}
		return nil
	})
	g.Go(func() error {
		for chunk := range chunks {
			if err := gctx.Err(); err != nil {
				return err
			}
			next, err := checkChunk(tip, chunk, dst.Difficulty())
			if err != nil {
				return err
			}
			if err := write(gctx, dst, chunk); err != nil {
				return fmt.Errorf("target: records %d..%d: %w", chunk[0].Sequence, chunk[len(chunk)-1].Sequence, err)
			}
			h, err := dst.Head(gctx)
			if err != nil {
				return fmt.Errorf("target: %w", err)
			}
			if h != next {
				return fmt.Errorf("%w: after copying up to record %d the target's head is %d %s, want %d %s (another process appended to it?)",
					ErrDiverged, next.Size-1, h.Size, h.Hash, next.Size, next.Hash)
			}
			tip = next
			res.Copied += uint64(len(chunk))
			if opt.Progress != nil {
				opt.Progress(res.Copied)
			}
		}
		return nil
	})
	return g.Wait()
}

// disclose attaches to the records of a chunk that have commitments the
// values the source keeps of them: a copy keeps its values (and lacks the
// redacted ones, as the source does).
func disclose(ctx context.Context, src Store, chunk []*audit.Record) error {
	var seqs []uint64
	bySeq := map[uint64]*audit.Record{}
	for _, r := range chunk {
		if len(r.Commitments) > 0 {
			seqs = append(seqs, r.Sequence)
			bySeq[r.Sequence] = r
		}
	}
	if len(seqs) == 0 {
		return nil
	}
	vr, ok := src.(ledger.ValueReader)
	if !ok {
		return errors.New("source: the store cannot read the values of committed fields")
	}
	return vr.FieldValues(ctx, seqs, func(seq uint64, v ledger.FieldValue) error {
		r := bySeq[seq]
		if r == nil {
			return nil
		}
		d, err := v.Disclosure()
		if err != nil {
			return fmt.Errorf("source: record %d: %w", seq, err)
		}
		if r.Disclosures == nil {
			r.Disclosures = map[string]audit.Disclosure{}
		}
		r.Disclosures[v.Field] = d
		return nil
	})
}

// checkChunk links copies of the chunk after tip, as the target will, and
// checks that each comes out with the source's sequence and hash.
func checkChunk(tip audit.Head, chunk []*audit.Record, difficulty int) (audit.Head, error) {
	want := make([]string, len(chunk))
	copies := make([]*audit.Record, len(chunk))
	for i, r := range chunk {
		want[i] = r.RecordHash
		if r.Sequence != tip.Size+uint64(i) {
			return tip, fmt.Errorf("source: record %d comes where %d was expected (run 'ami-audit verify' on the source)", r.Sequence, tip.Size+uint64(i))
		}
		c := *r
		c.Signatures = slices.Clone(r.Signatures)
		copies[i] = &c
	}
	_, next, err := ledger.Link(tip, copies, ledger.Params{Difficulty: difficulty}, zeroHashes)
	if err != nil {
		return tip, fmt.Errorf("source record %d: %w", tip.Size, err)
	}
	for i, c := range copies {
		if c.RecordHash != want[i] {
			return tip, fmt.Errorf("source record %d (%s): relinked it hashes to %s, not %s; the source record is not in the canonical form this ami-audit writes, so it cannot be copied with its hash (run 'ami-audit verify' on the source)",
				chunk[i].Sequence, chunk[i].RecordID, c.RecordHash, want[i])
		}
	}
	return next, nil
}

func write(ctx context.Context, dst Store, chunk []*audit.Record) error {
	if st, ok := dst.(streamer); ok {
		_, err := st.AppendStream(ctx, func(yield func(*audit.Record, error) bool) {
			for _, r := range chunk {
				if !yield(r, nil) {
					return
				}
			}
		})
		return err
	}
	return dst.Append(ctx, chunk)
}

// prove computes both roots: by full verification of both stores, or from
// their stored tree hashes with SkipVerify.
func prove(ctx context.Context, src, dst Store, res *Result, opt Options) error {
	root := func(name string, s Store) (tlog.Hash, error) {
		if opt.SkipVerify {
			h, err := ledger.TreeRoot(res.Size, s.HashReader(ctx))
			if err != nil {
				return h, fmt.Errorf("%s tree: %w", name, err)
			}
			return h, nil
		}
		v, err := ledger.VerifyChain(ctx, s, ledger.VerifyOptions{Difficulty: s.Difficulty(), RootsAt: []uint64{res.Size}})
		if err != nil {
			return tlog.Hash{}, fmt.Errorf("%s does not verify: %w", name, err)
		}
		return v.RootsAt[res.Size], nil
	}
	var sr, tr tlog.Hash
	g, _ := errgroup.WithContext(ctx)
	g.Go(func() (err error) { sr, err = root("source", src); return })
	g.Go(func() (err error) { tr, err = root("target", dst); return })
	if err := g.Wait(); err != nil {
		return err
	}
	if sr != tr {
		return fmt.Errorf("%w: at size %d the source's Merkle root is %s and the target's %s",
			ErrDiverged, res.Size, base64.StdEncoding.EncodeToString(sr[:]), base64.StdEncoding.EncodeToString(tr[:]))
	}
	res.Root = sr
	return nil
}
