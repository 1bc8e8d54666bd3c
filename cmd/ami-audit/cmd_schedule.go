package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/collector/schedule"
	"github.com/ami-orchestrator/ami-audit/internal/plural"
	"github.com/ami-orchestrator/ami-audit/trail"
)

// unscheduled are the commands a schedule may not run: those that run
// until stopped, and those that change the trail's set-up.
var unscheduled = []string{"schedule", "watch", "dashboard", "init", "keygen", "migrate", "help", "completion"}

func (a *App) scheduleCommand() *cobra.Command {
	var list, verbose bool
	var grace time.Duration
	cmd := &cobra.Command{
		Use:   "schedule",
		Short: "Run the collections config.yaml schedules, at their cron times, until stopped",
		Long: `Run the collections listed under "schedules:" in the trail's config.yaml at
the times their cron expressions give, until stopped (Ctrl-C, or SIGTERM from
systemd or a container runtime: running collections are stopped and
recorded). It runs in the foreground; docs/continuous.md has a systemd unit.

  schedules:
    - name: history               # unique; the runs' records name it
      cron: "0 */6 * * *"         # five fields, or @hourly, @daily, @every 30m
      run: repo --sources=git,file   # an ami-audit command line
      missed: run-once            # after downtime: run-once (default) or skip
      timeout: 1h                 # optional bound of a run

A job never overlaps itself: a time that comes while its previous run is
still going is recorded as skipped. Every run ends with a scheduled_run
record (scheduled_for, started, ended, outcome: success, failure, timeout,
skipped), so the trail shows when collections ran and when they did not.
Runs missed while nothing ran the schedule are recorded (scheduled_run_missed)
when it starts again, or when the clock is found to have jumped past them;
"run-once" then runs the job once at once, "skip" waits for its next time.

The commands' reports are not printed (--verbose prints them); their errors
are, prefixed with the job's name.`,
		Example: `  ami-audit schedule
  ami-audit schedule --list`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.runSchedule(cmd.Context(), list, verbose, grace)
		},
	}
	cmd.Flags().BoolVar(&list, "list", false, "print the jobs and their next times, and exit")
	cmd.Flags().BoolVar(&verbose, "verbose", false, "print the reports of the commands run")
	cmd.Flags().DurationVar(&grace, "grace", time.Minute, "how late a time may be run and still count as on time")
	return cmd
}

// scheduledJob is a job of config.yaml with its command line.
type scheduledJob struct {
	trail.Schedule
	args    []string
	timeout time.Duration
}

// scheduledJobs checks the schedules of the settings.
func scheduledJobs(ss []trail.Schedule) ([]scheduledJob, error) {
	if len(ss) == 0 {
		return nil, withHint(usagef("config.yaml schedules nothing"), `add a "schedules:" section to the trail's config.yaml (see 'ami-audit schedule --help')`)
	}
	var out []scheduledJob
	for i, s := range ss {
		where := fmt.Sprintf("config.yaml schedules[%d] (%s)", i, s.Name)
		if s.Name == "" {
			return nil, usagef("config.yaml schedules[%d]: no name", i)
		}
		if _, err := schedule.Parse(s.Cron); err != nil {
			return nil, usagef("%s: %v", where, err)
		}
		args, err := splitCommand(s.Run)
		if err != nil {
			return nil, usagef("%s: run: %v", where, err)
		}
		if len(args) == 0 {
			return nil, usagef("%s: run: no command", where)
		}
		if strings.HasPrefix(args[0], "-") || slices.Contains(unscheduled, args[0]) {
			return nil, usagef("%s: run: %q cannot be scheduled (it runs until stopped, or changes the trail's set-up)", where, args[0])
		}
		if slices.ContainsFunc(args, func(x string) bool { return x == "--follow" || strings.HasPrefix(x, "--follow=") }) {
			return nil, usagef("%s: run: --follow runs until stopped; schedule the command without it", where)
		}
		j := scheduledJob{Schedule: s, args: args}
		if s.Timeout != "" {
			if j.timeout, err = time.ParseDuration(s.Timeout); err != nil || j.timeout <= 0 {
				return nil, usagef("%s: timeout %q: want a duration such as 30m", where, s.Timeout)
			}
		}
		switch schedule.Policy(s.Missed) {
		case "", schedule.RunOnce, schedule.Skip:
		default:
			return nil, usagef("%s: missed %q: want run-once or skip", where, s.Missed)
		}
		out = append(out, j)
	}
	return out, nil
}

// splitCommand splits a command line into words: blanks separate them,
// and single or double quotes keep blanks in one.
func splitCommand(s string) ([]string, error) {
	var out []string
	var cur strings.Builder
	in, quote := false, byte(0)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			} else {
				cur.WriteByte(c)
			}
		case c == '"' || c == '\'':
			quote, in = c, true
		case c == ' ' || c == '\t' || c == '\n':
			if in {
				out = append(out, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteByte(c)
			in = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unclosed quote in %q", s)
	}
	if in {
		out = append(out, cur.String())
	}
	return out, nil
}

