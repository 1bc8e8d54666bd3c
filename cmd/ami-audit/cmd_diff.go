package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ami-orchestrator/ami-audit/analyzer/drift"
	"github.com/ami-orchestrator/ami-audit/baseline"
	"github.com/ami-orchestrator/ami-audit/collect"
	"github.com/ami-orchestrator/ami-audit/internal/datespec"
	"github.com/ami-orchestrator/ami-audit/internal/plural"
	"github.com/ami-orchestrator/ami-audit/keys"
	"github.com/ami-orchestrator/ami-audit/ledger"
	"github.com/ami-orchestrator/ami-audit/report"
	"github.com/ami-orchestrator/ami-audit/state"
	"github.com/ami-orchestrator/ami-audit/trail"
)

// driftFlags are the flags every drift comparison shares.
type driftFlags struct {
	baseline string   // --baseline FILE
	keys     []string // --trusted-key: more keys a baseline may be signed with
	config   []string // --config-pattern
	exitCode bool     // --exit-code
}

func addDriftFlags(cmd *cobra.Command, f *driftFlags) {
	fl := cmd.Flags()
	fl.StringVar(&f.baseline, "baseline", "", "compare with a baseline FILE saved by 'ami-audit baseline save' (refused, exit 3, unless a trusted signature checks)")
	fl.StringSliceVar(&f.keys, "trusted-key", nil, "public key FILE a baseline may be signed with, beside the log key and .audit/trusted/ (repeatable)")
	fl.StringSliceVar(&f.config, "config-pattern", nil, "pattern of configuration files (repeatable; default: *.yaml, *.yml, *.toml, compose files, .env.example, CI files)")
	fl.BoolVar(&f.exitCode, "exit-code", false, exitCodeHelp)
}

const exitCodeHelp = "exit in the style of AIDE when something drifted: 8 plus 1 if something was added, 2 if removed, 4 if changed (9 to 15)"

// openBaseline reads and checks the --baseline file against the trail
// (opened for reading when no command opened it before).
func (a *App) openBaseline(ctx context.Context, f driftFlags) (*baseline.Baseline, error) {
	t, err := a.openTrail(ctx, a.trail == nil || a.trailReadOnly)
	if err != nil {
		return nil, err
	}
	b, signers, err := baseline.Open(ctx, t, f.baseline, f.keys...)
	switch {
	case errors.Is(err, ledger.ErrTampered):
		return nil, withHint(verifyError{err}, "use a baseline saved from this trail and signed by its log key or a trusted key (--trusted-key FILE)")
	case errors.Is(err, baseline.ErrFormat):
		return nil, usagef("%v", err)
	case err != nil:
		return nil, err
	}
	a.notice("baseline %s of %s, signed by %s", f.baseline, stamp(b.Created), strings.Join(signers, ", "))
	return b, nil
}

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") }

// driftExit is the exit of --exit-code when something drifted.
type driftExit struct {
	bits  int
	diff  *state.Diff
	where string
}

func (e driftExit) Error() string {
	var what []string
	for _, b := range []struct {
		bit  int
		name string
	}{{state.BitAdded, "added"}, {state.BitRemoved, "removed"}, {state.BitChanged, "changed"}} {
		if e.bits&b.bit != 0 {
			what = append(what, b.name)
		}
	}
	return fmt.Sprintf("%s drifted (%s: %s): exit %d", e.where, plural.Count(len(e.diff.Changes), "change"), strings.Join(what, ", "), exitDrift+e.bits)
}

// driftGate returns a driftExit when --exit-code is set and d holds a
// change.
func (f driftFlags) driftGate(d *state.Diff, where string) error {
	if !f.exitCode || d == nil {
		return nil
	}
	if bits := d.Bits(); bits != 0 {
		return driftExit{bits: bits, diff: d, where: where}
	}
	return nil
}

type diffFlags struct {
	from, to  string
	showDrift bool
	drift     driftFlags
	out       outputFlags
}

