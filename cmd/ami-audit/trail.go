package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/ledger"
	"github.com/ami-orchestrator/ami-audit/store"
	"github.com/ami-orchestrator/ami-audit/trail"
)

const dbFile = trail.DBFile

// trailConfig is how this command opens the trail.
func (a *App) trailConfig(readOnly bool) trail.Config {
	return trail.Config{Dir: a.auditDir, Registry: a.registry, Store: a.storeURL, Cache: a.cacheURL,
		ReadOnly: readOnly, PublicKey: a.pubKey, Logger: slog.New(slog.NewTextHandler(a.stderr, nil))}
}

// openTrail opens the trail once per command: for reading only, or for
// appending (creating it when there is no trail at all yet: no settings
// here and no store at the location — a trail that existed and whose
// store is gone is reported, never replaced).
func (a *App) openTrail(ctx context.Context, readOnly bool) (*trail.Trail, error) {
	if a.trail != nil {
		if a.trailReadOnly && !readOnly {
			return nil, errors.New("internal: the trail was opened read-only")
		}
		return a.trail, nil
	}
	cfg := a.trailConfig(readOnly)
	t, err := trail.Open(ctx, cfg)
	if errors.Is(err, trail.ErrNoTrail) && !readOnly {
		var created trail.Created
		nt := a.beforeCreate()
		t, created, err = trail.Create(ctx, cfg, trail.CreateOptions{})
		switch created {
		case trail.New:
			a.createdTrail = nt // announced when the command succeeds (finishNewTrail)
		case trail.Joined:
			a.notice("joined the audit trail at %s (log %s)", t.Location(), t.Identity().LogID)
		}
	}
	if err != nil {
		return nil, a.trailError(err)
	}
	for _, n := range t.Notices() {
		a.notice("%s", n)
	}
	a.trail, a.trailReadOnly = t, readOnly
	return t, nil
}

// trailError adds what the user can do to the errors of opening a trail.
func (a *App) trailError(err error) error {
	switch {
	case errors.Is(err, trail.ErrNoTrail):
		return withHint(err, "run 'ami-audit init' in the repository, or give --audit-dir or --store")
	case errors.Is(err, trail.ErrUnsafeDir):
		return withHint(err, "make "+a.auditDir+" a real directory (or point it at one only you can write), or give --audit-dir")
	case errors.Is(err, trail.ErrNeedPublicKey):
		return withHint(err, "give the log's public key with --key FILE")
	case errors.Is(err, ledger.ErrTampered):
		return verifyError{err}
	}
	return err
}

// openStore opens the trail for appending and returns its store.
func (a *App) openStore(ctx context.Context) (audit.Store, error) {
	t, err := a.openTrail(ctx, false)
	if err != nil {
		return nil, err
	}
	return t.Store(), nil
}

// openExisting opens the trail for reading only and returns its store:
// nothing is written, and read access to the store is enough.
func (a *App) openExisting(ctx context.Context) (audit.Store, error) {
	t, err := a.openTrail(ctx, true)
	if err != nil {
		return nil, err
	}
	return t.Store(), nil
}

// appendError explains why the store refused an append.
func appendError(err error) error {
	if errors.Is(err, store.ErrNoLogKey) {
		return withHint(err, "append where the trail's log key (.audit/log.key) is, or copy it here (mode 0600)")
	}
	return err
}

func mustAbs(p string) string {
	if abs, err := filepath.Abs(p); err == nil {
		return abs
	}
	return p
}

// createdTrail is what this command created when it opened the trail.
type createdTrail struct {
	dirCreated bool     // the audit directory did not exist
	files      []string // files of the directory that did not exist before
	embedded   bool     // the store is the SQLite file in the directory
}

// beforeCreate notes what the directory holds before trail.Create, so that
// finishNewTrail can take back exactly what was created.
func (a *App) beforeCreate() *createdTrail {
	nt := &createdTrail{embedded: a.storeURL == ""}
	if _, err := os.Lstat(a.auditDir); errors.Is(err, fs.ErrNotExist) {
		nt.dirCreated = true
		return nt
	}
	for _, name := range []string{".gitignore", trail.ConfigFile, trail.LogKeyFile, trail.LogPubFile, trail.LatestFile,
		trail.DBFile, trail.DBFile + "-wal", trail.DBFile + "-shm", trail.DBFile + "-journal"} {
		p := filepath.Join(a.auditDir, name)
		if _, err := os.Lstat(p); errors.Is(err, fs.ErrNotExist) {
			nt.files = append(nt.files, p)
		}
	}
	return nt
}

// finishNewTrail ends the life of a trail this command created: after
// success it is announced; after a failure with nothing recorded in it,
// what was created is removed, so that a failing command has no side
// effect. A trail kept in another store (PostgreSQL) is left alone.
func (a *App) finishNewTrail(cmdErr error) {
	nt := a.createdTrail
	if nt == nil {
		return
	}
	a.createdTrail = nil
	if cmdErr == nil {
		a.notice("created a new audit trail in %s", a.auditDir)
		return
	}
	if !nt.embedded {
		return
	}
	if a.trail != nil {
		if h, err := a.trail.Store().Head(context.Background()); err != nil || h.Size > 0 {
			return // something was recorded (or cannot be known): keep it
		}
		a.trail.Close()
		a.trail = nil
	}
	if nt.dirCreated {
		os.RemoveAll(a.auditDir)
		return
	}
	for _, f := range nt.files {
		os.Remove(f)
	}
}

// notice prints a line on stderr unless --quiet.
func (a *App) notice(format string, args ...any) {
	if !a.quiet {
		fmt.Fprintf(a.stderr, format+"\n", args...)
	}
}

// logger is where libraries' warnings go: stderr, as text.
func (a *App) logger() *slog.Logger { return slog.New(slog.NewTextHandler(a.stderr, nil)) }
