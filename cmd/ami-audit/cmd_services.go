package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/collector/batch"
	"github.com/ami-orchestrator/ami-audit/internal/plural"
	"github.com/ami-orchestrator/ami-audit/report"
	logsource "github.com/ami-orchestrator/ami-audit/source/log"
	"github.com/ami-orchestrator/ami-audit/source/service"
)

// servicesFlags are the flags of "ami-audit services" and "service NAME".
type servicesFlags struct {
	repo      string
	manifest  string
	profile   string
	engine    []string
	noEngine  bool
	heartbeat bool
	// service NAME only
	health       bool
	logs         bool
	since, until string
	level        string
	out          outputFlags
}

func addServiceFlags(cmd *cobra.Command, f *servicesFlags) {
	fl := cmd.Flags()
	fl.StringVar(&f.repo, "repo", ".", "the repository whose launcher manifest is read")
	fl.StringVar(&f.manifest, "manifest", "", "the launcher manifest (default: scripts/config/services.yaml or scripts/services.yaml in --repo)")
	fl.StringSliceVar(&f.engine, "engine", nil, "Docker Engine API endpoint(s) to try (default: $DOCKER_HOST, else the docker and podman sockets)")
	fl.BoolVar(&f.noEngine, "no-engine", false, "do not inspect containers")
	fl.BoolVar(&f.heartbeat, "heartbeat", false, "record every service, even when its state did not change")
	addOutputFlags(cmd, &f.out)
}

func (a *App) servicesCommand() *cobra.Command {
	var f servicesFlags
	cmd := &cobra.Command{
		Use:   "services",
		Short: "Check every service of the launcher manifest: state, health, resources",
		Long: `Read the launcher manifest (scripts/config/services.yaml, older
scripts/services.yaml) and the compose files it names, check every service at
once (TCP, HTTP and command health checks with their timeouts; containers
through the Docker Engine API on the docker or podman socket; local
processes; data directories) and record its state: up, down or degraded,
with the reason and the latency.

A service_state record is appended only when a service's state changed since
its last record (severity error when it went down, warning when degraded), or
for every service with --heartbeat. When no container engine answers, the
report says so once and the health checks decide.`,
		Example: `  ami-audit services
  ami-audit services --profile=data-stack --format=json
  ami-audit services --heartbeat --quiet`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return a.runServices(cmd, nil, f) },
	}
	cmd.Flags().StringVar(&f.profile, "profile", "", "only the services of this profile of the manifest")
	addServiceFlags(cmd, &f)
	return cmd
}

func (a *App) serviceCommand() *cobra.Command {
	var f servicesFlags
	cmd := &cobra.Command{
		Use:   "service NAME",
		Short: "Check one service and, with --logs, record what its logs say",
		Long: `Check one service of the launcher manifest as "services" does and, with
--logs, read its log files under logs/ (files and directories named after the
service, its compose service or its container) through the log source, with
--since, --until and --level as in "ami-audit logs".`,
		Example: `  ami-audit service data-postgres --health
  ami-audit service data-postgres --health --logs --since="1 hour ago" --level=ERROR`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return a.runServices(cmd, args, f) },
	}
	fl := cmd.Flags()
	fl.BoolVar(&f.health, "health", true, "run the service's health checks (always done; kept for the spec's command line)")
	fl.BoolVar(&f.logs, "logs", false, "also record the service's logs")
	fl.StringVar(&f.since, "since", "", "with --logs: only entries at or after DATE")
	fl.StringVar(&f.until, "until", "", "with --logs: only entries before DATE")
	fl.StringVar(&f.level, "level", "warning", "with --logs: least level aggregated into patterns")
	addServiceFlags(cmd, &f)
	return cmd
}

func (f servicesFlags) config() service.Config {
	c := service.Config{Manifest: f.manifest, Profile: f.profile, NoEngine: f.noEngine, Heartbeat: f.heartbeat, EngineHosts: f.engine}
	if len(c.EngineHosts) == 0 {
		if h := os.Getenv("DOCKER_HOST"); h != "" {
			c.EngineHosts = append([]string{h}, service.DefaultEngineHosts()...)
		}
	}
	return c
}

