package baseline

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/ami-orchestrator/ami-audit/ledger"
	"github.com/ami-orchestrator/ami-audit/state"
	"github.com/ami-orchestrator/ami-audit/trail"
)

// ErrNoSigner: no key to sign with (the log key is not on this machine
// and no other was given).
var ErrNoSigner = errors.New("no key to sign the baseline with")

// ErrOtherLog: the baseline was saved from another trail.
var ErrOtherLog = fmt.Errorf("%w: the baseline is of another trail", ledger.ErrTampered)

// Save reads the state the trail holds now and returns it as a baseline
// signed by signer (the trail's log key when nil). patterns name the
// configuration files (state.DefaultConfig when nil).
func Save(ctx context.Context, t *trail.Trail, signer note.Signer, patterns []string, now time.Time) (*Baseline, error) {
	if signer == nil {
		signer = t.LogSigner()
	}
	if signer == nil {
		return nil, fmt.Errorf("%w: this machine does not hold the log key; give a key file", ErrNoSigner)
	}
	size, root, err := t.TreeHead(ctx)
	if err != nil {
		return nil, err
	}
	st, err := state.At(ctx, t.Store(), time.Time{})
	if err != nil {
		return nil, err
	}
	id := t.Identity()
	b := New(st, Trail{Origin: id.Origin, LogID: id.LogID, Size: size, Root: root}, patterns, now)
	if err := b.Sign(signer); err != nil {
		return nil, err
	}
	return b, nil
}

// Open reads the baseline in path and checks it before it is used: a
// signature by the log key, a trusted key of the trail or one of keyFiles
// that checks; saved from this trail (its log id); and a tree the trail
// still holds. Every refusal wraps ledger.ErrTampered, but a file that
// cannot be read or is not a baseline.
func Open(ctx context.Context, t *trail.Trail, path string, keyFiles ...string) (*Baseline, []string, error) {
	trusted, err := t.SignerKeys(keyFiles...)
	if err != nil {
		return nil, nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	b, signers, err := Load(f, trusted)
	if err != nil {
		return nil, nil, fmt.Errorf("baseline %s: %w", path, err)
	}
	id := t.Identity()
	if b.Trail.LogID != id.LogID {
		return nil, nil, fmt.Errorf("baseline %s: %w (log %q, %s; this trail is log %q, %s)", path, ErrOtherLog, b.Trail.Origin, b.Trail.LogID, id.Origin, id.LogID)
	}
	if err := t.Contains(ctx, b.Trail.Size, b.Trail.Root); err != nil {
		return nil, nil, fmt.Errorf("baseline %s: the trail no longer holds the tree the baseline was saved from (size %d): %w", path, b.Trail.Size, err)
	}
	return b, signers, nil
}
