// Package compliance is the compliance analyzer (SPEC §7): it assesses
// the trail against control catalogs (package compliance at the root) and
// reports, as findings the analyzer pipeline records:
//
//   - every control whose evidence is not all there (partial, missing) or
//     that the evidence contradicts (failed: an open critical security
//     finding fails the vulnerability-management controls, a retention
//     policy shorter than the control allows, records that do not verify);
//   - every gap in the trail itself: scheduled runs without a record,
//     records no signed or co-signed checkpoint covers, records that do
//     not verify, records without the required signatures, clock
//     anomalies, records kept beyond their retention.
//
// Findings of controls have target "controls/FRAMEWORK/CONTROL", those of
// gaps "trail/KIND", both of target type log (the trail is the log being
// judged). What a finding states leaves out what changes on every run
// (counts of records, times of the newest evidence), so re-analysing an
// unchanged trail appends nothing; the analyzer's own records are never
// evidence.
package compliance

import (
	"context"
	"errors"
	"fmt"
	"strings"

	audit "github.com/ami-orchestrator/ami-audit"
	comp "github.com/ami-orchestrator/ami-audit/compliance"
	"github.com/ami-orchestrator/ami-audit/compliance/assess"
)

// Name is the analyzer's name.
const Name = assess.AnalyzerName

// Checks of the analyzer: the controls, and one per kind of gap.
const CheckControls = "controls"

// Checks lists every check; all complete together.
var Checks = []string{CheckControls, comp.GapSchedule, comp.GapUnsigned, comp.GapUncosigned, comp.GapUnverified,
	comp.GapSignatures, comp.GapClock, comp.GapRetention}

// Config configures the analyzer.
type Config struct {
	// Catalogs are the frameworks assessed. Required.
	Catalogs []*comp.Catalog
	// Facts gathers the facts about the trail (compliance.FactsOf).
	// Required: without them nothing about the trail's integrity can be
	// judged.
	Facts func(ctx context.Context) (assess.Facts, error)
	// Settings tune the checks of the trail itself.
	Settings assess.Settings
}

// Analyzer is the compliance analyzer.
type Analyzer struct {
	cfg  Config
	last *comp.Assessment
}

// New returns the analyzer.
func New(cfg Config) (*Analyzer, error) {
	if len(cfg.Catalogs) == 0 {
		return nil, errors.New("compliance analyzer: no catalog")
	}
	if cfg.Facts == nil {
		return nil, errors.New("compliance analyzer: no way to gather the trail's facts")
	}
	return &Analyzer{cfg: cfg}, nil
}

// Name is "compliance".
func (*Analyzer) Name() string { return Name }

// Understands nothing sources produce in particular: it reads the whole
// trail, and runs when asked for.
func (*Analyzer) Understands() []string { return nil }

// Assessment is the assessment of the last Analyze, nil before.
func (a *Analyzer) Assessment() *comp.Assessment { return a.last }

// Analyze assesses the whole trail as of the run and reports what is not
// in order.
func (a *Analyzer) Analyze(ctx context.Context, in *audit.Analysis, report func(audit.Detected) error) ([]string, error) {
	facts, err := a.cfg.Facts(ctx)
	if err != nil {
		return nil, fmt.Errorf("gather the trail's facts: %w", err)
	}
	as, err := assess.Assess(ctx, assess.Input{Trail: in.Trail, Catalogs: a.cfg.Catalogs, Now: in.Now, Facts: facts, Settings: a.cfg.Settings})
	if err != nil {
		return nil, err
	}
	a.last = as
	for _, d := range Detect(as) {
		if err := report(d); err != nil {
			return nil, err
		}
	}
	return Checks, nil
}

// Detect turns an assessment into findings.
func Detect(as *comp.Assessment) []audit.Detected {
	var out []audit.Detected
	for _, fr := range as.Frameworks {
		for _, c := range fr.Controls {
			if c.Status == comp.Present {
				continue
			}
			out = append(out, controlFinding(fr, c))
		}
	}
	for _, g := range as.Gaps {
		out = append(out, gapFinding(g))
	}
	return out
}

