package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/analyzer"
	ancomp "github.com/ami-orchestrator/ami-audit/analyzer/compliance"
	"github.com/ami-orchestrator/ami-audit/compliance"
	"github.com/ami-orchestrator/ami-audit/compliance/assess"
	"github.com/ami-orchestrator/ami-audit/internal/datespec"
	"github.com/ami-orchestrator/ami-audit/internal/plural"
	"github.com/ami-orchestrator/ami-audit/internal/progress"
	"github.com/ami-orchestrator/ami-audit/report"
	"github.com/ami-orchestrator/ami-audit/report/trailreport"
	"github.com/ami-orchestrator/ami-audit/trail"
)

// complianceFlags are the flags 'report' and 'compliance' share.
type complianceFlags struct {
	since, until string
	frameworks   []string
	catalog      string
	trusted      []string
}

func addComplianceFlags(cmd *cobra.Command, f *complianceFlags) {
	fl := cmd.Flags()
	fl.StringVar(&f.since, "since", "", `the period's start: a date, RFC 3339 time or relative form ("90 days ago"); default: the trail's start`)
	fl.StringVar(&f.until, "until", "", "the period's end (exclusive); default: now")
	fl.StringSliceVar(&f.frameworks, "framework", nil, "frameworks to assess, by catalog id (eu-ai-act, iso27001, iso27001-2013, iso42001, nist-ai-rmf, nist-800-53, or your own); default: compliance.frameworks in .audit/config.yaml, else all")
	fl.StringVar(&f.catalog, "catalog", "", "directory of catalog files (*.yaml) laid over the built-in ones (default: compliance.catalogs in .audit/config.yaml)")
	fl.StringSliceVar(&f.trusted, "trusted", nil, "public key files or directories of the signers whose signatures count (default .audit/trusted/)")
}

// period parses --since and --until.
func (f complianceFlags) period(now time.Time) (since, until time.Time, err error) {
	if f.since != "" {
		if since, err = datespec.Parse(f.since, now); err != nil {
			return since, until, usagef("--since: %v", err)
		}
	}
	if f.until != "" {
		if until, err = datespec.Parse(f.until, now); err != nil {
			return since, until, usagef("--until: %v", err)
		}
	}
	if !since.IsZero() && !until.IsZero() && !since.Before(until) {
		return since, until, usagef("--since %s is not before --until %s", f.since, f.until)
	}
	return since, until, nil
}

// catalogs loads the catalogs the flags and the trail's settings ask for.
// request is the period report the flags ask for.
func (f complianceFlags) request(now time.Time) (trailreport.Request, error) {
	since, until, err := f.period(now)
	if err != nil {
		return trailreport.Request{}, err
	}
	return trailreport.Request{Since: since, Until: until, Frameworks: f.frameworks, CatalogDir: f.catalog, Trusted: f.trusted, Now: now}, nil
}

func (a *App) reportCommand() *cobra.Command {
	var (
		f      complianceFlags
		out    outputFlags
		export string
	)
	cmd := &cobra.Command{
		Use:   "report",
		Short: "Report on the stored trail for a period: integrity, records, findings, compliance",
		Long: `Render a report from the stored trail, not from a new collection: the trail's
integrity first (origin, tree size, root, the latest signed checkpoint, the
log key's fingerprint, the result of verifying it), what was recorded in the
period (by action, source, target type, severity, per day), the analyzers'
open findings, and the compliance assessment of the frameworks asked for:
each control's evidence (present, partial, missing, failed) with the records
that are the evidence, the gaps in the trail itself and the policy
violations.

--format oscal writes OSCAL 1.1 assessment-results: one observation per
evidence record, findings per control.
--export packet writes an evidence packet (a zip) to --output: the report
(HTML and JSON), the period's records as JSON lines, the signed checkpoint,
an inclusion proof for every record, the public keys and a README; anyone
checks it offline with 'ami-audit verify --packet FILE' or
scripts/verify_export.py --packet FILE. The packet's manifest is signed by
the log key, so it is made where the log key is.

report only reads the trail. A trail that does not verify is still
reported (its integrity names the first failing record), and the command
then exits with status 3.`,
		Example: `  ami-audit report --format=html --output=audit.html
  ami-audit report --since="90 days ago" --format=markdown --output=q4.md
  ami-audit report --framework=eu-ai-act --format=html --output=eu-ai-act.html
  ami-audit report --framework=iso27001 --format=oscal --output=assessment-results.json
  ami-audit report --export=packet --output=evidence-2025Q4.zip`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if export != "" {
				if export != "packet" {
					return usagef("--export %q: the only export of 'report' is packet", export)
				}
				if out.output == "" || out.output == "-" {
					return usagef("--export packet needs --output FILE.zip")
				}
				return a.runPacket(cmd.Context(), f, out.output)
			}
			return a.runReport(cmd.Context(), f, out)
		},
	}
	addComplianceFlags(cmd, &f)
	addOutputFlags(cmd, &out)
	cmd.Flags().StringVar(&export, "export", "", "packet: write an evidence packet (zip) to --output instead of a report")
	cmd.Flags().StringVar(&a.pubKey, "key", "", "the log's public key file (default .audit/log.pub)")
	return cmd
}