func (a *App) diffCommand() *cobra.Command {
	var f diffFlags
	cmd := &cobra.Command{
		Use:   "diff --from=DATE --to=DATE | --baseline=FILE",
		Short: "What drifted between two points of the trail, or since a baseline",
		Long: `Compare the audited state the trail recorded at two times — or saved in a
baseline — from the stored records alone, without collecting anything
again: files added, removed and changed (by SHA-256), permissions changed,
configuration files changed, dependencies added, removed, upgraded and
downgraded (in each ecosystem's version order), services added and removed,
and the change velocity of each module in the period.

The state at a time is, for each file, module and service, what the file,
module and service sources last recorded at or before it. --baseline
compares a baseline saved by 'ami-audit baseline save' with the state the
trail holds now; the baseline is refused (exit 3) unless a signature by the
log key or a trusted key checks, it was saved from this trail, and the
trail still holds the tree it names.

--show-drift lists every change; without it the report counts them.
--exit-code exits, when something drifted, with 8 plus AIDE's bits: 1 for
something added, 2 removed, 4 changed (so 9 to 15); 0 when nothing did.`,
		Example: `  ami-audit diff --from="30 days ago" --to=now
  ami-audit diff --from=2025-11-01 --to=2025-12-01 --format=markdown --output=november.md
  ami-audit diff --baseline=baseline.json --show-drift
  ami-audit diff --baseline=baseline.json --exit-code -q || echo "drift: $?"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return a.runDiff(cmd, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.from, "from", "", "the earlier point: a date, RFC 3339 time or relative form (\"30 days ago\")")
	fl.StringVar(&f.to, "to", "", "the later point (default: now)")
	fl.BoolVar(&f.showDrift, "show-drift", false, "list every change, not only their counts")
	addDriftFlags(cmd, &f.drift)
	addOutputFlags(cmd, &f.out)
	return cmd
}

func (a *App) runDiff(cmd *cobra.Command, f diffFlags) error {
	ctx := cmd.Context()
	if err := a.checkOutputFlags(f.out); err != nil {
		return err
	}
	o := state.Options{Config: f.drift.config}
	if o.Config == nil {
		// config.yaml's drift settings name the configuration files.
		t, err := a.openTrail(ctx, true)
		if err != nil {
			return err
		}
		var cfg drift.Config
		if err := collect.AnalyzerSettings(t.Settings().Analyzers, drift.Name, &cfg); err != nil {
			return err
		}
		o.Config = cfg.ConfigPatterns
	}
	now := time.Now().UTC()
	var cmp *drift.Comparison
	switch {
	case f.drift.baseline != "" && (f.from != "" || f.to != ""):
		return withHint(usagef("--baseline cannot be combined with --from or --to"), "ami-audit diff --baseline=FILE, or ami-audit diff --from=DATE --to=DATE")
	case f.drift.baseline != "":
		b, err := a.openBaseline(ctx, f.drift)
		if err != nil {
			return err
		}
		t, _ := a.openTrail(ctx, true)
		if cmp, err = drift.CompareBaseline(ctx, t.Store(), b, now, o); err != nil {
			return err
		}
	case f.from != "":
		from, err := datespec.Parse(f.from, now)
		if err != nil {
			return withHint(usagef("--from: %v", err), "ISO dates (2025-11-01), RFC 3339 times or relative forms (\"30 days ago\", yesterday, now)")
		}
		to := now
		if f.to != "" {
			if to, err = datespec.Parse(f.to, now); err != nil {
				return withHint(usagef("--to: %v", err), "ISO dates (2025-12-01), RFC 3339 times or relative forms (now, \"1 hour ago\")")
			}
		}
		if !from.Before(to) {
			return usagef("--from (%s) must be before --to (%s)", stamp(from), stamp(to))
		}
		store, err := a.openExisting(ctx)
		if err != nil {
			return err
		}
		if cmp, err = drift.CompareTimes(ctx, store, from, to, o); err != nil {
			return err
		}
	default:
		return withHint(usagef("diff needs --from (and --to) or --baseline"), "ami-audit diff --from=\"30 days ago\" --to=now, or ami-audit diff --baseline=baseline.json")
	}
	summary, sections := cmp.Report(f.showDrift)
	rep := &report.Report{Title: "Drift from " + cmp.From + " to " + cmp.To, Generated: now, Summary: summary, Sections: sections}
	if err := a.render(f.out, rep); err != nil {
		return err
	}
	return f.drift.driftGate(cmp.Diff, "the state")
}

type baselineFlags struct {
	output string
	key    string
	config []string
}

func (a *App) baselineCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "baseline",
		Short: "Save the audited state as a signed baseline to compare with later",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withHint(usagef("baseline needs a subcommand"), "ami-audit baseline save --output baseline.json")
		},
	}
	var f baselineFlags
	save := &cobra.Command{
		Use:   "save --output FILE",
		Short: "Write the state the trail holds now as signed JSON",
		Long: `Write the audited state the trail holds now — every file's SHA-256, mode and
size, the hashes of the configuration files apart, every module's
dependencies, every service — with the trail's identity and tree (size and
root), as JSON signed with the log key (or --key). Nothing is collected:
run 'ami-audit repo' first so that the trail holds the current state.

'ami-audit repo --baseline=FILE' and 'ami-audit diff --baseline=FILE' use
it only after its signature checks against the log key or a trusted key.`,
		Example: `  ami-audit repo -q && ami-audit baseline save --output baseline.json
  ami-audit baseline save --output baseline.json --key release.key`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return a.runBaselineSave(cmd, f) },
	}
	save.Flags().StringVarP(&f.output, "output", "o", "", "the baseline FILE to write (replaced atomically; - for standard output)")
	save.Flags().StringVar(&f.key, "key", "", "private key FILE to sign with (default: the log key, .audit/log.key)")
	save.Flags().StringSliceVar(&f.config, "config-pattern", nil, "pattern of configuration files to list apart (repeatable; default: *.yaml, *.yml, *.toml, compose files, .env.example, CI files)")
	cmd.AddCommand(save)
	return cmd
}

func (a *App) runBaselineSave(cmd *cobra.Command, f baselineFlags) error {
	ctx := cmd.Context()
	if f.output == "" {
		return withHint(usagef("baseline save needs --output"), "ami-audit baseline save --output baseline.json")
	}
	if err := a.checkOutput(f.output); err != nil {
		return err
	}
	t, err := a.openTrail(ctx, true)
	if err != nil {
		return err
	}
	signer := t.LogSigner()
	switch {
	case f.key != "":
		if signer, err = keys.LoadSigner(f.key); err != nil {
			return err
		}
	default:
		// A reader does not load the log key: load it here.
		if k, err := keys.LoadKey(a.auditPath(trail.LogKeyFile)); err == nil {
			signer = k.Signer
		} else if signer == nil {
			return withHint(fmt.Errorf("%w: %v", baseline.ErrNoSigner, err), "sign with another key: ami-audit baseline save --key FILE")
		}
	}
	b, err := baseline.Save(ctx, t, signer, f.config, time.Now())
	if err != nil {
		return err
	}
	if err := a.writeOutput(f.output, func(w io.Writer) error { return b.Write(w) }); err != nil {
		return err
	}
	if f.output != "-" {
		a.notice("baseline of %s, %s and %s (tree size %d) written to %s, signed by %s",
			plural.Count(len(b.State.Files), "file"), plural.Count(len(b.State.Dependencies), "dependency"),
			plural.Count(len(b.State.Services), "service"), b.Trail.Size, f.output, signer.Name())
	}
	return nil
}