func controlFinding(fr comp.FrameworkResult, c comp.ControlResult) audit.Detected {
	sev := audit.SeverityWarning
	if c.Status == comp.Failed {
		sev = audit.SeverityError
	}
	var reqs []any
	var short []string
	var ids []string
	seen := map[string]bool{}
	for _, r := range c.Evidence {
		reqs = append(reqs, map[string]any{"text": r.Text, "kind": r.Kind, "status": string(r.Status)})
		if r.Status != comp.Present {
			short = append(short, string(r.Status)+": "+r.Text)
		}
		for _, e := range r.Records {
			if !seen[e.RecordID] {
				seen[e.RecordID] = true
				ids = append(ids, e.RecordID)
			}
		}
	}
	name := fmt.Sprintf("%s %s %s", fr.Framework, c.ID, c.Title)
	if fr.Edition != "" {
		name = fmt.Sprintf("%s:%s %s %s", fr.Framework, fr.Edition, c.ID, c.Title)
	}
	return audit.Detected{
		Key:        "control|" + fr.ID + "|" + c.ID,
		Check:      CheckControls,
		Target:     "controls/" + fr.ID + "/" + c.ID,
		TargetType: audit.TargetLog,
		Finding: audit.Finding{
			FindingType:    "control_" + string(c.Status),
			Severity:       sev,
			Description:    fmt.Sprintf("%s: evidence %s (%s)", name, c.Status, strings.Join(short, "; ")),
			Location:       fr.ID + " " + c.ID,
			Recommendation: recommendation(c),
		},
		Evidence: map[string]any{"framework": fr.ID, "control": c.ID, "status": string(c.Status), "requirements": reqs},
		Records:  ids,
	}
}

func recommendation(c comp.ControlResult) string {
	for _, r := range c.Evidence {
		switch {
		case r.Status == comp.Failed && strings.HasPrefix(r.Kind, "analyzer:"):
			return "resolve the open findings that fail the control, then run the analyzer again"
		case r.Status == comp.Failed:
			return "see the trail's gaps: " + r.Text
		}
	}
	return "collect the missing evidence: " + c.Evidence[0].Text
}

// gapRecommendation says what closes a gap of each kind.
var gapRecommendation = map[string]string{
	comp.GapSchedule:   "keep 'ami-audit schedule' running (see docs/continuous.md); the scheduler records the runs it misses",
	comp.GapUnsigned:   "append only with the log key on the machine, so that every tree head is signed",
	comp.GapUncosigned: "have a trusted key co-sign the latest checkpoint: ami-audit checkpoint --output cp.txt && ami-audit sign --key KEY --checkpoint cp.txt",
	comp.GapUnverified: "run 'ami-audit verify' and compare the trail with a checkpoint kept elsewhere; restore the store from a backup",
	comp.GapSignatures: "ami-audit sign --key KEY --unsigned (or co-sign a checkpoint covering them)",
	comp.GapClock:      "synchronise the clocks of the machines that append (NTP); the records keep the times they were given",
	comp.GapRetention:  "ami-audit retention apply --key .audit/log.key",
}

func gapFinding(g comp.Gap) audit.Detected {
	ev := map[string]any{"kind": g.Kind}
	if g.From != nil {
		ev["from_sequence"] = *g.From
	}
	if !g.Start.IsZero() {
		ev["start"] = audit.FormatTime(g.Start)
	}
	var ids []string
	for _, r := range g.Records {
		if r.RecordID != "" {
			ids = append(ids, r.RecordID)
		}
	}
	return audit.Detected{
		Key:        "gap|" + g.Key,
		Check:      g.Kind,
		Target:     "trail/" + g.Kind,
		TargetType: audit.TargetLog,
		Finding: audit.Finding{
			FindingType:    "trail_gap_" + g.Kind,
			Severity:       g.Severity,
			Description:    g.Title,
			Recommendation: gapRecommendation[g.Kind],
		},
		Evidence: ev,
		Records:  ids,
	}
}
