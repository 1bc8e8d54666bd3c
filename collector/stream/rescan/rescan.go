// Package rescan is the stream of `watch --module`: it watches a
// directory tree through fsnotify and, once changes have settled for
// Config.Debounce, runs a source over it again — the file source, which
// is incremental against the trail, so only files that changed are
// recorded. A run is made at the start too, so that what changed while
// nothing watched is recorded first.
package rescan

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/collector/stream"
)

// DefaultDebounce is how long changes must settle before a rescan.
const DefaultDebounce = 500 * time.Millisecond

// Config configures a Watcher.
type Config struct {
	// Dir is the tree watched.
	Dir string
	// Source collects Target after changes.
	Source audit.Source
	Target string
	// Debounce (DefaultDebounce) is the quiet time after the last change
	// before the source runs.
	Debounce time.Duration
	// Skip says which directories are not watched, by path (default:
	// those named .git and .audit).
	Skip func(path string) bool
	// OnRun, when set, is told when a run starts and ends.
	OnRun func(start bool)
	// Logger receives warnings (default: discarded).
	Logger *slog.Logger
}

// Watcher is a stream.Stream.
type Watcher struct{ cfg Config }

// New returns a watcher.
func New(cfg Config) (*Watcher, error) {
	if cfg.Source == nil || cfg.Dir == "" {
		return nil, errors.New("rescan: no source or no directory")
	}
	if cfg.Debounce <= 0 {
		cfg.Debounce = DefaultDebounce
	}
	if cfg.Skip == nil {
		cfg.Skip = func(path string) bool { n := filepath.Base(path); return n == ".git" || n == ".audit" }
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Watcher{cfg: cfg}, nil
}

// Name is the source's.
func (w *Watcher) Name() string { return w.cfg.Source.Name() }

// Follow runs the source now and after every settled change, until ctx
// ends.
func (w *Watcher) Follow(ctx context.Context, emit stream.Emit) error {
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("rescan: %w", err)
	}
	defer fw.Close()
	add := func(root string) {
		filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || !d.IsDir() {
				return nil
			}
			if p != w.cfg.Dir && w.cfg.Skip(p) {
				return fs.SkipDir
			}
			if err := fw.Add(p); err != nil {
				w.cfg.Logger.Warn("cannot watch directory", "dir", p, "err", err)
			}
			return nil
		})
	}
	add(w.cfg.Dir)
	if err := w.run(ctx, emit); err != nil {
		return err
	}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-fw.Events:
			if !ok {
				return nil
			}
			if ev.Has(fsnotify.Create) {
				if fi, err := lstat(ev.Name); err == nil && fi.IsDir() && !w.cfg.Skip(ev.Name) {
					add(ev.Name)
				}
			}
			timer.Reset(w.cfg.Debounce)
		case err, ok := <-fw.Errors:
			if !ok {
				return nil
			}
			// An overflow loses events: rescan to be sure.
			w.cfg.Logger.Warn("file notifications", "err", err)
			timer.Reset(w.cfg.Debounce)
		case <-timer.C:
			if err := w.run(ctx, emit); err != nil {
				return err
			}
		}
	}
}

// run collects once.
func (w *Watcher) run(ctx context.Context, emit stream.Emit) error {
	if w.cfg.OnRun != nil {
		w.cfg.OnRun(true)
		defer w.cfg.OnRun(false)
	}
	err := stream.Collect(ctx, w.cfg.Source, w.cfg.Target, emit)
	if err != nil && ctx.Err() != nil {
		return nil // stopped in the middle: the next start runs again
	}
	if err != nil {
		return fmt.Errorf("%s: %w", w.cfg.Source.Name(), err)
	}
	return nil
}

func lstat(p string) (fs.FileInfo, error) { return os.Lstat(p) }