// buildReport verifies the trail and builds the period report.
func (a *App) buildReport(ctx context.Context, f complianceFlags, readOnly bool) (*trail.Trail, *trailreport.Result, error) {
	req, err := f.request(time.Now())
	if err != nil {
		return nil, nil, err
	}
	tr, err := a.openTrail(ctx, readOnly)
	if err != nil {
		return nil, nil, err
	}
	meter := progress.New(a.stderr, a.progress(), "verify", "records", 0)
	req.Progress = func(n uint64) { meter.Add(int64(n) - meter.Count()) }
	opts, err := trailreport.OptionsFor(tr, req)
	if err != nil {
		return nil, nil, err
	}
	res, err := trailreport.Build(ctx, tr, opts)
	meter.Done()
	if err != nil {
		return nil, nil, err
	}
	return tr, res, nil
}

func (a *App) runReport(ctx context.Context, f complianceFlags, out outputFlags) error {
	if err := a.checkOutputFlags(out); err != nil {
		return err
	}
	_, res, err := a.buildReport(ctx, f, true)
	if err != nil {
		return err
	}
	if err := a.render(out, res.Report); err != nil {
		return err
	}
	return verified(res.Report)
}

// verified is the error of a report whose trail did not verify.
func verified(r *report.Report) error {
	if in := r.Integrity; in != nil && !in.Verified {
		where := ""
		if in.Failure != nil {
			where = fmt.Sprintf(" at record %d", in.Failure.Sequence)
		}
		return verifyError{fmt.Errorf("the trail does not verify%s (the report says why); run 'ami-audit verify'", where)}
	}
	return nil
}

func (a *App) complianceCommand() *cobra.Command {
	var (
		f      complianceFlags
		out    outputFlags
		failOn failOnFlag
		list   bool
	)
	cmd := &cobra.Command{
		Use:   "compliance",
		Short: "Control coverage and gaps of the trail against compliance frameworks",
		Long: `Assess the trail against control catalogs and show, per framework, which
controls have their evidence (present), some of it (partial), none
(missing), or evidence against them (failed: an open critical security
finding fails the vulnerability-management controls), and the gaps in the
trail itself: scheduled runs without a record, records no co-signed
checkpoint covers, records that do not verify, records without the required
signatures, clock anomalies, records kept beyond their retention.

Over the whole trail (no --since/--until) the compliance analyzer records
what it found in the trail (compliance_finding records; resolved ones when
they go away; nothing when nothing changed), so it needs the log key.
With a period it only reports.

The catalogs are data files shipped in the binary; --catalog DIR (or
compliance.catalogs in .audit/config.yaml) lays your own over them.
--list shows the catalogs and their controls.`,
		Example: `  ami-audit compliance
  ami-audit compliance --framework=iso27001,eu-ai-act
  ami-audit compliance --since="90 days ago" --format=markdown --output=coverage.md
  ami-audit compliance --fail-on=error        # CI gate: exit 4 when a control failed
  ami-audit compliance --list`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if list {
				return a.listCatalogs(cmd.Context(), f, out)
			}
			if _, err := failOn.severity(); err != nil {
				return err
			}
			if err := a.checkOutputFlags(out); err != nil {
				return err
			}
			return a.runCompliance(cmd.Context(), f, out, failOn)
		},
	}
	addComplianceFlags(cmd, &f)
	addOutputFlags(cmd, &out)
	cmd.Flags().StringVar(&failOn.value, "fail-on", "", failOnHelp+" (the compliance analyzer's open findings)")
	cmd.Flags().BoolVar(&list, "list", false, "list the catalogs and their controls, and exit")
	cmd.Flags().StringVar(&a.pubKey, "key", "", "the log's public key file (default .audit/log.pub)")
	return cmd
}

