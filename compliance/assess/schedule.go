package assess

import (
	"fmt"
	"slices"
	"strings"
	"time"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/collector/schedule"
	"github.com/ami-orchestrator/ami-audit/compliance"
	"github.com/ami-orchestrator/ami-audit/internal/plural"
)

const scheduleSource = schedule.Name

// maxExpected bounds the expected times of one job looked at (a job every
// minute for two years).
const maxExpected = 1_100_000

// jobRuns is what the trail says about one scheduled job.
type jobRuns struct {
	job      Job
	outcomes map[int64]string // scheduled_for (Unix seconds) → outcome
	first    time.Time        // the earliest scheduled_for recorded
	runs     uint64
	missed   uint64 // runs the scheduler itself recorded as missed
	last     *audit.Record
}

func (e *eval) job(name string) *jobRuns {
	j := e.jobs[name]
	if j == nil {
		j = &jobRuns{job: Job{Name: name}, outcomes: map[int64]string{}}
		e.jobs[name] = j
	}
	return j
}

// scheduled takes in a record of the scheduler.
func (e *eval) scheduled(r *audit.Record) {
	name, _ := r.Context["job"].(string)
	if name == "" {
		name, _ = strings.CutPrefix(r.Target, "schedule/")
	}
	if name == "" {
		return
	}
	j := e.job(name)
	if c, _ := r.Context["cron"].(string); c != "" && j.job.Cron == "" {
		j.job.Cron = c
	}
	if c, _ := r.Context["command"].(string); c != "" && j.job.Command == "" {
		j.job.Command = c
	}
	switch r.Action {
	case schedule.ActionMissed:
		if n, ok := r.Context["missed_runs"].(float64); ok {
			j.missed += uint64(n)
		} else if n, ok := r.Context["missed_runs"].(int); ok {
			j.missed += uint64(n)
		}
	case schedule.ActionRun:
		s, _ := r.Context["scheduled_for"].(string)
		at, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return
		}
		outcome, _ := r.Context["outcome"].(string)
		key := at.Unix()
		if prev, ok := j.outcomes[key]; !ok || prev != schedule.OutcomeSuccess {
			j.outcomes[key] = outcome
		}
		if j.first.IsZero() || at.Before(j.first) {
			j.first = at.UTC()
		}
		j.runs++
		j.last = r
		if outcome == schedule.OutcomeSuccess {
			cmd, _ := r.Context["command"].(string)
			for name, t := range e.ran {
				if runsAnalyzer(cmd, name) {
					t.add(r)
				}
			}
		}
	}
}

// runsAnalyzer reports whether an ami-audit command line runs the
// analyzer: the analyzer's own command ("security …"), or repo with
// --analyzers naming it. (repo without --analyzers runs the analyzers
// that understand the sources it ran, which the command line alone does
// not tell: it is not counted.)
func runsAnalyzer(cmd, name string) bool {
	f := strings.Fields(cmd)
	if len(f) == 0 {
		return false
	}
	if f[0] == name {
		return true
	}
	if f[0] != "repo" {
		return false
	}
	for i, a := range f[1:] {
		v, ok := strings.CutPrefix(a, "--analyzers=")
		if !ok && a == "--analyzers" && i+2 < len(f) {
			v, ok = f[i+2], true
		}
		if ok {
			return slices.Contains(strings.Split(v, ","), name)
		}
	}
	return false
}

// expected lists the times a job was due in [from, to), at most limit.
func expected(cron string, from, to time.Time, limit int) ([]time.Time, error) {
	s, err := schedule.Parse(cron)
	if err != nil {
		return nil, err
	}
	var out []time.Time
	for t := from; len(out) < limit; {
		if !t.Before(to) {
			break
		}
		out = append(out, t)
		next := s.Next(t)
		if !next.After(t) {
			break
		}
		t = next
	}
	return out, nil
}

