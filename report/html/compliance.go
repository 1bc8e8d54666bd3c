package html

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/ami-orchestrator/ami-audit/compliance"
	"github.com/ami-orchestrator/ami-audit/internal/plural"
	"github.com/ami-orchestrator/ami-audit/report/internal/tabular"
)

// complianceView is an assessment laid out for the page: coverage at a
// glance (a stacked bar per framework), each framework's controls with
// their status, and per control an anchor to its evidence (the
// requirements and the records), the gaps and the violations.
type complianceView struct {
	Until      string
	Records    string
	Totals     totalsView
	Frameworks []frameworkView
	Gaps       []gapView
	Violations []violationView
}

type totalsView struct {
	Controls, Present, Partial, Missing, Failed int
	Segments                                    []segment
}

// segment is one status's part of a stacked bar, in SVG user units.
type segment struct {
	Status string
	X, W   int
	Count  int
}

type frameworkView struct {
	ID, Title, Edition string
	Totals             totalsView
	Controls           []controlView
}

type controlView struct {
	Anchor, ID, Title, Status, Description string
	Replaces, ReplacedBy, Features         string
	Requirements                           []requirementView
}

type requirementView struct {
	Text, Status, Detail, Kind, Freshness string
	Records                               []evidenceView
	More                                  int
}

type evidenceView struct {
	Sequence                                         uint64
	RecordID, Time, Action, Target, Source, Severity string
}

type gapView struct {
	Kind, Severity, Title, Records, Time, Detail string
}

type violationView struct {
	Framework, Control, Analyzer, Severity, Target, Finding, Record string
}

// barWidth is the width of a coverage bar in SVG user units.
const coverageWidth = 600

func totals(t compliance.Totals) totalsView {
	v := totalsView{Controls: t.Controls, Present: t.Present, Partial: t.Partial, Missing: t.Missing, Failed: t.Failed}
	if t.Controls == 0 {
		return v
	}
	x := 0
	for _, s := range []struct {
		name string
		n    int
	}{{"present", t.Present}, {"partial", t.Partial}, {"missing", t.Missing}, {"failed", t.Failed}} {
		if s.n == 0 {
			continue
		}
		w := s.n * coverageWidth / t.Controls
		v.Segments = append(v.Segments, segment{Status: s.name, X: x, W: w, Count: s.n})
		x += w
	}
	if n := len(v.Segments); n > 0 {
		v.Segments[n-1].W += coverageWidth - x // rounding
	}
	return v
}

var anchorUnsafe = regexp.MustCompile(`[^a-z0-9]+`)

func anchor(framework, control string) string {
	return "c-" + strings.Trim(anchorUnsafe.ReplaceAllString(strings.ToLower(framework+"-"+control), "-"), "-")
}

const recordsShown = 10

func newCompliance(a *compliance.Assessment) *complianceView {
	v := &complianceView{Until: a.Until.UTC().Format("2006-01-02 15:04:05Z"), Records: plural.Count(a.Records, "record"), Totals: totals(a.Totals)}
	for _, f := range a.Frameworks {
		fv := frameworkView{ID: clean(f.ID), Title: clean(f.Title), Edition: clean(f.Edition), Totals: totals(f.Totals)}
		for _, c := range f.Controls {
			cv := controlView{Anchor: anchor(f.ID, c.ID), ID: clean(c.ID), Title: clean(c.Title), Status: string(c.Status),
				Description: clean(c.Description), Replaces: clean(strings.Join(c.Replaces, ", ")),
				ReplacedBy: clean(strings.Join(c.ReplacedBy, ", ")), Features: clean(strings.Join(c.Features, ", "))}
			for _, r := range c.Evidence {
				rv := requirementView{Text: clean(r.Text), Status: string(r.Status), Detail: clean(r.Detail), Kind: clean(r.Kind), Freshness: string(r.Freshness)}
				for i, e := range r.Records {
					if i == recordsShown {
						rv.More = len(r.Records) - recordsShown
						break
					}
					rv.Records = append(rv.Records, evidenceView{Sequence: e.Sequence, RecordID: e.RecordID,
						Time: e.Timestamp.UTC().Format("2006-01-02 15:04:05Z"), Action: clean(e.Action), Target: clean(e.Target),
						Source: clean(e.Source), Severity: string(e.Severity)})
				}
				cv.Requirements = append(cv.Requirements, rv)
			}
			fv.Controls = append(fv.Controls, cv)
		}
		v.Frameworks = append(v.Frameworks, fv)
	}
	for _, g := range a.Gaps {
		v.Gaps = append(v.Gaps, gapView{Kind: g.Kind, Severity: string(g.Severity), Title: clean(g.Title),
			Records: tabular.GapRecords(g), Time: tabular.GapTime(g), Detail: clean(g.Detail)})
	}
	for _, x := range a.Violations {
		v.Violations = append(v.Violations, violationView{Framework: clean(x.Framework), Control: clean(x.Control), Analyzer: clean(x.Analyzer),
			Severity: string(x.Severity), Target: clean(x.Target), Finding: clean(x.Finding),
			Record: fmt.Sprintf("#%d %s", x.Record.Sequence, x.Record.RecordID)})
	}
	return v
}
