package trail

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/ami-orchestrator/ami-audit/internal/plural"
	"github.com/ami-orchestrator/ami-audit/keys"
	"github.com/ami-orchestrator/ami-audit/ledger"
)

// readLatest reads the last signed tree head this machine saw, nil when it
// has seen none (or the trail is unsigned).
func (t *Trail) readLatest() (*ledger.Checkpoint, error) {
	if !t.hasDir || t.pub == nil {
		return nil, nil
	}
	path := t.path(LatestFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	// A checkpoint naming another log is reported as such (its signature
	// cannot check with this log's key): the first line of a checkpoint's
	// text is its origin.
	if origin, _, _ := bytes.Cut(b, []byte("\n")); string(origin) != t.id.Origin {
		return nil, fmt.Errorf("%w: %s is a checkpoint of log %.120q, not of this log (%q): another trail's file was written here, or this trail's directory was replaced", ErrOtherLog, path, origin, t.id.Origin)
	}
	cp, _, err := ledger.OpenCheckpoint(b, note.VerifierList(t.pub))
	if err != nil {
		return nil, fmt.Errorf("%w: %s, the last tree head this machine saw, does not check: %v (it was altered)", ledger.ErrTampered, path, err)
	}
	return &cp, nil
}

// checkLatest checks that the store still holds the tree this machine last
// saw signed: at least as many records, and the same tree hash at that
// size (from the stored tree hashes; full verification checks them
// against the records).
func (t *Trail) checkLatest(ctx context.Context) error {
	seen, err := t.readLatest()
	if err != nil || seen == nil {
		return err
	}
	// The size now, read after the file: another process appends before
	// it writes the file, so the store holds at least what the file says
	// (the size read when the store was opened may be older than the
	// file).
	head, err := t.raw.Head(ctx)
	if err != nil {
		return err
	}
	return t.extends(ctx, *seen, head.Size)
}

// extends checks that the store's tree of size size extends cp.
func (t *Trail) extends(ctx context.Context, cp ledger.Checkpoint, size uint64) error {
	if size < cp.Size {
		return &ledger.ChainError{Seq: size, Reason: fmt.Sprintf(
			"missing: this machine saw the log signed at size %d, and the store holds %s (records %d..%d were removed, or the store was replaced by an older copy)",
			cp.Size, plural.Count(size, "record"), size, cp.Size-1)}
	}
	root, err := ledger.TreeRoot(cp.Size, t.hashReader(ctx))
	if err != nil {
		return &ledger.ChainError{Seq: cp.Size, Reason: fmt.Sprintf("the store cannot show the tree this machine saw signed at size %d: %v", cp.Size, err)}
	}
	if root != cp.Root {
		return &ledger.ChainError{Seq: 0, Reason: fmt.Sprintf(
			"rewritten: the store's first %s %s not the ones this machine saw signed (the log was rewritten or replaced)",
			plural.Count(cp.Size, "record"), plural.Pick(cp.Size, "is", "are"))}
	}
	return nil
}

// rememberLatest keeps the store's latest signed head as what this machine
// saw, after checking that it extends what it saw before (a consistency
// proof between the two signed trees; the stored hashes serve only as the
// proof's material, so a store cannot fool it).
func (t *Trail) rememberLatest(ctx context.Context) error {
	head, err := t.raw.LatestTreeHead(ctx)
	if err != nil || head == nil || head.Note == nil {
		return err
	}
	latest, err := ledger.OpenHead(*head, t.id.Origin, t.pub)
	if err != nil {
		return nil // not evidence of anything this machine can keep
	}
	seen, err := t.readLatest()
	if err != nil {
		return err
	}
	if seen != nil {
		if latest.Size < seen.Size {
			return nil // another process remembered a later one
		}
		if err := consistent(*seen, latest, t.hashReader(ctx)); err != nil {
			return fmt.Errorf("%w: the log's latest signed head (size %d) does not extend the one this machine saw (size %d): %v", ledger.ErrTampered, latest.Size, seen.Size, err)
		}
	}
	return writeFileAtomic(t.path(LatestFile), head.Note, 0o644)
}

// consistent checks that the tree of newer extends the tree of older.
func consistent(older, newer ledger.Checkpoint, hr tlog.HashReader) error {
	if older.Size == newer.Size {
		if older.Root != newer.Root {
			return errors.New("two different trees of the same size")
		}
		return nil
	}
	if older.Size == 0 {
		return nil
	}
	proof, err := tlog.ProveTree(int64(newer.Size), int64(older.Size), hr)
	if err != nil {
		return err
	}
	return tlog.CheckTree(proof, int64(newer.Size), newer.Root, int64(older.Size), older.Root)
}

// TreeHead returns the trail's size and the root of its tree (base64, as
// checkpoints write it), from the stored tree hashes: what a baseline
// saved now names. Verify checks the stored hashes against the records.
func (t *Trail) TreeHead(ctx context.Context) (size uint64, root string, err error) {
	head, err := t.raw.Head(ctx)
	if err != nil {
		return 0, "", err
	}
	r, err := ledger.TreeRoot(head.Size, t.hashReader(ctx))
	if err != nil {
		return 0, "", fmt.Errorf("the tree of size %d: %w", head.Size, err)
	}
	return head.Size, base64.StdEncoding.EncodeToString(r[:]), nil
}

// Contains checks that the trail still holds the tree of the given size
// and root (base64) that a baseline or a report saw: at least that many
// records, and the same tree at that size. The error wraps
// ledger.ErrTampered when it does not.
func (t *Trail) Contains(ctx context.Context, size uint64, root string) error {
	b, err := base64.StdEncoding.DecodeString(root)
	if err != nil || len(b) != len(tlog.Hash{}) {
		return fmt.Errorf("%w: tree root %q is not a base64 SHA-256", ledger.ErrTampered, root)
	}
	head, err := t.raw.Head(ctx)
	if err != nil {
		return err
	}
	cp := ledger.Checkpoint{Origin: t.id.Origin, Size: size}
	copy(cp.Root[:], b)
	return t.extends(ctx, cp, head.Size)
}

// SignerKeys are the public keys a document about this trail (a baseline)
// may be signed with: the log key, every key of the trusted/ folder, and
// the key files given.
func (t *Trail) SignerKeys(files ...string) ([]note.Verifier, error) {
	var out []note.Verifier
	if t.pub != nil {
		out = append(out, t.pub)
	}
	paths := slices.Clone(files)
	if dir := t.path(TrustedDir); t.hasDir && statIsDir(dir) {
		paths = append(paths, dir)
	}
	if len(paths) > 0 {
		more, err := keys.LoadTrusted(paths...)
		if err != nil {
			return nil, err
		}
		out = append(out, more...)
	}
	return out, nil
}

// LogSigner is the log's private key, to sign documents about the trail
// with; nil when this machine does not hold it.
func (t *Trail) LogSigner() note.Signer {
	if t.key == nil {
		return nil
	}
	return t.key.Signer
}