// scheduleGaps turns expected times without a successful run into gaps,
// consecutive ones together.
func (e *eval) scheduleGaps() {
	for _, name := range sortedKeys(e.jobs) {
		j := e.jobs[name]
		if j.job.Cron == "" {
			continue
		}
		from := j.first
		if !e.in.Since.IsZero() && (from.IsZero() || e.in.Since.After(from)) {
			from = e.in.Since.UTC()
			if s, err := schedule.Parse(j.job.Cron); err == nil {
				from = s.Next(from.Add(-time.Second))
			}
		}
		if from.IsZero() {
			continue // never ran, and no period start to count from
		}
		times, err := expected(j.job.Cron, from, e.end.Add(-e.set.Grace), maxExpected)
		if err != nil {
			e.addGap(compliance.Gap{Key: compliance.GapSchedule + "|" + name + "|cron", Kind: compliance.GapSchedule, Severity: audit.SeverityWarning,
				Title: fmt.Sprintf("job %s: its cron expression does not parse", name), Detail: err.Error()})
			continue
		}
		var run []time.Time
		flush := func() {
			if len(run) == 0 {
				return
			}
			first, last := run[0], run[len(run)-1]
			var failed int
			for _, t := range run {
				if o, ok := j.outcomes[t.Unix()]; ok && o != schedule.OutcomeSuccess {
					failed++
				}
			}
			detail := fmt.Sprintf("job %s (%s, runs %q) has no successful run at %s", name, j.job.Cron, j.job.Command, describeTimes(run))
			if failed > 0 {
				detail += fmt.Sprintf("; %s recorded without success", plural.Count(failed, "run was", "runs were"))
			}
			if j.missed > 0 {
				detail += fmt.Sprintf("; the scheduler recorded %s as missed (stopped or suspended)", plural.Count(j.missed, "run"))
			}
			e.addGap(compliance.Gap{Key: fmt.Sprintf("%s|%s|%d", compliance.GapSchedule, name, first.Unix()), Kind: compliance.GapSchedule, Severity: audit.SeverityWarning,
				Title:  fmt.Sprintf("job %s: %s without a record, from %s", name, plural.Count(len(run), "scheduled run"), audit.FormatTime(first)),
				Detail: detail, Start: first.UTC(), End: last.UTC(), Count: uint64(len(run))})
			run = run[:0]
		}
		for _, t := range times {
			if j.outcomes[t.Unix()] == schedule.OutcomeSuccess {
				flush()
				continue
			}
			run = append(run, t)
		}
		flush()
	}
}

func describeTimes(ts []time.Time) string {
	if len(ts) == 1 {
		return audit.FormatTime(ts[0])
	}
	return fmt.Sprintf("%d expected times from %s to %s", len(ts), audit.FormatTime(ts[0]), audit.FormatTime(ts[len(ts)-1]))
}

func (e *eval) scheduleReq(rr *compliance.RequirementResult) {
	var runs uint64
	var newest time.Time
	var jobs []string
	for _, name := range sortedKeys(e.jobs) {
		j := e.jobs[name]
		runs += j.runs
		jobs = append(jobs, name)
		if j.last != nil {
			if j.last.Timestamp.After(newest) {
				newest = j.last.Timestamp.UTC()
			}
			if len(rr.Records) < e.set.MaxEvidence {
				rr.Records = append(rr.Records, compliance.EvidenceOf(j.last))
			}
		}
	}
	rr.Count, rr.Newest = runs, newest
	gaps := e.keysOf(compliance.GapSchedule)
	switch {
	case len(jobs) == 0:
		rr.Status, rr.Detail = compliance.Missing, "no collection is scheduled (schedules in .audit/config.yaml, run by 'ami-audit schedule')"
	case runs == 0:
		rr.Status, rr.Detail = compliance.Missing, fmt.Sprintf("%s scheduled (%s), but no run is recorded in the period", plural.Count(len(jobs), "job"), strings.Join(jobs, ", "))
		rr.Gaps = gaps
	case len(gaps) > 0:
		rr.Status = compliance.Partial
		rr.Detail = fmt.Sprintf("%s of %s (%s); %s", plural.Count(runs, "run"), plural.Count(len(jobs), "job"), strings.Join(jobs, ", "), plural.Count(len(gaps), "gap"))
		rr.Gaps = gaps
	default:
		rr.Status = compliance.Present
		rr.Detail = fmt.Sprintf("%s of %s (%s), each at its scheduled time", plural.Count(runs, "run"), plural.Count(len(jobs), "job"), strings.Join(jobs, ", "))
	}
}
