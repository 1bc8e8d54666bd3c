// Package progress draws a one-line progress counter on a terminal: what is
// being done, how many items so far and how many per second. It draws
// nothing when disabled (output piped, or --quiet), so callers need no
// conditionals of their own.
package progress

import (
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// Meter counts items of work and redraws at most ten times a second.
// Add is safe for concurrent use and cheap enough for hot loops.
type Meter struct {
	w       io.Writer
	label   string
	unit    string
	total   int64
	start   time.Time
	count   atomic.Int64
	stop    chan struct{}
	done    sync.WaitGroup
	enabled bool
	once    sync.Once
}

// New returns a meter labelled label counting unit ("commits", "files").
// When enabled is false the meter only counts. total may be 0 (unknown).
func New(w io.Writer, enabled bool, label, unit string, total int64) *Meter {
	m := &Meter{w: w, label: label, unit: unit, total: total, start: time.Now(), enabled: enabled, stop: make(chan struct{})}
	if enabled {
		m.done.Add(1)
		go m.loop()
	}
	return m
}

// Add counts n more items.
func (m *Meter) Add(n int64) { m.count.Add(n) }

// Count is the number of items counted so far.
func (m *Meter) Count() int64 { return m.count.Load() }

// Done stops drawing and clears the line. It is safe to call more than once.
func (m *Meter) Done() {
	m.once.Do(func() {
		close(m.stop)
		m.done.Wait()
		if m.enabled {
			fmt.Fprint(m.w, "\r\x1b[K")
		}
	})
}

func (m *Meter) loop() {
	defer m.done.Done()
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
			m.draw()
		}
	}
}

func (m *Meter) draw() {
	n := m.count.Load()
	elapsed := time.Since(m.start).Seconds()
	rate := 0.0
	if elapsed > 0 {
		rate = float64(n) / elapsed
	}
	if m.total > 0 {
		fmt.Fprintf(m.w, "\r\x1b[K%s: %d/%d %s (%.0f/s)", m.label, n, m.total, m.unit, rate)
		return
	}
	fmt.Fprintf(m.w, "\r\x1b[K%s: %d %s (%.0f/s)", m.label, n, m.unit, rate)
}