func (a *App) runServices(cmd *cobra.Command, names []string, f servicesFlags) error {
	ctx := cmd.Context()
	if err := f.out.check(); err != nil {
		return err
	}
	now := time.Now()
	if f.logs && len(names) == 0 {
		return usagef("--logs needs a service")
	}
	if !f.logs && (f.since != "" || f.until != "") {
		return withHint(usagef("--since and --until apply to logs"), "add --logs")
	}
	cfg := f.config()
	cfg.Services = names
	var logCfg logsource.Config
	logDir := ""
	if f.logs {
		manifest := f.manifest
		if manifest == "" {
			m, err := service.FindManifest(f.repo)
			if err != nil {
				return withHint(usageError{err}, "give --repo or --manifest")
			}
			manifest = m
		}
		var err error
		logCfg, logDir, err = logsConfig(logsFlags{service: names[0], manifest: manifest, dir: filepath.Join(f.repo, "logs"),
			level: f.level, since: f.since, until: f.until, tz: "UTC", burstMin: 20, burstWindow: time.Minute, maxPatterns: 2000, top: 20}, now)
		if err != nil {
			return err
		}
		logCfg.Root = f.repo
	}
	store, err := a.openStore(ctx)
	if err != nil {
		return err
	}
	cfg.Trail = store
	logCfg.Trail, logCfg.Exclude = store, a.exclusion()
	src, err := service.New(cfg)
	if err != nil {
		return usageError{err}
	}
	srcs := []audit.Source{src}
	var lr *logRun
	if f.logs {
		ls, err := logsource.New(logCfg)
		if err != nil {
			return usageError{err}
		}
		lr = &logRun{Source: ls}
		srcs = append(srcs, lr)
	}
	appended := 0
	col, err := a.collector(store, batch.Config{OnAppend: func(_ string, recs []*audit.Record) { appended += len(recs) }})
	if err != nil {
		return err
	}
	// The log source reads logDir; the service source the repository.
	sum, runErr := col.Run(ctx, f.repo, srcs[:1])
	if runErr == nil && lr != nil {
		var lsum *batch.Summary
		lsum, runErr = col.Run(ctx, logDir, srcs[1:])
		sum.Sources = append(sum.Sources, lsum.Sources...)
		if errors.Is(runErr, logsource.ErrNoLogs) {
			runErr = nil
			lr.missing = logDir
		}
	}
	if runErr != nil {
		if appended > 0 {
			fmt.Fprintf(a.stderr, "ami-audit: %s %s appended before the failure\n", plural.Count(appended, "record"), plural.Pick(appended, "was", "were"))
		}
		switch {
		case errors.Is(runErr, service.ErrNoManifest), errors.Is(runErr, service.ErrUnknownService), errors.Is(runErr, service.ErrUnknownProfile):
			return withHint(usageError{runErr}, "services are listed in the launcher manifest; give --repo or --manifest")
		}
		return runErr
	}
	r := servicesReport(src.LastRun(), appended, now)
	if lr != nil {
		if lr.sum != nil {
			lrep := logsReport(lr.sum.Target, logCfg, lr.sum, 0, 20, now)
			for _, it := range lrep.Summary {
				if it.Label != "Records appended" {
					r.Summary = append(r.Summary, report.Item{Label: "Logs: " + it.Label, Value: it.Value})
				}
			}
			r.Sections = append(r.Sections, lrep.Sections...)
			r.Warnings = append(r.Warnings, lrep.Warnings...)
		} else {
			r.Warnings = append(r.Warnings, "no log files of service "+names[0]+" under "+logDir)
		}
	}
	return a.render(f.out, r)
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
func serviceRepoSource(ctx context.Context, a *App, _ sourceOptions) (audit.Source, error) {
	store, err := a.openStore(ctx)
	if err != nil {
		return nil, err
	}
	var f servicesFlags
	cfg := f.config()
	cfg.Trail = store
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

func (s *serviceRun) RunReport() reportPart {
	run := s.LastRun()
	if run == nil {
		if s.missing {
			return reportPart{Summary: []report.Item{{Label: "Services", Value: "0 (no launcher manifest: " + strings.Join(service.ManifestPaths, ", ") + ")"}}}
		}
		return reportPart{}
	}
	return partOf(servicesReport(run, 0, time.Now()), "service")
}
