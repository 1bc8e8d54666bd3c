package exporter

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"strings"
	"time"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/internal/atomicfile"
)

// cursorVersion is the version of the cursor file's format.
const cursorVersion = 1

// Cursor is where the export of one log to one destination stands: the
// sequence number of the next record to look at. It lives in a file of
// its own (normally .audit/exporters/NAME.cursor), written atomically.
type Cursor struct {
	Path  string
	LogID string
	// Dest names the destination in the file, for people (redacted).
	Dest string
}

type cursorFile struct {
	Version     int    `json:"version"`
	LogID       string `json:"log_id"`
	Destination string `json:"destination"`
	Next        uint64 `json:"next_sequence"`
	Updated     string `json:"updated"`
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// CursorName names the cursor of a log and a destination: readable, and
// distinct for distinct destinations (a hash of the destination, whose
// credentials are left out, is part of it).
func CursorName(logID, dest string) string {
	sum := sha256.Sum256([]byte(logID + "\n" + Redact(dest) + "\n" + dest))
	label := Redact(dest)
	if u := strings.Index(label, "://"); u >= 0 {
		label = label[:u] + "-" + label[u+3:]
	}
	label = strings.Trim(unsafeName.ReplaceAllString(label, "-"), "-.")
	if len(label) > 48 {
		label = label[:48]
	}
	return logID + "-" + label + "-" + hex.EncodeToString(sum[:6])
}

// Load returns the saved position; ok is false when there is none.
func (c *Cursor) Load() (next uint64, ok bool, err error) {
	b, err := os.ReadFile(c.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	var f cursorFile
	if err := json.Unmarshal(b, &f); err != nil {
		return 0, false, fmt.Errorf("cursor %s: %w", c.Path, err)
	}
	if f.Version != cursorVersion {
		return 0, false, fmt.Errorf("cursor %s: version %d, want %d", c.Path, f.Version, cursorVersion)
	}
	if f.LogID != c.LogID {
		return 0, false, fmt.Errorf("cursor %s is the position in log %s, not in this trail's log %s", c.Path, f.LogID, c.LogID)
	}
	return f.Next, true, nil
}

// Save records next atomically: a synced temporary file renamed over the
// cursor.
func (c *Cursor) Save(next uint64) error {
	b, err := json.MarshalIndent(cursorFile{Version: cursorVersion, LogID: c.LogID, Destination: c.Dest, Next: next,
		Updated: audit.FormatTime(time.Now())}, "", " ")
	if err != nil {
		return err
	}
	return atomicfile.Write(c.Path, append(b, '\n'), 0o644)
}

// Runner feeds an exporter from a store.
type Runner struct {
	// Store is read, never written.
	Store audit.Store
	// Exporter delivers; Dest names it in messages (redacted).
	Exporter Exporter
	Dest     string
	// Cursor keeps the position; nil exports without one (from Start).
	Cursor *Cursor
	// Filter selects the records exported (its Limit is ignored).
	// Records it leaves out are passed over, and the cursor moves past
	// them.
	Filter audit.Filter
	// Start is the first sequence looked at when there is no cursor.
	Start uint64
	// BatchSize caps the records of one Export (default 500).
	BatchSize int
	// Follow keeps exporting what is appended, until ctx ends. Without
	// it, Run stops at the head the store had when it started.
	Follow bool
	// Poll is how often a follower reads the store (default 1 s);
	// Notify, when set, wakes it sooner (the cache's announcements).
	Poll   time.Duration
	Notify <-chan audit.Head
	// Retries is how many times a failed batch is tried again before Run
	// gives up; a follower never gives up (but on a permanent error).
	// Default 5.
	Retries int
	// OnRetry, when set, is told of a failure that will be retried.
	OnRetry func(err error, wait time.Duration)
	// OnExport, when set, is told of every delivered batch.
	OnExport func(recs []*audit.Record)
	// Sleep waits (default: a timer honouring ctx); tests replace it.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Stats say what a run did.
type Stats struct {
	Exported int    // records delivered (a retried batch counts once)
	Passed   int    // records the filter left out
	Next     uint64 // the position reached
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Run exports until the head (or, following, until ctx ends). A stop by
// ctx returns nil with what was delivered saved in the cursor.
func (r *Runner) Run(ctx context.Context) (Stats, error) {
	var st Stats
	if r.BatchSize <= 0 {
		r.BatchSize = 500
	}
	if r.Poll <= 0 {
		r.Poll = time.Second
	}
	if r.Retries <= 0 {
		r.Retries = 5
	}
	if r.Sleep == nil {
		r.Sleep = sleepCtx
	}
	next := r.Start
	if r.Cursor != nil {
		n, ok, err := r.Cursor.Load()
		if err != nil {
			return st, err
		}
		if ok {
			next = n
		}
	}
	st.Next = next
	f := r.Filter
	f.Limit = 0
	head, err := r.Store.Head(ctx)
	if err != nil {
		return st, err
	}
	end := head.Size
	if next > end {
		return st, fmt.Errorf("the cursor (%d) is past the end of the trail (%d records): the cursor belongs to another copy of this log, or records were lost; check with 'ami-audit verify'", next, end)
	}
	for {
		if err := r.exportRange(ctx, &st, f, end); err != nil {
			if ctx.Err() != nil && !errors.Is(err, ErrPermanent) {
				return st, nil
			}
			return st, err
		}
		if !r.Follow {
			return st, nil
		}
		select {
		case <-ctx.Done():
			return st, nil
		case _, ok := <-r.Notify:
			if !ok {
				r.Notify = nil
			}
		case <-time.After(r.Poll):
		}
		head, err := r.Store.Head(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return st, nil
			}
			return st, err
		}
		end = head.Size
	}
}

// exportRange exports the records from st.Next up to end.
func (r *Runner) exportRange(ctx context.Context, st *Stats, f audit.Filter, end uint64) error {
	var batch []*audit.Record
	lastSaved := st.Next
	flush := func(upto uint64) error {
		if len(batch) > 0 {
			if err := r.deliver(ctx, batch); err != nil {
				return err
			}
			st.Exported += len(batch)
			if r.OnExport != nil {
				r.OnExport(batch)
			}
			batch = nil
		}
		st.Next = upto
		if r.Cursor != nil && upto != lastSaved {
			if err := r.Cursor.Save(upto); err != nil {
				return fmt.Errorf("save the cursor: %w", err)
			}
			lastSaved = upto
		}
		return nil
	}
	for st.Next < end {
		// Read a window first, so that no read of the store stays open
		// while a destination is waited for.
		from := st.Next
		to := min(end, from+uint64(r.BatchSize)*4)
		var window []*audit.Record
		pos := from
		for rec, err := range r.Store.Range(ctx, from, to) {
			if err != nil {
				return err
			}
			pos = rec.Sequence + 1
			if f.Match(rec) {
				window = append(window, rec)
			} else {
				st.Passed++
			}
		}
		if pos < to {
			return fmt.Errorf("the store returned records up to %d of %d..%d", pos, from, to)
		}
		for len(window) > 0 {
			n := min(len(window), r.BatchSize)
			batch = window[:n:n]
			window = window[n:]
			upto := to
			if len(window) > 0 {
				upto = batch[n-1].Sequence + 1
			}
			if err := flush(upto); err != nil {
				return err
			}
		}
		if err := flush(to); err != nil {
			return err
		}
	}
	return nil
}

// deliver exports one batch, retrying.
func (r *Runner) deliver(ctx context.Context, batch []*audit.Record) error {
	for try := 1; ; try++ {
		err := r.Exporter.Export(ctx, batch)
		if err == nil {
			return nil
		}
		if errors.Is(err, ErrPermanent) || ctx.Err() != nil {
			return fmt.Errorf("export to %s: %w", r.Dest, err)
		}
		if !r.Follow && try > r.Retries {
			return fmt.Errorf("export to %s: %w (gave up after %d tries; run again to resume)", r.Dest, err, try)
		}
		wait := Backoff(try)
		if r.OnRetry != nil {
			r.OnRetry(err, wait)
		}
		if err := r.Sleep(ctx, wait); err != nil {
			return err
		}
	}
}
