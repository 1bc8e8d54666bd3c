package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/ami-orchestrator/ami-audit/collect"
	"github.com/ami-orchestrator/ami-audit/internal/plural"
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
	return service.Config{Manifest: f.manifest, Profile: f.profile, NoEngine: f.noEngine, Heartbeat: f.heartbeat, EngineHosts: engineHosts(f.engine)}
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
	req := collect.ServicesRequest{Repo: f.repo, Config: cfg}
	if f.logs {
		req.Logs = &collect.LogsRequest{Dir: logDir, Config: logCfg}
	}
	res, err := collect.Services(ctx, a.env(), req)
	if err != nil {
		if res != nil && res.Appended > 0 {
			fmt.Fprintf(a.stderr, "ami-audit: %s %s appended before the failure\n", plural.Count(res.Appended, "record"), plural.Pick(res.Appended, "was", "were"))
		}
		switch {
		case errors.Is(err, service.ErrNoManifest), errors.Is(err, service.ErrUnknownService), errors.Is(err, service.ErrUnknownProfile):
			return withHint(usageError{err}, "services are listed in the launcher manifest; give --repo or --manifest")
		}
		return err
	}
	return a.render(f.out, res.Report)
}

// engineHosts are the container engine endpoints to try: those given, else
// $DOCKER_HOST before the docker and podman sockets, else nil (the
// sockets).
func engineHosts(given []string) []string {
	if len(given) == 0 {
		if h := os.Getenv("DOCKER_HOST"); h != "" {
			return append([]string{h}, service.DefaultEngineHosts()...)
		}
	}
	return given
}
