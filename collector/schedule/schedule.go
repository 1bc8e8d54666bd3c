// Package schedule is the scheduled collector (SPEC §8): it runs jobs —
// collections — at the times cron expressions give (parsed and stepped by
// github.com/robfig/cron/v3), until it is stopped, and records every run
// in the trail so that gaps in the evidence can be found.
//
// # Runs
//
// A job never overlaps itself: a time that comes while the job's previous
// run is still going is not run, and is recorded as skipped. Different
// jobs run side by side. Each run ends with one record (action
// ActionRun): the time it was scheduled for, when it started and ended,
// and its outcome (success, failure with the error, timeout, skipped).
//
// # Missed runs
//
// Times that went by while the scheduler was not running (stopped, the
// machine asleep, the process paused) are missed runs. They are found at
// the start (from the newest run record of each job, Config.LastRun) and
// whenever the clock is found to have moved past more than one time of a
// job at once. Missed runs are recorded (action ActionMissed: how many,
// the first and the last), and the job's policy says what follows:
// RunOnce runs the job once now, for all of them; Skip waits for the next
// time. A time is on time, not missed, when the scheduler sees it within
// Config.Grace.
//
// The clock is injectable (Config.Clock), so tests step through hours of
// schedule without waiting.
package schedule

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/robfig/cron/v3"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/internal/plural"
)

// Actions of the records the scheduler appends.
const (
	ActionRun    = "scheduled_run"
	ActionMissed = "scheduled_run_missed"
)

// Name is the records' source field.
const Name = "schedule"

// Outcomes of a run.
const (
	OutcomeSuccess = "success"
	OutcomeFailure = "failure"
	OutcomeTimeout = "timeout"
	OutcomeSkipped = "skipped"
)

// Policy is what a job does about missed runs.
type Policy string

// Policies.
const (
	RunOnce Policy = "run-once" // run once now for every missed time (the default)
	Skip    Policy = "skip"     // record them, and wait for the next time
)

// Parse parses a cron expression: five fields (minute hour day-of-month
// month day-of-week), or a descriptor (@hourly, @daily, @weekly,
// @monthly, @yearly, @every 10m).
func Parse(spec string) (cron.Schedule, error) {
	s, err := cron.ParseStandard(spec)
	if err != nil {
		return nil, fmt.Errorf("cron expression %q: %w", spec, err)
	}
	return s, nil
}

// Job is one scheduled collection.
type Job struct {
	// Name identifies the job; its records' target is "schedule/NAME".
	Name string
	// Spec is the cron expression (see Parse).
	Spec string
	// Missed is the missed-run policy (RunOnce when empty).
	Missed Policy
	// Timeout bounds a run (none when 0).
	Timeout time.Duration
	// Describe is what the job does, for its records (its command line).
	Describe string
	// Run runs the job once.
	Run func(ctx context.Context) error
}

// Target is the records' target for a job.
func Target(job string) string { return "schedule/" + job }

// Clock tells the time and waits; tests replace it.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Config configures a scheduler.
type Config struct {
	Jobs []Job
	// Record appends a record of the scheduler (runs, missed runs).
	Record func(ctx context.Context, r *audit.Record) error
	// LastRun returns the time the job's newest recorded run was
	// scheduled for; ok is false when it never ran.
	LastRun func(ctx context.Context, job string) (t time.Time, ok bool, err error)
	// Clock (default: the system's).
	Clock Clock
	// Grace is how late a time may be seen and still be on time (default
	// one minute).
	Grace time.Duration
	// Actor is the records' actor (default "ami-audit schedule").
	Actor string
	// Logger receives what happens (default: discarded).
	Logger *slog.Logger
}

// Scheduler runs jobs on their schedules.
type Scheduler struct {
	cfg  Config
	jobs []*job
}

type job struct {
	Job
	sched   cron.Schedule
	next    time.Time
	running bool
}

