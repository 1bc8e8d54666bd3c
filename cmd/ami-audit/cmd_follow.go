package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/store/rediscache"
	"github.com/ami-orchestrator/ami-audit/trail"
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
type watcher = trail.Watcher

// follow prints the records matching f that are appended from now on,
// until ctx ends (trail.Follow).
func (a *App) follow(ctx context.Context, s audit.Store, f audit.Filter, format string, poll time.Duration) error {
	if format != "table" && format != "jsonl" && format != "json" {
		return usagef("--follow prints table or jsonl, not %s", format)
	}
	head, err := s.Head(ctx)
	if err != nil {
		return err
	}
	return trail.Follow(ctx, s, trail.FollowOptions{
		From:   head.Size,
		Filter: f,
		Poll:   poll,
		OnPolling: func(err error) {
			a.notice("following by reading the store every %s (%v)", poll, err)
		},
	}, func(r *audit.Record) error { return writeFollowed(a.stdout, r, format) })
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
