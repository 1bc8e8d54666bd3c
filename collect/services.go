package collect

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/dustin/go-humanize"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/collector/batch"
	"github.com/ami-orchestrator/ami-audit/internal/plural"
	"github.com/ami-orchestrator/ami-audit/internal/usererr"
	"github.com/ami-orchestrator/ami-audit/report"
	logsource "github.com/ami-orchestrator/ami-audit/source/log"
	"github.com/ami-orchestrator/ami-audit/source/service"
)

// ServicesRequest asks for the state of the services of a launcher
// manifest.
type ServicesRequest struct {
	// Repo is the repository whose launcher manifest is read.
	Repo string
	// Config configures the service source (Trail is set here); its
	// Services are the services checked (empty: every one).
	Config service.Config
	// Logs, when set, also reads the logs of the one service named, with
	// Logs.Config and under Logs.Dir.
	Logs *LogsRequest
}

// Services checks the services, appends their changes of state (and with
// Logs what the service's logs say) and reports on them. Its errors wrap
// the service source's (service.ErrNoManifest, ErrUnknownService,
// ErrUnknownProfile).
func Services(ctx context.Context, env *Env, req ServicesRequest) (*Result, error) {
	now := time.Now()
	store, err := env.Open(ctx)
	if err != nil {
		return nil, err
	}
	cfg := req.Config
	cfg.Trail = store
	src, err := service.New(cfg)
	if err != nil {
		return nil, usererr.Usage(err)
	}
	srcs := []audit.Source{src}
	var lr *LogRun
	var logCfg logsource.Config
	if req.Logs != nil {
		logCfg = req.Logs.Config
		logCfg.Trail, logCfg.Exclude = store, env.Exclusion()
		if lr, err = NewLogRun(logCfg); err != nil {
			return nil, usererr.Usage(err)
		}
		srcs = append(srcs, lr)
	}
	res := &Result{}
	col, err := env.Collector(store, batch.Config{OnAppend: func(_ string, recs []*audit.Record) { res.Appended += len(recs) }})
	if err != nil {
		return nil, err
	}
	// The log source reads the log directory; the service source the
	// repository.
	sum, runErr := col.Run(ctx, req.Repo, srcs[:1])
	if runErr == nil && lr != nil {
		var lsum *batch.Summary
		lsum, runErr = col.Run(ctx, req.Logs.Dir, srcs[1:])
		sum.Sources = append(sum.Sources, lsum.Sources...)
		if errors.Is(runErr, logsource.ErrNoLogs) {
			runErr = nil
			lr.missing = req.Logs.Dir
		}
	}
	res.Summary = sum
	if runErr != nil {
		return res, runErr
	}
	r := servicesReport(src.LastRun(), res.Appended, now)
	if lr != nil {
		if lr.sum != nil {
			lrep := LogsReport(lr.sum.Target, logCfg, lr.sum, 0, 20, now)
			for _, it := range lrep.Summary {
				if it.Label != "Records appended" {
					r.Summary = append(r.Summary, report.Item{Label: "Logs: " + it.Label, Value: it.Value})
				}
			}
			r.Sections = append(r.Sections, lrep.Sections...)
			r.Warnings = append(r.Warnings, lrep.Warnings...)
		} else {
			r.Warnings = append(r.Warnings, "no log files of service "+cfg.Services[0]+" under "+req.Logs.Dir)
		}
	}
	res.Report = r
	return res, nil
}

// servicesReport builds the report of one services run.
func servicesReport(run *service.Run, appended int, now time.Time) *report.Report {
	r := &report.Report{Title: "Services of " + run.Manifest, Generated: now.UTC()}
	count := map[string]int{}
	for _, st := range run.Statuses {
		count[st.State]++
	}
	engine := run.Engine
	if engine == "" {
		engine = "none"
	}
	itoa := strconv.Itoa
	r.Summary = []report.Item{
		{Label: "Services", Value: itoa(len(run.Statuses))},
		{Label: "Up", Value: itoa(count[service.StateUp])},
		{Label: "Down", Value: itoa(count[service.StateDown])},
		{Label: "Degraded", Value: itoa(count[service.StateDegraded])},
		{Label: "Unknown", Value: itoa(count[service.StateUnknown])},
		{Label: "Container engine", Value: engine},
		{Label: "Records appended", Value: itoa(appended)},
		{Label: "Duration", Value: run.Duration.Round(time.Millisecond).String()},
	}
	if run.EngineProblem != "" {
		r.Warnings = append(r.Warnings, run.EngineProblem)
	}
	r.Warnings = append(r.Warnings, run.Problems...)
	sec := report.Section{Title: "Services", Columns: []string{"Service", "State", "Kind", "Latency", "Resources", "Changed", "Reason"}}
	for _, st := range run.Statuses {
		res := ""
		switch {
		case st.Container != nil:
			res = st.Container.Name + " " + st.Container.State
			if st.Container.Health != "" {
				res += "/" + st.Container.Health
			}
			res += ", " + plural.Count(st.Container.Restarts, "restart")
		case st.Process != nil:
			res = fmt.Sprintf("pid %d, %.1f%% CPU, %s", st.Process.PID, st.Process.CPUPercent, humanize.IBytes(st.Process.RSSBytes))
		}
		changed := "no"
		if st.Recorded {
			changed = "recorded"
			if st.PreviousState != "" && st.PreviousState != st.State {
				changed = st.PreviousState + " → " + st.State
			}
		}
		sec.Rows = append(sec.Rows, []string{st.Service.Name, st.State, st.Service.Kind, st.Latency.Round(time.Millisecond).String(), res, changed, st.Reason})
	}
	r.Sections = append(r.Sections, sec)
	return r
}

// serviceRun is the service source of a "repo" run.
type serviceRun struct {
	*service.Source
	missing bool
}

// serviceRepoSource builds the service source for "repo": every service
// of the repository's launcher manifest, when it has one.
func serviceRepoSource(ctx context.Context, env *Env, opts SourceOptions) (audit.Source, error) {
	store, err := env.Open(ctx)
	if err != nil {
		return nil, err
	}
	cfg := service.Config{EngineHosts: opts.EngineHosts, Trail: store}
	src, err := service.New(cfg)
	if err != nil {
		return nil, err
	}
	return &serviceRun{Source: src}, nil
}

func (s *serviceRun) Collect(ctx context.Context, target string, emit func(*audit.Record) error) error {
	err := s.Source.Collect(ctx, target, emit)
	if errors.Is(err, service.ErrNoManifest) {
		s.missing = true
		return nil // a repository without services has nothing to say here
	}
	return err
}

func (s *serviceRun) RunReport() ReportPart {
	run := s.LastRun()
	if run == nil {
		if s.missing {
			return ReportPart{Summary: []report.Item{{Label: "Services", Value: "0 (no launcher manifest: " + strings.Join(service.ManifestPaths, ", ") + ")"}}}
		}
		return ReportPart{}
	}
	return PartOf(servicesReport(run, 0, time.Now()), "service")
}