func (a *App) runSchedule(ctx context.Context, list, verbose bool, grace time.Duration) error {
	if list {
		t, err := a.openTrail(ctx, true)
		if err != nil {
			return err
		}
		jobs, err := scheduledJobs(t.Settings().Schedules)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "JOB\tCRON\tNEXT\tMISSED\tRUN")
		now := time.Now()
		for _, j := range jobs {
			s, _ := schedule.Parse(j.Cron)
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", j.Name, j.Cron, s.Next(now).Format(time.RFC3339), cmpOr(j.Missed, string(schedule.RunOnce)), j.Run)
		}
		return tw.Flush()
	}
	t, err := a.openTrail(ctx, false)
	if err != nil {
		return err
	}
	if t.PublicKey() != nil && !t.CanSign() {
		return appendError(fmt.Errorf("schedule: %w", trail.ErrNoPrivateKey))
	}
	jobs, err := scheduledJobs(t.Settings().Schedules)
	if err != nil {
		return err
	}
	st := t.Store()
	mask, err := a.recordMask()
	if err != nil {
		return err
	}
	var sjobs []schedule.Job
	for _, j := range jobs {
		sjobs = append(sjobs, schedule.Job{
			Name: j.Name, Spec: j.Cron, Missed: schedule.Policy(j.Missed), Timeout: j.timeout, Describe: j.Run,
			Run: a.jobRunner(j, verbose),
		})
	}
	s, err := schedule.New(schedule.Config{
		Jobs: sjobs, Grace: grace, Logger: a.logger(),
		Record: func(ctx context.Context, r *audit.Record) error {
			mask(r)
			return st.Append(ctx, []*audit.Record{r})
		},
		LastRun: func(ctx context.Context, job string) (time.Time, bool, error) { return lastScheduled(ctx, st, job) },
	})
	if err != nil {
		return usageError{err}
	}
	a.notice("scheduling %s (Ctrl-C to stop)", plural.Count(len(jobs), "job"))
	err = s.Run(ctx)
	a.notice("stopped")
	return appendError(err)
}

// lastScheduled is the newest time a job's records say it was scheduled
// for (run, skipped or missed).
func lastScheduled(ctx context.Context, st audit.Store, job string) (time.Time, bool, error) {
	var last time.Time
	for _, q := range []struct{ action, key string }{{schedule.ActionRun, "scheduled_for"}, {schedule.ActionMissed, "last_missed"}} {
		for r, err := range st.Query(ctx, audit.Filter{Action: q.action, Target: schedule.Target(job), Newest: true, Limit: 1}) {
			if err != nil {
				return last, false, err
			}
			s, _ := r.Context[q.key].(string)
			if at, err := time.Parse(time.RFC3339Nano, s); err == nil && at.After(last) {
				last = at
			}
		}
	}
	return last, !last.IsZero(), nil
}

// jobRunner runs a job's command line in this process, with this
// command's trail options.
func (a *App) jobRunner(j scheduledJob, verbose bool) func(context.Context) error {
	return func(ctx context.Context) error {
		args := []string{"--audit-dir", a.auditDir}
		if a.storeURL != "" {
			args = append(args, "--store", a.storeURL)
		}
		if a.cacheURL != "" {
			args = append(args, "--cache", a.cacheURL)
		}
		args = append(append(args, "--quiet"), j.args...)
		var out io.Writer = io.Discard
		if verbose {
			out = &prefixWriter{w: a.stdout, prefix: j.Name + ": "}
		}
		var errb bytes.Buffer
		stderr := io.MultiWriter(&prefixWriter{w: a.stderr, prefix: j.Name + ": "}, &errb)
		code := run(ctx, args, strings.NewReader(""), out, stderr)
		if code == exitOK {
			return nil
		}
		last := strings.TrimSpace(errb.String())
		if i := strings.LastIndex(last, "\nami-audit: "); i >= 0 {
			last = last[i+1:]
		}
		if i := strings.Index(last, "\n"); i >= 0 {
			last = last[:i]
		}
		if ctx.Err() != nil {
			return errors.Join(ctx.Err(), fmt.Errorf("exit %d: %s", code, last))
		}
		return fmt.Errorf("exit %d: %s", code, last)
	}
}

// prefixWriter writes each line with a prefix; safe for concurrent use.
type prefixWriter struct {
	mu     sync.Mutex
	w      io.Writer
	prefix string
	mid    bool
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []byte
	for _, c := range b {
		if !p.mid {
			out = append(out, p.prefix...)
			p.mid = true
		}
		out = append(out, c)
		if c == '\n' {
			p.mid = false
		}
	}
	if _, err := p.w.Write(out); err != nil {
		return 0, err
	}
	return len(b), nil
}
