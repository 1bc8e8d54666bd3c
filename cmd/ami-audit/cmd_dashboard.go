package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/dashboard"
	"github.com/ami-orchestrator/ami-audit/trail"
)

func (a *App) dashboardCommand() *cobra.Command {
	var interval time.Duration
	var plain bool
	var action, actor, targetType, severity string
	cmd := &cobra.Command{
		Use:   "dashboard",
		Short: "A live view of the trail: append rate, latest records, findings, chain status",
		Long: `Show the trail as it grows: the append rate as a sparkline, the latest
records, the findings of the newest records by severity, and the chain's
status (size, the last checkpoint this machine saw, the dashboard's own
verification, run at the start and with the v key). / opens a filter box
(actor, action, target, severity, source or reason containing the text).

It only reads the trail. With a cache (--cache or AMI_AUDIT_CACHE) it is
woken by the cache's announcements; it reads the store every --interval in
any case. When standard output is not a terminal (or with --plain) it
prints plain lines instead: a status line when the status changes, and each
record appended, as it is seen.`,
		Example: `  ami-audit dashboard
  ami-audit dashboard --severity=warning
  ami-audit dashboard --plain | tee dashboard.log`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f := audit.Filter{Action: action, Actor: actor, TargetType: audit.TargetType(targetType)}
			if severity != "" {
				s, err := audit.ParseSeverity(severity)
				if err != nil {
					return usagef("--severity: %v", err)
				}
				f.Severity = s
			}
			if err := f.Validate(); err != nil {
				return usageError{err}
			}
			return a.runDashboard(cmd.Context(), f, interval, plain)
		},
	}
	fl := cmd.Flags()
	fl.DurationVar(&interval, "interval", dashboard.DefaultInterval, "how often the store is read")
	fl.BoolVar(&plain, "plain", false, "print plain lines even on a terminal")
	fl.StringVar(&action, "action", "", "only records of this action")
	fl.StringVar(&actor, "actor", "", "only records by this actor")
	fl.StringVar(&targetType, "target-type", "", "only this target type")
	fl.StringVar(&severity, "severity", "", "only this severity and above")
	return cmd
}

func (a *App) runDashboard(ctx context.Context, f audit.Filter, interval time.Duration, plain bool) error {
	t, err := a.openTrail(ctx, true)
	if err != nil {
		return err
	}
	id := t.Identity()
	cfg := dashboard.Config{
		Store: t.Store(), Filter: f, Interval: interval,
		Title: fmt.Sprintf("%s  (log %s, %s)", id.Origin, id.LogID, t.Location()),
		Verify: func(ctx context.Context) dashboard.Verification {
			rep, err := t.Verify(ctx, trail.VerifyOptions{Chain: true})
			v := dashboard.Verification{At: time.Now()}
			switch {
			case err != nil:
				v.Detail = err.Error()
			case rep.Integrity != nil:
				v.OK, v.Size = rep.OK, rep.Integrity.Size
			default:
				v.OK = rep.OK
			}
			if !rep.OK && rep.Error != "" {
				v.Detail = rep.Error
			}
			return v
		},
		Checkpoint: func() (dashboard.Checkpoint, bool) {
			return seenCheckpoint(filepath.Join(a.auditDir, trail.LatestFile))
		},
	}
	if w, ok := t.Store().(watcher); ok {
		if ch, err := w.Watch(ctx); err == nil {
			cfg.Notify = ch
		}
	}
	if plain || !isTerminal(a.stdout) {
		return dashboard.RunPlain(ctx, a.stdout, cfg)
	}
	return dashboard.RunTUI(ctx, a.stdin, a.stdout, cfg)
}

// seenCheckpoint reads the size of the latest checkpoint this machine saw
// (the signed note's second line) and when it was written.
func seenCheckpoint(path string) (dashboard.Checkpoint, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return dashboard.Checkpoint{}, false
	}
	fi, err := os.Stat(path)
	if err != nil {
		return dashboard.Checkpoint{}, false
	}
	lines := strings.SplitN(string(b), "\n", 3)
	if len(lines) < 3 {
		return dashboard.Checkpoint{}, false
	}
	n, err := strconv.ParseUint(lines[1], 10, 64)
	if err != nil {
		return dashboard.Checkpoint{}, false
	}
	return dashboard.Checkpoint{Size: n, At: fi.ModTime()}, true
}
