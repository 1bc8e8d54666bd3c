package main

import (
	"context"
	"os"
	"time"

	"github.com/spf13/cobra"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/collect"
	"github.com/ami-orchestrator/ami-audit/collector/stream/poll"
	"github.com/ami-orchestrator/ami-audit/collector/stream/rescan"
	"github.com/ami-orchestrator/ami-audit/collector/stream/tail"
)

// watchDir is where the positions of followed files are kept, in the
// trail's directory.
const watchDir = collect.WatchDir

type watchFlags struct {
	logs, module, service string
	level, tz             string
	fromStart             bool
	debounce              time.Duration
	poll                  time.Duration
	interval              time.Duration
	manifest              string
	noEngine              bool
}

func (a *App) watchCommand() *cobra.Command {
	var f watchFlags
	cmd := &cobra.Command{
		Use:   "watch --logs=DIR | --module=NAME | --service=NAME",
		Short: "Record as it happens: log lines as they are written, services' state changes, a module's files as they change",
		Long: `Follow live sources and append their records as they happen, until stopped
(Ctrl-C, or SIGTERM from systemd or a container runtime). Stopping is clean:
what was read is appended and the positions are saved.

--logs=DIR follows every log file under DIR (or one file) and records each
line as a log_entry record, parsed as "ami-audit logs" parses it (JSON lines,
logfmt, loguru, plain text; the format is detected per file). Rotation is
followed, by rename and create as by copytruncate, and a restart resumes
where the records end: positions are kept in .audit/watch/, per trail and
directory, and saved only for lines whose records are durable. On the first
start, files already there are read from their end (--from-start reads them
whole); files that appear later are read from their start.

--service=NAME checks a service of the launcher manifest (several,
comma-separated, or "all") every --interval, as "ami-audit services" does —
health checks, container, process, data directories — and records a
service_state record whenever a state changes (up, down, degraded).

--module=NAME watches a module's files (a name "ami-audit module" knows, or a
directory) and, once changes have settled for --debounce, records the files
that changed, as "ami-audit file" does.

Records are appended in groups, as fast as the store commits them. The
trail's log key must be here: appends to a signed trail are signed.`,
		Example: `  ami-audit watch --logs=logs/
  ami-audit watch --logs=logs/ --level=warning
  ami-audit watch --module=base --debounce=2s
  ami-audit watch --service=data-postgres --interval=5s`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return a.runWatch(cmd.Context(), f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.logs, "logs", "", "follow the log files under this directory (or this file)")
	fl.StringVar(&f.module, "module", "", "watch this module's files (a module name or a directory)")
	fl.StringVar(&f.service, "service", "", "record the state changes of these services of the launcher manifest (comma-separated; \"all\": every one)")
	fl.DurationVar(&f.interval, "interval", poll.DefaultInterval, "--service: time between two checks")
	fl.StringVar(&f.manifest, "manifest", "", "--service: the launcher manifest (default: scripts/config/services.yaml or scripts/services.yaml in the repository)")
	fl.BoolVar(&f.noEngine, "no-engine", false, "--service: do not inspect containers")
	fl.StringVar(&f.level, "level", "info", "--logs: least level recorded: debug, info, warning, error, critical")
	fl.StringVar(&f.tz, "tz", "UTC", "--logs: zone of timestamps written without one")
	fl.BoolVar(&f.fromStart, "from-start", false, "--logs: on the first start, read the files already there from their start")
	fl.DurationVar(&f.debounce, "debounce", rescan.DefaultDebounce, "--module: quiet time after the last change before files are recorded")
	fl.DurationVar(&f.poll, "poll", tail.DefaultPoll, "--logs: interval of the scan made whatever file notifications say")
	return cmd
}

func (a *App) runWatch(ctx context.Context, f watchFlags) error {
	if f.logs == "" && f.module == "" && f.service == "" {
		return withHint(usagef("nothing to watch"), "give --logs=DIR, --module=NAME or --service=NAME")
	}
	var lv audit.Severity
	var err error
	if f.logs != "" {
		if lv, err = audit.ParseSeverity(f.level); err != nil {
			return usagef("--level: %v", err)
		}
	}
	loc, err := time.LoadLocation(f.tz)
	if err != nil {
		return usagef("--tz %q: %v", f.tz, err)
	}
	t, err := a.openTrail(ctx, false)
	if err != nil {
		return err
	}
	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	_, err = collect.Watch(ctx, a.env(), collect.WatchRequest{
		Trail: t, Root: repositoryRoot(wd),
		Logs: f.logs, Level: lv, Location: loc, FromStart: f.fromStart, Poll: f.poll,
		Services: f.service, Interval: f.interval, Manifest: f.manifest, NoEngine: f.noEngine, EngineHosts: engineHosts(nil),
		Module: f.module, Debounce: f.debounce,
		Logger:        a.logger(),
		OnAppendError: func(err error) { a.notice("append failed, trying again: %v", err) },
	})
	if err != nil {
		return appendError(err)
	}
	return nil
}

// recordMask is the masking step the records of watch and schedule pass
// before they are appended (stream.Config.Mask): the one the batch
// collector's records pass (see App.collector).
func (a *App) recordMask() (func(*audit.Record), error) { return a.env().Mask() }