func (a *App) runCompliance(ctx context.Context, f complianceFlags, out outputFlags, failOn failOnFlag) error {
	record := f.since == "" && f.until == ""
	tr, res, err := a.buildReport(ctx, f, !record)
	if err != nil {
		return err
	}
	r := res.Report
	r.Title = "Compliance of the audit trail"
	r.Sections = nil // the assessment is the report
	var open []*audit.Record
	if record && res.Report.Compliance != nil {
		facts := res.Facts
		req, err := f.request(r.Generated)
		if err != nil {
			return err
		}
		opts, err := trailreport.OptionsFor(tr, req)
		if err != nil {
			return err
		}
		an, err := ancomp.New(ancomp.Config{Catalogs: opts.Catalogs, Settings: opts.Settings,
			Facts: func(context.Context) (assess.Facts, error) { return facts, nil }})
		if err != nil {
			return err
		}
		det, err := a.secretDetector()
		if err != nil {
			return err
		}
		s := tr.Store()
		results, err := analyzer.Run(ctx, analyzer.Config{Trail: s, Appender: s, Mask: func(r *audit.Record) { det.MaskRecord(r) },
			Now: func() time.Time { return r.Generated }}, []audit.Analyzer{an}, analyzer.Input{})
		if err != nil {
			return appendError(err)
		}
		res := results[0]
		open = res.Open
		r.Summary = append(r.Summary, report.Item{Label: "Compliance findings recorded",
			Value: fmt.Sprintf("%d new, %d changed, %d resolved", res.New, res.Changed, res.Resolved)})
		r.Findings = open
	}
	if err := a.render(out, r); err != nil {
		return err
	}
	if err := verified(r); err != nil {
		return err
	}
	if !record {
		return nil
	}
	return failOn.gate(open)
}

// listCatalogs prints the catalogs and their controls.
func (a *App) listCatalogs(ctx context.Context, f complianceFlags, out outputFlags) error {
	dirs := []string{f.catalog}
	if f.catalog == "" {
		if tr, err := a.openTrail(ctx, true); err == nil {
			if d := tr.Settings().Compliance.Catalogs; d != "" {
				if !filepath.IsAbs(d) {
					d = filepath.Join(filepath.Dir(tr.Dir()), d)
				}
				dirs = []string{d}
			}
		}
	}
	cats, err := compliance.Load(dirs...)
	if err != nil {
		return err
	}
	if cats, err = compliance.Select(cats, f.frameworks); err != nil {
		return usageError{err}
	}
	r := &report.Report{Title: "Compliance catalogs", Generated: time.Now().UTC()}
	for _, c := range cats {
		s := report.Section{Title: fmt.Sprintf("%s (%s)", c.Title, c.ID), Text: strings.TrimSpace(c.Description),
			Columns: []string{"control", "title", "evidence", "specification", "corresponds to"}}
		for _, ctl := range c.Controls {
			var ev []string
			for _, r := range ctl.Evidence {
				txt := r.Text
				if r.Freshness != "" {
					txt += " (within " + string(r.Freshness) + ")"
				}
				ev = append(ev, txt)
			}
			s.Rows = append(s.Rows, []string{ctl.ID, ctl.Title, strings.Join(ev, "\n"), strings.Join(ctl.Features, ", "),
				strings.Join(append(append([]string{}, ctl.Replaces...), ctl.ReplacedBy...), ", ")})
		}
		r.Sections = append(r.Sections, s)
	}
	r.Summary = []report.Item{{Label: "Catalogs", Value: fmt.Sprint(len(cats))}}
	return a.render(out, r)
}

// integrityOf states the integrity of the records this command covers:
// those it appended (verified as a range, with the latest tree head), or,
// when it appended none, the trail's last record.
func (a *App) integrityOf(ctx context.Context) *report.Integrity {
	tr := a.trail
	if tr == nil {
		return nil
	}
	head, err := tr.Raw().Head(ctx)
	if err != nil || head.Size == 0 {
		in := trailreport.Integrity(tr, nil, report.Range{})
		in.Result = "the trail is empty"
		return in
	}
	from := min(tr.OpenedSize(), head.Size-1)
	rep, _ := tr.VerifyRange(ctx, from, head.Size)
	in := trailreport.Integrity(tr, rep, report.Range{From: from, To: head.Size})
	if err := trailreport.HeadIntegrity(ctx, tr, in); err != nil {
		in.Result += "; the latest tree head could not be read: " + err.Error()
	}
	if rep != nil && rep.OK && in.VerifiedAt.IsZero() {
		in.VerifiedAt = time.Now().UTC()
	}
	if from == tr.OpenedSize() {
		in.Result = fmt.Sprintf("%s appended by this run; %s", plural.Count(head.Size-from, "record"), in.Result)
	}
	return in
}