// New checks the jobs and returns a scheduler.
func New(cfg Config) (*Scheduler, error) {
	if cfg.Record == nil {
		return nil, errors.New("schedule: nowhere to record runs")
	}
	if cfg.Clock == nil {
		cfg.Clock = realClock{}
	}
	if cfg.Grace <= 0 {
		cfg.Grace = time.Minute
	}
	if cfg.Actor == "" {
		cfg.Actor = "ami-audit schedule"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Scheduler{cfg: cfg}
	seen := map[string]bool{}
	for _, j := range cfg.Jobs {
		switch {
		case j.Name == "":
			return nil, errors.New("schedule: a job has no name")
		case seen[j.Name]:
			return nil, fmt.Errorf("schedule: two jobs are named %q", j.Name)
		case j.Run == nil:
			return nil, fmt.Errorf("schedule: job %s runs nothing", j.Name)
		}
		seen[j.Name] = true
		switch j.Missed {
		case "":
			j.Missed = RunOnce
		case RunOnce, Skip:
		default:
			return nil, fmt.Errorf("schedule: job %s: missed-run policy %q: want run-once or skip", j.Name, j.Missed)
		}
		sched, err := Parse(j.Spec)
		if err != nil {
			return nil, fmt.Errorf("schedule: job %s: %w", j.Name, err)
		}
		s.jobs = append(s.jobs, &job{Job: j, sched: sched})
	}
	if len(s.jobs) == 0 {
		return nil, errors.New("schedule: no jobs")
	}
	return s, nil
}

// ended is a run that finished.
type ended struct {
	j   *job
	rec *audit.Record
}

// Run schedules the jobs until ctx ends, then waits for the running ones
// to stop (their context is ctx) and records them. It returns an error
// only when a record cannot be appended.
func (s *Scheduler) Run(ctx context.Context) error {
	clock := s.cfg.Clock
	done := make(chan ended)
	var wg sync.WaitGroup
	running := 0
	var recErr error
	record := func(r *audit.Record) {
		// records are appended even while stopping
		if err := s.cfg.Record(context.WithoutCancel(ctx), r); err != nil && recErr == nil {
			recErr = err
		}
	}
	start := func(j *job, scheduledFor time.Time, missed int) {
		j.running = true
		running++
		wg.Add(1)
		go func() {
			defer wg.Done()
			done <- ended{j, s.run(ctx, j, scheduledFor, missed)}
		}()
	}
	now := clock.Now()
	for _, j := range s.jobs {
		j.next = j.sched.Next(now)
		if s.cfg.LastRun == nil {
			continue
		}
		last, ok, err := s.cfg.LastRun(ctx, j.Name)
		if err != nil {
			return fmt.Errorf("schedule: the last run of %s: %w", j.Name, err)
		}
		if !ok {
			continue
		}
		times := timesBetween(j.sched, last, now)
		if len(times) == 0 {
			continue
		}
		due, onTime, missed := s.settle(j, times, now, record)
		if onTime || j.Missed == RunOnce {
			start(j, due, missed)
		}
	}
	for {
		if recErr != nil {
			break
		}
		wake := s.jobs[0].next
		for _, j := range s.jobs[1:] {
			if j.next.Before(wake) {
				wake = j.next
			}
		}
		var timer <-chan time.Time
		if d := wake.Sub(clock.Now()); d > 0 {
			timer = clock.After(d)
		} else {
			timer = closed
		}
		select {
		case <-ctx.Done():
			for running > 0 {
				e := <-done
				running--
				record(e.rec)
			}
			wg.Wait()
			return recErr
		case e := <-done:
			e.j.running = false
			running--
			record(e.rec)
			continue
		case <-timer:
		}
		now := clock.Now()
		for _, j := range s.jobs {
			if j.next.After(now) {
				continue
			}
			// Every time of the job up to now. Awake, the scheduler sees
			// each one as it comes: more than one means it was not (a
			// pause), and all but the last were missed; the last one too
			// when it is seen later than Grace.
			times := append([]time.Time{j.next}, timesBetween(j.sched, j.next, now)...)
			j.next = j.sched.Next(now)
			due, onTime, missed := s.settle(j, times, now, record)
			switch {
			case j.running:
				if onTime {
					record(s.skippedRecord(j, due, now))
				}
			case onTime || j.Missed == RunOnce:
				start(j, due, missed)
			}
		}
	}
	// a record could not be appended: stop
	for running > 0 {
		<-done
		running--
	}
	wg.Wait()
	return recErr
}

var closed = func() chan time.Time { c := make(chan time.Time); close(c); return c }()

// settle takes the times of j that went by up to now: the last one is due,
// on time when seen within Grace; the ones before it, and it too when not
// on time, were missed, and are recorded as such.
func (s *Scheduler) settle(j *job, times []time.Time, now time.Time, record func(*audit.Record)) (due time.Time, onTime bool, missed int) {
	due = times[len(times)-1]
	onTime = now.Sub(due) <= s.cfg.Grace
	late := times[:len(times)-1]
	if !onTime {
		late = times
	}
	if len(late) > 0 {
		record(s.missedRecord(j, late[0], late[len(late)-1], len(late), now))
	}
	return due, onTime, len(late)
}

// timesBetween lists the times of sched after from and up to to (at most
// a million).
func timesBetween(sched cron.Schedule, from, to time.Time) []time.Time {
	var out []time.Time
	for t := sched.Next(from); !t.After(to) && len(out) < 1_000_000; t = sched.Next(t) {
		out = append(out, t)
	}
	return out
}

// run runs j once and returns its record.
func (s *Scheduler) run(ctx context.Context, j *job, scheduledFor time.Time, missed int) *audit.Record {
	clock := s.cfg.Clock
	started := clock.Now()
	rctx, cancel := ctx, context.CancelFunc(func() {})
	if j.Timeout > 0 {
		rctx, cancel = context.WithTimeout(ctx, j.Timeout)
	}
	s.cfg.Logger.Info("run", "job", j.Name, "scheduled_for", scheduledFor)
	err := runJob(rctx, j.Run)
	cancel()
	endedAt := clock.Now()
	outcome := OutcomeSuccess
	switch {
	case err != nil && errors.Is(rctx.Err(), context.DeadlineExceeded):
		outcome = OutcomeTimeout
	case err != nil:
		outcome = OutcomeFailure
	}
	s.cfg.Logger.Info("ran", "job", j.Name, "outcome", outcome, "err", err)
	r := s.base(j, audit.SeverityInfo, endedAt)
	c := r.Context
	c["scheduled_for"] = audit.FormatTime(scheduledFor)
	c["started"] = audit.FormatTime(started)
	c["ended"] = audit.FormatTime(endedAt)
	c["duration_seconds"] = endedAt.Sub(started).Seconds()
	c["outcome"] = outcome
	if missed > 0 {
		c["missed_runs"] = missed
		r.Reason = fmt.Sprintf("run once for %s", plural.Count(missed, "missed run"))
	}
	if err != nil {
		c["error"] = err.Error()
		r.Severity = audit.SeverityError
		if ctx.Err() != nil {
			c["stopped"] = true // the scheduler was stopped during the run
		}
	}
	return r
}

// runJob runs f, turning a panic into an error.
func runJob(ctx context.Context, f func(context.Context) error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return f(ctx)
}

func (s *Scheduler) base(j *job, sev audit.Severity, when time.Time) *audit.Record {
	r := audit.New(s.cfg.Actor, ActionRun, Target(j.Name), audit.TargetService)
	r.Source = Name
	r.Timestamp = when.UTC()
	r.Severity = sev
	r.Context = map[string]any{"job": j.Name, "cron": j.Spec, "missed_policy": string(j.Missed)}
	if j.Describe != "" {
		r.Context["command"] = j.Describe
	}
	r.Normalize()
	return r
}

func (s *Scheduler) skippedRecord(j *job, due, now time.Time) *audit.Record {
	r := s.base(j, audit.SeverityWarning, now)
	r.Context["scheduled_for"] = audit.FormatTime(due)
	r.Context["outcome"] = OutcomeSkipped
	r.Reason = "the previous run was still running"
	return r
}

func (s *Scheduler) missedRecord(j *job, first, last time.Time, n int, now time.Time) *audit.Record {
	r := s.base(j, audit.SeverityWarning, now)
	r.Action = ActionMissed
	r.Context["missed_runs"] = n
	r.Context["first_missed"] = audit.FormatTime(first)
	r.Context["last_missed"] = audit.FormatTime(last)
	if j.Missed == RunOnce {
		r.Reason = fmt.Sprintf("%s missed; running once now", plural.Count(n, "scheduled run"))
	} else {
		r.Reason = fmt.Sprintf("%s missed; skipped by policy", plural.Count(n, "scheduled run"))
	}
	return r
}
