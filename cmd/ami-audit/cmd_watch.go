package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/collector/stream"
	"github.com/ami-orchestrator/ami-audit/collector/stream/poll"
	"github.com/ami-orchestrator/ami-audit/collector/stream/rescan"
	"github.com/ami-orchestrator/ami-audit/collector/stream/tail"
	"github.com/ami-orchestrator/ami-audit/internal/plural"
	"github.com/ami-orchestrator/ami-audit/source/file"
	logsource "github.com/ami-orchestrator/ami-audit/source/log"
	"github.com/ami-orchestrator/ami-audit/source/module"
	"github.com/ami-orchestrator/ami-audit/source/service"
	"github.com/ami-orchestrator/ami-audit/trail"
)

// watchDir is where the positions of followed files are kept, in the
// trail's directory.
const watchDir = "watch"

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
	if t.PublicKey() != nil && !t.CanSign() {
		return appendError(fmt.Errorf("watch: %w", trail.ErrNoPrivateKey))
	}
	var streams []stream.Stream
	var targets []string
	if f.logs != "" {
		tl, err := a.logTailer(f, lv, loc, t)
		if err != nil {
			return err
		}
		streams = append(streams, tl)
		targets = append(targets, "logs "+f.logs)
	}
	if f.service != "" {
		p, err := a.servicePoller(f, t)
		if err != nil {
			return err
		}
		streams = append(streams, p)
		targets = append(targets, "services "+f.service)
	}
	if f.module != "" {
		w, dir, err := a.moduleWatcher(ctx, f, t)
		if err != nil {
			return err
		}
		streams = append(streams, w)
		targets = append(targets, "module "+dir)
	}

	mask, err := a.recordMask()
	if err != nil {
		return err
	}
	// what the trail's retention policies would prune at once is not
	// recorded (as for the batch collector)
	keep, err := t.RetentionKeeps(ctx, time.Now())
	if err != nil {
		return err
	}
	var appended int64
	col, err := stream.New(t.Store(), stream.Config{
		Mask:     mask,
		Keep:     keep,
		OnAppend: func(recs []*audit.Record) { appended += int64(len(recs)) },
		OnError:  func(err error) { a.notice("append failed, trying again: %v", err) },
	})
	if err != nil {
		return err
	}
	a.notice("watching %s (Ctrl-C to stop)", strings.Join(targets, " and "))
	err = col.Run(ctx, streams...)
	a.notice("stopped: %s appended", plural.Count(col.Stats().Records, "record"))
	if err != nil {
		return appendError(err)
	}
	return nil
}

// logTailer builds the stream of --logs.
func (a *App) logTailer(f watchFlags, lv audit.Severity, loc *time.Location, t *trail.Trail) (*tail.Tailer, error) {
	if _, err := os.Stat(f.logs); err != nil {
		return nil, withHint(fmt.Errorf("--logs: %w", err), "give the log directory or file with --logs")
	}
	abs := mustAbs(f.logs)
	if why := a.exclusion().Path(abs); why != "" {
		return nil, usagef("--logs %s is %s, which no source reads", f.logs, why)
	}
	parser, err := logsource.New(logsource.Config{Level: lv, Location: loc, Actor: filepath.Base(abs)})
	if err != nil {
		return nil, usageError{err}
	}
	sum := sha256.Sum256([]byte(abs))
	state := filepath.Join(a.auditDir, watchDir, "logs-"+t.Identity().LogID+"-"+hex.EncodeToString(sum[:6])+".json")
	return tail.New(tail.Config{
		Root: f.logs, Parser: parser, StateFile: state, LogID: t.Identity().LogID,
		FromStart: f.fromStart, Poll: f.poll, Logger: a.logger(), Recorded: t.Store(), Exclude: a.exclusion(),
	})
}

// servicePoller builds the stream of --service.
func (a *App) servicePoller(f watchFlags, t *trail.Trail) (*poll.Poller, error) {
	wd, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	root := repositoryRoot(wd)
	cfg := servicesFlags{manifest: f.manifest, noEngine: f.noEngine}.config()
	if f.service != "all" {
		cfg.Services = strings.Split(f.service, ",")
	}
	cfg.Trail = t.Store()
	if cfg.Manifest == "" {
		m, err := service.FindManifest(root)
		if err != nil {
			return nil, withHint(usageError{err}, "give --manifest, or run in the repository")
		}
		cfg.Manifest = m
	}
	// the services must exist: a typo is a usage error now, not a
	// failure at every check
	m, err := service.LoadManifest(cfg.Manifest, root)
	if err != nil {
		return nil, err
	}
	if _, err := m.Select(cfg.Services, ""); err != nil {
		return nil, withHint(usageError{err}, "'ami-audit services' lists them")
	}
	src, err := service.New(cfg)
	if err != nil {
		return nil, usageError{err}
	}
	return poll.New(poll.Config{Source: src, Target: root, Interval: f.interval, Logger: a.logger()})
}

// moduleWatcher builds the stream of --module.
func (a *App) moduleWatcher(ctx context.Context, f watchFlags, t *trail.Trail) (*rescan.Watcher, string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return nil, "", err
	}
	root := repositoryRoot(wd)
	dir := ""
	if fi, err := os.Stat(f.module); err == nil && fi.IsDir() {
		dir = mustAbs(f.module)
	} else {
		mods, _ := module.Discover(root, 3)
		for _, m := range mods {
			if m.Path == f.module || m.Submodule == f.module || filepath.Base(m.Path) == f.module {
				dir = m.Dir
				break
			}
		}
	}
	if dir == "" {
		return nil, "", withHint(usagef("--module %q: no such module or directory", f.module), "'ami-audit module --all' lists the modules")
	}
	if !inside(dir, root) {
		root = dir
	}
	ex := a.exclusion()
	src, err := file.New(file.Config{Root: root, Trail: t.Store(), Exclude: ex})
	if err != nil {
		return nil, "", usageError{err}
	}
	w, err := rescan.New(rescan.Config{Dir: dir, Source: src, Target: dir, Debounce: f.debounce, Logger: a.logger(),
		Skip: func(p string) bool { return ex.Dir(p) != "" }})
	if err != nil {
		return nil, "", err
	}
	rel, err := filepath.Rel(root, dir)
	if err != nil {
		rel = dir
	}
	return w, filepath.ToSlash(rel), nil
}

// inside reports whether path is dir or under it.
func inside(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// recordMask is the masking step the records of watch and schedule pass
// before they are appended (stream.Config.Mask): the one the batch
// collector's records pass (see App.collector).
func (a *App) recordMask() (func(*audit.Record), error) {
	d, err := a.secretDetector()
	if err != nil {
		return nil, err
	}
	return func(r *audit.Record) { d.MaskRecord(r) }, nil
}
