package collect

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/collector/stream"
	"github.com/ami-orchestrator/ami-audit/collector/stream/poll"
	"github.com/ami-orchestrator/ami-audit/collector/stream/rescan"
	"github.com/ami-orchestrator/ami-audit/collector/stream/tail"
	"github.com/ami-orchestrator/ami-audit/internal/plural"
	"github.com/ami-orchestrator/ami-audit/internal/usererr"
	"github.com/ami-orchestrator/ami-audit/source/file"
	logsource "github.com/ami-orchestrator/ami-audit/source/log"
	"github.com/ami-orchestrator/ami-audit/source/module"
	"github.com/ami-orchestrator/ami-audit/source/service"
	"github.com/ami-orchestrator/ami-audit/trail"
)

// WatchDir is where the positions of followed files are kept, in the
// trail's directory.
const WatchDir = "watch"

// WatchRequest asks to follow live sources: log files as they are written
// (Logs), services' changes of state (Services), a module's files as they
// change (Module).
type WatchRequest struct {
	// Trail is the trail appended to, open for appending.
	Trail *trail.Trail
	// Root is the repository (for the launcher manifest and modules).
	Root string

	// Logs is a log directory or file to follow, with the least Level
	// recorded and the zone (Location) of timestamps written without one.
	Logs      string
	Level     audit.Severity
	Location  *time.Location
	FromStart bool          // read the files already there from their start
	Poll      time.Duration // interval of the scan made whatever notifications say

	// Services are the services to check ("all": every one), every
	// Interval, as the service source configured by Manifest, NoEngine
	// and EngineHosts does.
	Services    string
	Interval    time.Duration
	Manifest    string
	NoEngine    bool
	EngineHosts []string

	// Module is a module name or a directory whose files are recorded once
	// changes have settled for Debounce.
	Module   string
	Debounce time.Duration

	// Logger receives the streams' warnings; OnAppendError is told of an
	// append that failed and is tried again.
	Logger        *slog.Logger
	OnAppendError func(error)
}

// Watch follows the sources of req and appends their records, masked,
// in groups as they happen, until ctx ends. It returns the number of
// records appended.
func Watch(ctx context.Context, env *Env, req WatchRequest) (int64, error) {
	if req.Logs == "" && req.Module == "" && req.Services == "" {
		return 0, usererr.WithHint(usererr.Usagef("nothing to watch"), "give --logs=DIR, --module=NAME or --service=NAME")
	}
	t := req.Trail
	if t.PublicKey() != nil && !t.CanSign() {
		return 0, fmt.Errorf("watch: %w", trail.ErrNoPrivateKey)
	}
	var streams []stream.Stream
	var targets []string
	if req.Logs != "" {
		tl, err := logTailer(env, req)
		if err != nil {
			return 0, err
		}
		streams = append(streams, tl)
		targets = append(targets, "logs "+req.Logs)
	}
	if req.Services != "" {
		p, err := servicePoller(req)
		if err != nil {
			return 0, err
		}
		streams = append(streams, p)
		targets = append(targets, "services "+req.Services)
	}
	if req.Module != "" {
		w, dir, err := moduleWatcher(env, req)
		if err != nil {
			return 0, err
		}
		streams = append(streams, w)
		targets = append(targets, "module "+dir)
	}

	mask, err := env.Mask()
	if err != nil {
		return 0, err
	}
	// what the trail's retention policies would prune at once is not
	// recorded (as for the batch collector)
	keep, err := t.RetentionKeeps(ctx, time.Now())
	if err != nil {
		return 0, err
	}
	col, err := stream.New(t.Store(), stream.Config{
		Mask:    mask,
		Keep:    keep,
		OnError: req.OnAppendError,
	})
	if err != nil {
		return 0, err
	}
	env.notice("watching %s (Ctrl-C to stop)", strings.Join(targets, " and "))
	err = col.Run(ctx, streams...)
	n := col.Stats().Records
	env.notice("stopped: %s appended", plural.Count(n, "record"))
	return n, err
}

