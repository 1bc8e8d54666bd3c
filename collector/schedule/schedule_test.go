package schedule

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	audit "github.com/ami-orchestrator/ami-audit"
)

// fakeClock moves only when told to.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []waiter
}

type waiter struct {
	at time.Time
	ch chan time.Time
}

func newClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.waiters = append(c.waiters, waiter{c.now.Add(d), ch})
	return ch
}

// Advance moves the clock by d at once, firing what is due, then waits
// until every goroutine of the test is blocked again.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	keep := c.waiters[:0]
	for _, w := range c.waiters {
		if !w.at.After(c.now) {
			w.ch <- c.now
		} else {
			keep = append(keep, w)
		}
	}
	c.waiters = keep
	c.mu.Unlock()
	synctest.Wait()
}

// Step advances by d in steps of step.
func (c *fakeClock) Step(d, step time.Duration) {
	for t := time.Duration(0); t < d; t += step {
		c.Advance(step)
	}
}

// trail keeps the scheduler's records.
type trail struct {
	mu   sync.Mutex
	recs []*audit.Record
}

func (t *trail) record(_ context.Context, r *audit.Record) error {
	if err := r.Validate(); err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.recs = append(t.recs, r)
	return nil
}

// of lists the records of a job with an action, as "outcome@scheduled_for
// seconds".
func (t *trail) of(job, action string) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []string
	for _, r := range t.recs {
		if r.Target != Target(job) || r.Action != action {
			continue
		}
		switch action {
		case ActionRun:
			at, _ := time.Parse(time.RFC3339Nano, r.Context["scheduled_for"].(string))
			out = append(out, fmt.Sprintf("%s@%d", r.Context["outcome"], at.Second()+60*at.Minute()))
		case ActionMissed:
			out = append(out, fmt.Sprintf("%d missed", r.Context["missed_runs"]))
		}
	}
	sort.Strings(out)
	return out
}

func start(t *testing.T, cfg Config) (stop func()) {
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	synctest.Wait()
	return func() {
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

// TestNoOverlap: a job every second and a job every second that runs for
// 2.5 seconds: the long one never overlaps itself, the times it is busy
// are recorded as skipped, and every run is recorded.
func TestNoOverlap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clock := newClock()
		var tr trail
		var running, most atomic.Int32
		slow := func(ctx context.Context) error {
			n := running.Add(1)
			defer running.Add(-1)
			if n > most.Load() {
				most.Store(n)
			}
			select {
			case <-clock.After(2500 * time.Millisecond):
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		fastRuns := 0
		fast := func(context.Context) error { fastRuns++; return nil }
		failing := func(context.Context) error { return errors.New("source failed") }
		stop := start(t, Config{Clock: clock, Record: tr.record, Jobs: []Job{
			{Name: "fast", Spec: "@every 1s", Run: fast},
			{Name: "slow", Spec: "@every 1s", Run: slow},
			{Name: "failing", Spec: "@every 2s", Run: failing},
		}})
		clock.Step(6*time.Second+250*time.Millisecond, 250*time.Millisecond)
		stop()
		if most.Load() != 1 {
			t.Errorf("the slow job ran %d times at once", most.Load())
		}
		want := map[string][]string{
			"fast": {"success@1", "success@2", "success@3", "success@4", "success@5", "success@6"},
			// runs at 1 (to 3.5) and 4 (stopped at 6.25, before its end)
			"slow":    {"failure@4", "skipped@2", "skipped@3", "skipped@5", "skipped@6", "success@1"},
			"failing": {"failure@2", "failure@4", "failure@6"},
		}
		for job, w := range want {
			if got := tr.of(job, ActionRun); fmt.Sprint(got) != fmt.Sprint(w) {
				t.Errorf("%s: runs %v, want %v", job, got, w)
			}
		}
		if fastRuns != 6 {
			t.Errorf("fast ran %d times", fastRuns)
		}
		for _, r := range tr.recs {
			if r.Context["outcome"] == OutcomeFailure && r.Context["error"] == nil {
				t.Errorf("a failed run without its error: %v", r.Context)
			}
		}
	})
}

// TestMissedAfterPause: the process is paused (the clock jumps 5.5
// minutes past an every-minute job's time): the missed runs are recorded,
// and run-once runs the job once at once while skip waits for the next
// time.
func TestMissedAfterPause(t *testing.T) {
	for _, policy := range []Policy{RunOnce, Skip} {
		t.Run(string(policy), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				clock := newClock()
				var tr trail
				runs := 0
				stop := start(t, Config{Clock: clock, Record: tr.record, Grace: 10 * time.Second, Jobs: []Job{
					{Name: "j", Spec: "* * * * *", Missed: policy, Run: func(context.Context) error { runs++; return nil }},
				}})
				clock.Advance(time.Minute) // on time
				clock.Advance(5*time.Minute + 30*time.Second)
				afterPause := runs
				clock.Advance(30 * time.Second) // the next time
				stop()
				missed := tr.of("j", ActionMissed)
				if fmt.Sprint(missed) != "[5 missed]" {
					t.Errorf("missed records %v", missed)
				}
				wantAfter := map[Policy]int{RunOnce: 2, Skip: 1}[policy]
				if afterPause != wantAfter || runs != wantAfter+1 {
					t.Errorf("%d runs after the pause, %d in all; want %d and %d", afterPause, runs, wantAfter, wantAfter+1)
				}
			})
		})
	}
}

// TestMissedWhileStopped: at the start, the runs missed since the newest
// recorded one are found; run-once runs the job at once.
func TestMissedWhileStopped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clock := newClock()
		var tr trail
		runs := 0
		last := func(_ context.Context, job string) (time.Time, bool, error) {
			return clock.Now().Add(-time.Hour - time.Minute), job == "j", nil
		}
		stop := start(t, Config{Clock: clock, Record: tr.record, LastRun: last, Jobs: []Job{
			{Name: "j", Spec: "*/10 * * * *", Run: func(context.Context) error { runs++; return nil }},
			{Name: "new", Spec: "*/10 * * * *", Run: func(context.Context) error { return nil }},
		}})
		stop()
		if got := tr.of("j", ActionMissed); fmt.Sprint(got) != "[6 missed]" {
			t.Errorf("missed %v", got)
		}
		if runs != 1 {
			t.Errorf("%d catch-up runs", runs)
		}
		if got := tr.of("new", ActionMissed); len(got) != 0 {
			t.Errorf("a job that never ran has missed runs: %v", got)
		}
		for _, r := range tr.recs {
			if r.Action == ActionRun && r.Context["missed_runs"] != 6 {
				t.Errorf("the catch-up run does not say how many it covers: %v", r.Context)
			}
		}
	})
}

func TestBadJobs(t *testing.T) {
	run := func(context.Context) error { return nil }
	rec := func(context.Context, *audit.Record) error { return nil }
	for _, jobs := range [][]Job{
		{{Name: "a", Spec: "not cron", Run: run}},
		{{Name: "a", Spec: "@hourly", Run: run}, {Name: "a", Spec: "@daily", Run: run}},
		{{Name: "a", Spec: "@hourly", Run: run, Missed: "sometimes"}},
		{},
	} {
		if _, err := New(Config{Jobs: jobs, Record: rec}); err == nil {
			t.Errorf("%v accepted", jobs)
		}
	}
}
