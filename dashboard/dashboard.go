// Package dashboard is the live view of a trail (SPEC §9): the append rate
// as a sparkline, the latest records (through a filter), the findings of
// recent records by severity, and the chain's status — size, the last
// checkpoint this machine saw, the last verification. It reads the store
// and never writes it: woken by the cache's announcements when there is a
// cache, and reading the store every Config.Interval in any case.
//
// Watch computes the snapshots; the terminal view (TUI, with
// github.com/charmbracelet/bubbletea) and the plain one (lines, for when
// the output is not a terminal) draw them.
package dashboard

import (
	"context"
	"strings"
	"sync"
	"time"

	audit "github.com/ami-orchestrator/ami-audit"
)

// Defaults of Config.
const (
	DefaultInterval = 500 * time.Millisecond
	DefaultWindow   = 5000
	DefaultLatest   = 15
	// RateSamples is the length of the rate history, one sample per
	// second.
	RateSamples = 60
)

// Verification is the outcome of the last verification.
type Verification struct {
	At     time.Time
	Size   uint64
	OK     bool
	Detail string // what failed, or what was checked
}

// Checkpoint is the last signed tree head this machine saw.
type Checkpoint struct {
	Size uint64
	At   time.Time
}

// Config configures the view.
type Config struct {
	// Store is read, never written.
	Store audit.Store
	// Filter selects the records listed and counted (its Limit is
	// ignored); the filter box narrows it further.
	Filter audit.Filter
	// Interval is how often the store is read (DefaultInterval).
	Interval time.Duration
	// Notify, when set, wakes the view sooner (the cache's channel).
	Notify <-chan audit.Head
	// Window is how many of the newest records findings are counted in
	// and the filter box searches (DefaultWindow).
	Window int
	// Latest is how many records are listed (DefaultLatest).
	Latest int
	// Verify verifies the trail (read-only), when set.
	Verify func(ctx context.Context) Verification
	// Checkpoint returns the last checkpoint this machine saw, when set.
	Checkpoint func() (Checkpoint, bool)
	// Title names the trail (its origin and store).
	Title string
}

func (c *Config) defaults() {
	if c.Interval <= 0 {
		c.Interval = DefaultInterval
	}
	if c.Window <= 0 {
		c.Window = DefaultWindow
	}
	if c.Latest <= 0 {
		c.Latest = DefaultLatest
	}
}

// Snapshot is what the view shows at one moment.
type Snapshot struct {
	Time time.Time
	Head audit.Head
	// Rate holds records appended per second, oldest first, over the
	// seconds the view has been watching (at most RateSamples).
	Rate []float64
	// Latest are the newest records matching the filters, newest first.
	Latest []*audit.Record
	// Findings counts the findings of the Window newest records
	// matching the filters, by severity; Scanned is how many records
	// that was.
	Findings map[audit.Severity]int
	Scanned  int
	// Checkpoint is the last checkpoint seen; HasCheckpoint says whether
	// there is one.
	Checkpoint    Checkpoint
	HasCheckpoint bool
	// Verification is the last one (zero while none finished).
	Verification Verification
	Verifying    bool
	// Err is the last error reading the store (the view keeps going).
	Err error
}

// Matches reports whether r contains text (case-insensitively) in its
// actor, action, target, target type, severity, source or reason.
func Matches(r *audit.Record, text string) bool {
	if text == "" {
		return true
	}
	text = strings.ToLower(text)
	for _, f := range []string{r.Actor, r.Action, r.Target, string(r.TargetType), string(r.Severity), r.Source, r.Reason} {
		if strings.Contains(strings.ToLower(f), text) {
			return true
		}
	}
	return false
}

// Watcher computes snapshots. Its methods are safe for concurrent use.
type Watcher struct {
	cfg Config

	mu        sync.Mutex
	text      string
	rate      []float64
	lastSize  uint64
	lastAt    time.Time
	haveLast  bool
	verif     Verification
	verifying bool
	verifyNow chan struct{}
}

// New returns a watcher.
func New(cfg Config) *Watcher {
	cfg.defaults()
	return &Watcher{cfg: cfg, verifyNow: make(chan struct{}, 1)}
}

// SetText sets the filter box's text.
func (w *Watcher) SetText(s string) {
	w.mu.Lock()
	w.text = s
	w.mu.Unlock()
}

// Reverify asks for a verification now.
func (w *Watcher) Reverify() {
	select {
	case w.verifyNow <- struct{}{}:
	default:
	}
}

// Run sends a snapshot on out after every read of the store, until ctx
// ends; it verifies the trail at the start and when asked.
func (w *Watcher) Run(ctx context.Context, out chan<- Snapshot) {
	if w.cfg.Verify != nil {
		go w.verifier(ctx, out)
		w.Reverify()
	}
	tick := time.NewTicker(w.cfg.Interval)
	defer tick.Stop()
	notify := w.cfg.Notify
	for {
		snap := w.Snapshot(ctx)
		select {
		case out <- snap:
		case <-ctx.Done():
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case _, ok := <-notify:
			if !ok {
				notify = nil
			}
		}
	}
}

func (w *Watcher) verifier(ctx context.Context, out chan<- Snapshot) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.verifyNow:
		}
		w.mu.Lock()
		w.verifying = true
		w.mu.Unlock()
		v := w.cfg.Verify(ctx)
		w.mu.Lock()
		w.verif, w.verifying = v, false
		w.mu.Unlock()
		select {
		case out <- w.Snapshot(ctx):
		case <-ctx.Done():
			return
		}
	}
}

// Snapshot reads the store once.
func (w *Watcher) Snapshot(ctx context.Context) Snapshot {
	now := time.Now()
	s := Snapshot{Time: now, Findings: map[audit.Severity]int{}}
	w.mu.Lock()
	text := w.text
	w.mu.Unlock()
	head, err := w.cfg.Store.Head(ctx)
	if err != nil {
		s.Err = err
	}
	s.Head = head
	w.mu.Lock()
	if err == nil {
		if w.haveLast {
			// one sample per whole second elapsed
			if el := now.Sub(w.lastAt); el >= time.Second {
				per := float64(head.Size-min(w.lastSize, head.Size)) / el.Seconds()
				for range min(int(el/time.Second), RateSamples) {
					w.rate = append(w.rate, per)
				}
				if len(w.rate) > RateSamples {
					w.rate = w.rate[len(w.rate)-RateSamples:]
				}
				w.lastSize, w.lastAt = head.Size, now
			}
		} else {
			w.lastSize, w.lastAt, w.haveLast = head.Size, now, true
		}
	}
	s.Rate = append([]float64(nil), w.rate...)
	s.Verification, s.Verifying = w.verif, w.verifying
	w.mu.Unlock()
	if w.cfg.Checkpoint != nil {
		s.Checkpoint, s.HasCheckpoint = w.cfg.Checkpoint()
	}
	if err != nil {
		return s
	}
	f := w.cfg.Filter
	f.Newest, f.Limit = true, w.cfg.Window
	for r, err := range w.cfg.Store.Query(ctx, f) {
		if err != nil {
			s.Err = err
			break
		}
		if !Matches(r, text) {
			continue
		}
		s.Scanned++
		for _, fd := range r.Findings {
			s.Findings[fd.Severity]++
		}
		if len(s.Latest) < w.cfg.Latest {
			s.Latest = append(s.Latest, r)
		}
	}
	return s
}
