package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/store/rediscache"
)

// withCache puts the Redis cache of --cache (or AMI_AUDIT_CACHE) in front
// of s. Verification still reads s: the cache forwards it.
func (a *App) withCache(ctx context.Context, s audit.Store) (audit.Store, error) {
	if a.cacheURL == "" {
		return s, nil
	}
	c, err := rediscache.New(ctx, s, rediscache.Config{URL: a.cacheURL, Logger: slog.New(slog.NewTextHandler(a.stderr, nil))})
	if err != nil {
		s.Close()
		return nil, usageError{err}
	}
	return c, nil
}

// watcher is a store that announces committed appends (the Redis cache).
type watcher interface {
	Watch(ctx context.Context) (<-chan audit.Head, error)
}

// follow prints the records matching f that are appended from now on,
// until ctx ends: woken by the cache's announcements when there is a
// cache, and reading the store every poll interval in any case, so that
// nothing is missed while Redis is away. Records come from the store, in
// sequence order, each once.
func (a *App) follow(ctx context.Context, s audit.Store, f audit.Filter, format string, poll time.Duration) error {
	if format != "table" && format != "jsonl" && format != "json" {
		return usagef("--follow prints table or jsonl, not %s", format)
	}
	head, err := s.Head(ctx)
	if err != nil {
		return err
	}
	next := head.Size
	var notify <-chan audit.Head
	if w, ok := s.(watcher); ok {
		if notify, err = w.Watch(ctx); err != nil {
			a.notice("following by reading the store every %s (%v)", poll, err)
			notify = nil
		} else {
			poll = max(poll, 5*time.Second)
		}
	}
	timer := time.NewTimer(poll)
	defer timer.Stop()
	for {
		for r, err := range s.Range(ctx, next, ^uint64(0)) {
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
			next = r.Sequence + 1
			if !f.Match(r) {
				continue
			}
			if err := writeFollowed(a.stdout, r, format); err != nil {
				return err
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case _, ok := <-notify:
			if !ok {
				notify = nil
			}
		case <-timer.C:
			timer.Reset(poll)
		}
	}
}

func writeFollowed(w io.Writer, r *audit.Record, format string) error {
	if format == "table" {
		_, err := fmt.Fprintf(w, "%d  %s  %s  %s  %s  %s  %s  %s\n", r.Sequence, r.Timestamp.UTC().Format("2006-01-02 15:04:05"),
			oneLine(r.Actor), oneLine(r.Action), oneLine(r.Target), r.TargetType, r.Severity, r.RecordID)
		return err
	}
	b, err := r.AppendJSON(nil)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