// Mask is the masking step of records appended outside the batch
// collector (the stream collector's, stream.Config.Mask): the one the
// batch collector's records pass (see Collector).
func (e *Env) Mask() (func(*audit.Record), error) {
	d, err := e.Detector()
	if err != nil {
		return nil, err
	}
	return func(r *audit.Record) { d.MaskRecord(r) }, nil
}

// logTailer builds the stream of the logs.
func logTailer(env *Env, req WatchRequest) (*tail.Tailer, error) {
	if _, err := os.Stat(req.Logs); err != nil {
		return nil, usererr.WithHint(fmt.Errorf("--logs: %w", err), "give the log directory or file with --logs")
	}
	abs, err := filepath.Abs(req.Logs)
	if err != nil {
		return nil, err
	}
	if why := env.Exclusion().Path(abs); why != "" {
		return nil, usererr.Usagef("--logs %s is %s, which no source reads", req.Logs, why)
	}
	parser, err := logsource.New(logsource.Config{Level: req.Level, Location: req.Location, Actor: filepath.Base(abs)})
	if err != nil {
		return nil, usererr.Usage(err)
	}
	t := req.Trail
	sum := sha256.Sum256([]byte(abs))
	state := filepath.Join(env.Dir, WatchDir, "logs-"+t.Identity().LogID+"-"+hex.EncodeToString(sum[:6])+".json")
	return tail.New(tail.Config{
		Root: req.Logs, Parser: parser, StateFile: state, LogID: t.Identity().LogID,
		FromStart: req.FromStart, Poll: req.Poll, Logger: req.Logger, Recorded: t.Store(), Exclude: env.Exclusion(),
	})
}

// servicePoller builds the stream of the services.
func servicePoller(req WatchRequest) (*poll.Poller, error) {
	root := req.Root
	cfg := service.Config{Manifest: req.Manifest, NoEngine: req.NoEngine, EngineHosts: req.EngineHosts}
	if req.Services != "all" {
		cfg.Services = strings.Split(req.Services, ",")
	}
	cfg.Trail = req.Trail.Store()
	if cfg.Manifest == "" {
		m, err := service.FindManifest(root)
		if err != nil {
			return nil, usererr.WithHint(usererr.Usage(err), "give --manifest, or run in the repository")
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
		return nil, usererr.WithHint(usererr.Usage(err), "'ami-audit services' lists them")
	}
	src, err := service.New(cfg)
	if err != nil {
		return nil, usererr.Usage(err)
	}
	return poll.New(poll.Config{Source: src, Target: root, Interval: req.Interval, Logger: req.Logger})
}

// moduleWatcher builds the stream of the module.
func moduleWatcher(env *Env, req WatchRequest) (*rescan.Watcher, string, error) {
	root := req.Root
	dir := ""
	if fi, err := os.Stat(req.Module); err == nil && fi.IsDir() {
		if dir, err = filepath.Abs(req.Module); err != nil {
			return nil, "", err
		}
	} else {
		mods, _ := module.Discover(root, 3)
		for _, m := range mods {
			if m.Path == req.Module || m.Submodule == req.Module || filepath.Base(m.Path) == req.Module {
				dir = m.Dir
				break
			}
		}
	}
	if dir == "" {
		return nil, "", usererr.WithHint(usererr.Usagef("--module %q: no such module or directory", req.Module), "'ami-audit module --all' lists the modules")
	}
	if !inside(dir, root) {
		root = dir
	}
	ex := env.Exclusion()
	src, err := file.New(file.Config{Root: root, Trail: req.Trail.Store(), Exclude: ex})
	if err != nil {
		return nil, "", usererr.Usage(err)
	}
	w, err := rescan.New(rescan.Config{Dir: dir, Source: src, Target: dir, Debounce: req.Debounce, Logger: req.Logger,
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
