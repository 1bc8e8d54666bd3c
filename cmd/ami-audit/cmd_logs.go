package main

import (
	"errors"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/collect"
	"github.com/ami-orchestrator/ami-audit/internal/progress"
	logsource "github.com/ami-orchestrator/ami-audit/source/log"
)

// logsFlags are the flags of "ami-audit logs".
type logsFlags struct {
	dir          string
	level        string
	service      string
	manifest     string
	since, until string
	each         bool
	tz           string
	burstMin     int
	burstWindow  time.Duration
	maxPatterns  int
	top          int
	out          outputFlags
}

func (a *App) logsCommand() *cobra.Command {
	var f logsFlags
	cmd := &cobra.Command{
		Use:   "logs [--dir=DIR]",
		Short: "Record what a directory of logs says: error patterns, bursts, per-file summaries",
		Long: `Read every log file under --dir (default ./logs; a single file works too),
recursively, gzip and bzip2 rotations included. Each file's format is
detected from its first lines (JSON lines, agent transcripts, logfmt, loguru,
"timestamp level message", "=== SECTION ===" text, or plain text) and the
report says which was chosen and why. Timestamps are normalised to UTC;
those written without a zone are taken in --tz.

Entries at or above --level are grouped into patterns ("timeout after 30s on
host a" and "timeout after 12s on host b" are one pattern, "timeout after
<*> on host <*>"). Errors from all files are merged on one timeline, and a
burst is reported wherever --burst-window holds at least --burst-min errors.

Appended to the trail: one log_file_summary record per file, one
log_pattern record per pattern, one log_error_burst record per burst, and
with --each one log_entry record per entry that passes the filters.
Runs are incremental: a record that says what the trail's newest record of
the same file, pattern, burst or entry says is not appended again. Targets
are named relative to the repository ("logs" and "./logs/" are one).

Git's internals, the trail's directory and private key files are never
read, and every value is masked for secrets before it is recorded (see
docs/secrets.md).

--service=NAME reads only that service's logs, as named in the services
manifest (scripts/config/services.yaml or scripts/services.yaml, found in
the current directory or above): files under a directory named after the
service, its compose service or its container (container_name in the
compose file), and files named after one of those, such as
data-postgres.log, ami-postgres.log.1.gz or postgres-2025-12-01.log.

Dates are ISO dates, RFC 3339 times, "now", "today", "yesterday" or
relative forms ("1 hour ago", "7d"). --since is inclusive, --until
exclusive; entries without a timestamp are left out when either is given.`,
		Example: `  ami-audit logs --dir=logs/ --level=ERROR --since="1 hour ago" --until=now
  ami-audit logs --dir=logs/agent --format=markdown
  ami-audit logs --service=data-postgres`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return a.runLogs(cmd, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.dir, "dir", "", "log directory or file (default: logs/, beside the services manifest with --service)")
	fl.StringVar(&f.level, "level", "warning", "least level aggregated into patterns: debug, info, warning, error, critical")
	fl.StringVar(&f.service, "service", "", "only the logs of this service of the services manifest")
	fl.StringVar(&f.manifest, "manifest", "", "services manifest (default: scripts/config/services.yaml or scripts/services.yaml, here or above)")
	fl.StringVar(&f.since, "since", "", "only entries at or after DATE")
	fl.StringVar(&f.until, "until", "", "only entries before DATE")
	fl.BoolVar(&f.each, "each", false, "also record every entry that passes the filters (one record per line)")
	fl.StringVar(&f.tz, "tz", "UTC", "time zone of timestamps written without one (e.g. Europe/Paris, Local)")
	fl.IntVar(&f.burstMin, "burst-min", 20, "errors that make a burst …")
	fl.DurationVar(&f.burstWindow, "burst-window", time.Minute, "… within this window")
	fl.IntVar(&f.maxPatterns, "max-patterns", 2000, "patterns held in memory; the least recent is recorded and dropped beyond")
	fl.IntVar(&f.top, "top", 20, "patterns listed in the report")
	addOutputFlags(cmd, &f.out)
	return cmd
}

// logsConfig turns the flags into a source configuration and the log
// directory.
func logsConfig(f logsFlags, now time.Time) (logsource.Config, string, error) {
	cfg := logsource.Config{
		Each:        f.each,
		Service:     f.service,
		Manifest:    f.manifest,
		BurstMin:    f.burstMin,
		BurstWindow: f.burstWindow,
		MaxPatterns: f.maxPatterns,
	}
	lv, err := audit.ParseSeverity(f.level)
	if err != nil {
		return cfg, "", withHint(usagef("--level: %v", err), "--level=error shows errors and worse")
	}
	cfg.Level = lv
	if cfg.Since, err = parseDateFlag("since", f.since, now); err != nil {
		return cfg, "", err
	}
	if cfg.Until, err = parseDateFlag("until", f.until, now); err != nil {
		return cfg, "", err
	}
	if cfg.Location, err = time.LoadLocation(f.tz); err != nil {
		return cfg, "", withHint(usagef("--tz %q: %v", f.tz, err), "use an IANA zone name such as UTC or Europe/Paris")
	}
	if f.burstMin < 1 || f.burstWindow <= 0 || f.maxPatterns < 1 || f.top < 0 {
		return cfg, "", usagef("--burst-min, --burst-window and --max-patterns must be positive, --top not negative")
	}
	dir := f.dir
	if f.service != "" {
		if cfg.Manifest == "" {
			m, root, err := logsource.LocateManifest(".")
			if err != nil {
				return cfg, "", withHint(usageError{err}, "run from the repository, or give --manifest=FILE")
			}
			cfg.Manifest, cfg.Root = m, root
			if dir == "" {
				dir = filepath.Join(root, "logs")
			}
		}
	}
	if dir == "" {
		dir = "logs"
	}
	if err := cfg.Validate(); err != nil {
		return cfg, "", usageError{err}
	}
	return cfg, dir, nil
}

func (a *App) runLogs(cmd *cobra.Command, f logsFlags) error {
	ctx := cmd.Context()
	if err := a.checkOutputFlags(f.out); err != nil {
		return err
	}
	now := time.Now()
	cfg, dir, err := logsConfig(f, now)
	if err != nil {
		return err
	}
	meter := progress.New(a.stderr, a.progress(), "logs", "lines", 0)
	defer meter.Done()
	res, err := collect.Logs(ctx, a.env(), collect.LogsRequest{Dir: dir, Config: cfg, Top: f.top, Progress: meter.Add})
	meter.Done()
	if err != nil {
		if res != nil {
			a.appendedBeforeFailure(res.Appended)
		}
		switch {
		case errors.Is(err, logsource.ErrUnknownService), errors.Is(err, logsource.ErrNoManifest):
			return withHint(usageError{err}, "services are listed in the services manifest")
		case errors.Is(err, logsource.ErrNoLogs):
			return withHint(err, "check --dir and --service")
		case errors.Is(err, logsource.ErrExcluded):
			return withHint(usageError{err}, "git internals, the trail's directory and private keys are never read")
		}
		return err
	}
	return a.render(f.out, res.Report)
}
