package tabular

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/compliance"
	"github.com/ami-orchestrator/ami-audit/internal/plural"
	"github.com/ami-orchestrator/ami-audit/report"
)

// IntegritySection is the integrity of a report as a two-column section,
// or false when the report states none.
func IntegritySection(r *report.Report) (report.Section, bool) {
	in := r.Integrity
	if in == nil {
		return report.Section{}, false
	}
	s := report.Section{Title: "Integrity", Columns: []string{"fact", "value"}}
	add := func(k, v string) { s.Rows = append(s.Rows, []string{k, v}) }
	add("verified", VerifiedText(in))
	add("origin", in.Origin)
	add("log id", in.LogID)
	if in.Store != "" {
		add("store", in.Store)
	}
	add("tree size", strconv.FormatUint(in.TreeSize, 10))
	add("root", in.Root)
	if in.Checkpoint != "" {
		add("signed checkpoint", fmt.Sprintf("size %d, signed by the log key", in.CheckpointSize))
	} else {
		add("signed checkpoint", "none: the trail's tree heads are not signed")
	}
	if in.KeyFingerprint != "" {
		add("log key", in.KeyFingerprint)
	}
	add("range verified", RangeText(in.Range))
	if in.Failure != nil {
		add("first failure", fmt.Sprintf("record %d %s: %s", in.Failure.Sequence, in.Failure.RecordID, in.Failure.Reason))
	}
	add("result", in.Result)
	return s, true
}

// VerifiedText says in a few words whether the range verified.
func VerifiedText(in *report.Integrity) string {
	at := ""
	if !in.VerifiedAt.IsZero() {
		at = " at " + in.VerifiedAt.UTC().Format(time.RFC3339)
	}
	if in.Verified {
		return "yes" + at
	}
	if in.Failure != nil {
		return fmt.Sprintf("NO: record %d failed%s", in.Failure.Sequence, at)
	}
	return "NO" + at
}

// RangeText describes a range of records.
func RangeText(r report.Range) string {
	switch {
	case r.To <= r.From:
		return "no record"
	case r.To-r.From == 1:
		return fmt.Sprintf("record %d", r.From)
	}
	return fmt.Sprintf("records %d..%d (%s)", r.From, r.To-1, plural.Count(r.To-r.From, "record"))
}

// ComplianceSections are a compliance assessment as sections: coverage
// per framework (a table and a chart), each framework's controls, the
// evidence of every control, the gaps in the trail and the policy
// violations.
func ComplianceSections(a *compliance.Assessment) []report.Section {
	if a == nil {
		return nil
	}
	cov := report.Section{Title: "Compliance coverage",
		Text:    fmt.Sprintf("Controls by status, as of %s, over %s of the period.", a.Until.UTC().Format(time.RFC3339), plural.Count(a.Records, "record")),
		Columns: []string{"framework", "controls", "present", "partial", "missing", "failed"}}
	chart := &report.Chart{Kind: report.ChartBar, Unit: "% present"}
	for _, f := range a.Frameworks {
		t := f.Totals
		cov.Rows = append(cov.Rows, []string{f.Title, itoa(t.Controls), itoa(t.Present), itoa(t.Partial), itoa(t.Missing), itoa(t.Failed)})
		chart.Labels = append(chart.Labels, f.ID)
		pct := 0.0
		if t.Controls > 0 {
			pct = float64(t.Present) * 100 / float64(t.Controls)
		}
		chart.Values = append(chart.Values, pct)
	}
	t := a.Totals
	cov.Rows = append(cov.Rows, []string{"all", itoa(t.Controls), itoa(t.Present), itoa(t.Partial), itoa(t.Missing), itoa(t.Failed)})
	out := []report.Section{cov, {Title: "Controls present, per framework", Chart: chart}}
	for _, f := range a.Frameworks {
		s := report.Section{Title: f.Title, Columns: []string{"control", "title", "status", "evidence"}}
		for _, c := range f.Controls {
			s.Rows = append(s.Rows, []string{c.ID, c.Title, string(c.Status), requirementsText(c)})
		}
		out = append(out, s)
	}
	ev := report.Section{Title: "Evidence", Text: "Each requirement of each control, what was found, and the newest records that are its evidence.",
		Columns: []string{"framework", "control", "requirement", "status", "found", "records"}}
	for _, f := range a.Frameworks {
		for _, c := range f.Controls {
			for _, r := range c.Evidence {
				ev.Rows = append(ev.Rows, []string{f.ID, c.ID, r.Text, string(r.Status), r.Detail, EvidenceText(r.Records, 5)})
			}
		}
	}
	out = append(out, ev)
	gaps := report.Section{Title: "Gaps in the trail", Columns: []string{"kind", "severity", "gap", "records", "time", "detail"}}
	if len(a.Gaps) == 0 {
		gaps.Text = "None: every expected run is recorded, every record is signed, verified and in time order."
	}
	for _, g := range a.Gaps {
		gaps.Rows = append(gaps.Rows, []string{g.Kind, string(g.Severity), g.Title, GapRecords(g), GapTime(g), g.Detail})
	}
	out = append(out, gaps)
	if len(a.Violations) > 0 {
		v := report.Section{Title: "Policy violations", Text: "Open findings of other analyzers that fail a control.",
			Columns: []string{"framework", "control", "analyzer", "severity", "target", "finding", "record"}}
		for _, x := range a.Violations {
			v.Rows = append(v.Rows, []string{x.Framework, x.Control, x.Analyzer, string(x.Severity), x.Target, x.Finding,
				fmt.Sprintf("%d %s", x.Record.Sequence, x.Record.RecordID)})
		}
		out = append(out, v)
	}
	return out
}

func itoa(n int) string { return strconv.Itoa(n) }

// requirementsText is one line per requirement: its status and text.
func requirementsText(c compliance.ControlResult) string {
	var lines []string
	for _, r := range c.Evidence {
		lines = append(lines, string(r.Status)+": "+r.Text)
	}
	return strings.Join(lines, "\n")
}

// EvidenceText cites up to n records by sequence, and says how many more.
func EvidenceText(ev []compliance.Evidence, n int) string {
	var parts []string
	for i, e := range ev {
		if i == n {
			parts = append(parts, fmt.Sprintf("+%d more", len(ev)-n))
			break
		}
		parts = append(parts, "#"+strconv.FormatUint(e.Sequence, 10))
	}
	return strings.Join(parts, " ")
}

// GapRecords describes the records of a gap.
func GapRecords(g compliance.Gap) string {
	switch {
	case g.From == nil:
		return ""
	case g.To == nil:
		return fmt.Sprintf("from %d", *g.From)
	}
	return RangeText(report.Range{From: *g.From, To: *g.To})
}

// GapTime describes the time span of a gap.
func GapTime(g compliance.Gap) string {
	switch {
	case g.Start.IsZero():
		return ""
	case g.End.IsZero() || g.End.Equal(g.Start):
		return audit.FormatTime(g.Start)[:19] + "Z"
	}
	return audit.FormatTime(g.Start)[:19] + "Z – " + audit.FormatTime(g.End)[:19] + "Z"
}

// Body is every section a human format shows after the summary: the
// compliance assessment's, then the report's own.
func Body(r *report.Report) []report.Section {
	return append(ComplianceSections(r.Compliance), r.Sections...)
}
