// Package reporttest holds the fixed report every format's golden test
// renders, and the golden-file helper (go test -update rewrites them).
package reporttest

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/santhosh-tekuri/jsonschema/v6"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/compliance"
	"github.com/ami-orchestrator/ami-audit/report"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// Sample is a report exercising every part of the model, with the text a
// hostile repository can put in a report: markup, pipes, commas, quotes,
// newlines, control characters, spreadsheet formulas and wide characters.
func Sample() *report.Report {
	ts := time.Date(2024, 3, 15, 10, 30, 0, 0, time.UTC)
	rec := func(seq uint64, actor, action, target string, tt audit.TargetType, sev audit.Severity) *audit.Record {
		r := &audit.Record{
			RecordID:   "01900000-0000-7000-8000-00000000000" + string(rune('0'+seq)),
			Sequence:   seq,
			Timestamp:  ts.Add(time.Duration(seq) * time.Minute),
			Actor:      actor,
			Action:     action,
			Target:     target,
			TargetType: tt,
			Source:     "git_source",
			Severity:   sev,
			Context:    map[string]any{"lines_added": 12, "message": "fix | <b>bold</b>"},
		}
		r.Normalize()
		r.RecordHash = "ab12"
		r.PreviousHash = audit.GenesisHash
		return r
	}
	return &report.Report{
		Title:     "Repository audit: ami <orchestrator> & co",
		Generated: time.Date(2024, 3, 15, 12, 0, 0, 0, time.UTC),
		Integrity: &report.Integrity{
			Origin: "example.org/<repo>", LogID: "0123456789abcdef", Store: "sqlite:.audit/audit.db",
			TreeSize: 1234, Root: "qkOYxsoCPBZv0SfzVcSQEuRtis+aEWUmnp143CWvz2A=",
			Checkpoint:     "example.org/<repo>\n1234\nqkOYxsoCPBZv0SfzVcSQEuRtis+aEWUmnp143CWvz2A=\n\n— example.org/<repo> AAAA\n",
			CheckpointSize: 1234, KeyFingerprint: "example.org/<repo>+1a2b3c4d", Signed: true,
			Range: report.Range{From: 1000, To: 1234}, Verified: true, VerifiedAt: time.Date(2024, 3, 15, 12, 0, 0, 0, time.UTC),
			Result: "records 1000..1233: hashes and links intact, the last included in the signed tree head of 1234 records",
		},
		Compliance: sampleAssessment(),
		Summary: []report.Item{
			{Label: "Records", Value: "1234"},
			{Label: "Sources", Value: "git, file"},
			{Label: "Duration", Value: "1.5s"},
			{Label: "Errors", Value: "0"},
		},
		Sections: []report.Section{
			{
				Title:   "Authors",
				Text:    "Commits per author, most active first.",
				Columns: []string{"author", "commits", "lines added", "lines removed"},
				Rows: [][]string{
					{"Alice <alice@example.com>", "120", "4500", "1200"},
					{"Bob | the builder", "75", "1,300", "-"},
					{"Zoë 李", "3", "10", "2"},
					{"<script>alert(1)</script>", "1", "1", "0"},
				},
			},
			{
				Title:   "Files",
				Columns: []string{"path", "severity", "note"},
				Rows: [][]string{
					{"src/app.py", "warning", "large, \"binary\"\nsecond line"},
					{"=HYPERLINK(\"http://x\")", "critical", "formula"},
					{"docs/read_me_now.md", "info", "esc\x1b[31mred"},
					{"short row"},
				},
			},
			{
				Title: "Commits per month",
				Chart: &report.Chart{
					Kind:   report.ChartBar,
					Labels: []string{"2024-01", "2024-02", "2024-03"},
					Values: []float64{40, 100, 12.5},
					Unit:   "commits",
				},
			},
			{
				Title: "Records per day",
				Text:  "A line chart.",
				Chart: &report.Chart{
					Kind:   report.ChartLine,
					Labels: []string{"03-13", "03-14", "03-15", "03-16"},
					Values: []float64{3, 7, 2, 9},
				},
			},
			{
				Title:   "Empty table",
				Columns: []string{"a", "b"},
			},
		},
		Records: []*audit.Record{
			rec(1, "alice", "git_commit", "src/app.py", audit.TargetGit, audit.SeverityInfo),
			rec(2, "bob", "file_hash", "docs/a|b.md", audit.TargetFile, audit.SeverityWarning),
		},
		Findings: []*audit.Record{
			finding(3, "src/config.py", audit.SeverityCritical, "secret", map[string]any{
				"file": "src/config.py", "line": 12, "rule": "aws-access-token", "commit": "0123456789abcdef0123456789abcdef01234567",
			}, "AWS access key in src/config.py <redacted>", "Revoke the key, then remove it from the history."),
			finding(4, "web", audit.SeverityWarning, "vulnerable_dependency", map[string]any{
				"file": "web/package-lock.json", "rule": "GHSA-35jh-r3h4-6jhm",
			}, "lodash 4.17.15 \"quoted\", | piped", ""),
		},
		Warnings: []string{"file secret.key: permission denied", "submodule <lib>: not checked out"},
	}
}

// sampleAssessment is a small assessment: two frameworks, controls of
// every status, a gap and a violation, with hostile text.
func sampleAssessment() *compliance.Assessment {
	ts := time.Date(2024, 3, 15, 11, 0, 0, 0, time.UTC)
	ev := func(seq uint64, action, target string) compliance.Evidence {
		return compliance.Evidence{Sequence: seq, RecordID: "01900000-0000-7000-8000-00000000000" + string(rune('0'+seq)),
			Timestamp: ts, Action: action, Target: target, Source: "git_source", Severity: audit.SeverityInfo}
	}
	from, to := uint64(3), uint64(5)
	return &compliance.Assessment{
		Until: time.Date(2024, 3, 15, 12, 0, 0, 0, time.UTC), Records: 1234,
		Totals: compliance.Totals{Controls: 4, Present: 1, Partial: 1, Missing: 1, Failed: 1},
		Frameworks: []compliance.FrameworkResult{
			{ID: "iso27001", Framework: "ISO/IEC 27001", Edition: "2022", Title: "ISO/IEC 27001:2022 Annex A",
				Totals: compliance.Totals{Controls: 2, Present: 1, Partial: 1},
				Controls: []compliance.ControlResult{
					{ID: "A.8.15", Title: "Logging", Description: "Logs <are> kept.", Features: []string{"audit trail"}, Replaces: []string{"A.12.4.1"}, Status: compliance.Present,
						Evidence: []compliance.RequirementResult{{Text: "events are recorded", Kind: "records", Status: compliance.Present, Detail: "2 records", Count: 2,
							Records: []compliance.Evidence{ev(2, "file_hash", "docs/a|b.md"), ev(1, "git_commit", "src/app.py")}}}},
					{ID: "A.8.16", Title: "Monitoring activities", Description: "Watched.", Status: compliance.Partial,
						Evidence: []compliance.RequirementResult{
							{Text: "services are monitored", Kind: "records", Status: compliance.Present, Detail: "1 record", Count: 1, Records: []compliance.Evidence{ev(1, "service_state", "svc/api")}},
							{Text: "runs on schedule", Kind: "integrity:schedule", Status: compliance.Partial, Detail: "1 gap", Gaps: []string{"schedule|daily|1710460800"}}}},
				}},
			{ID: "nist-800-53", Framework: "NIST SP 800-53", Edition: "Rev. 5", Title: "NIST SP 800-53 Rev. 5",
				Totals: compliance.Totals{Controls: 2, Missing: 1, Failed: 1},
				Controls: []compliance.ControlResult{
					{ID: "AU-10", Title: "Non-repudiation", Description: "Signed.", Status: compliance.Missing,
						Evidence: []compliance.RequirementResult{{Text: "records carry a trusted signature", Kind: "integrity:signatures", Status: compliance.Missing, Detail: "none of the 4 records has 1 trusted signer"}}},
					{ID: "RA-5", Title: "Vulnerability Monitoring and Scanning", Description: "Scanned.", Status: compliance.Failed,
						Evidence: []compliance.RequirementResult{{Text: "no open critical finding", Kind: "analyzer:security", Status: compliance.Failed, Detail: "1 open finding reaches critical",
							Records: []compliance.Evidence{ev(3, "security_finding", "src/config.py")}}}},
				}},
		},
		Gaps: []compliance.Gap{{Key: "schedule|daily|1710460800", Kind: compliance.GapSchedule, Severity: audit.SeverityWarning,
			Title: "job daily: 3 scheduled runs without a record, from 2024-03-10", Detail: "the scheduler <was> stopped",
			From: &from, To: &to, Start: time.Date(2024, 3, 10, 0, 0, 0, 0, time.UTC), End: time.Date(2024, 3, 12, 0, 0, 0, 0, time.UTC), Count: 3}},
		Violations: []compliance.Violation{{Framework: "nist-800-53", Control: "RA-5", Analyzer: "security", Severity: audit.SeverityCritical,
			Target: "src/config.py", Finding: "AWS access key in src/config.py", Record: ev(3, "security_finding", "src/config.py")}},
	}
}

// finding is a finding record as package analyzer makes it.
func finding(seq uint64, target string, sev audit.Severity, typ string, evidence map[string]any, desc, rec string) *audit.Record {
	ctx := map[string]any{"finding_key": typ + "|" + target, "check": typ, "analyzer": "security", "finding_digest": "00"}
	for k, v := range evidence {
		ctx[k] = v
	}
	r := &audit.Record{
		RecordID:   "01900000-0000-7000-8000-00000000000" + string(rune('0'+seq)),
		Sequence:   seq,
		Timestamp:  time.Date(2024, 3, 15, 11, 0, 0, 0, time.UTC),
		Actor:      "system",
		Action:     "security_finding",
		Target:     target,
		TargetType: audit.TargetFile,
		Source:     "security_analyzer",
		Severity:   sev,
		Context:    ctx,
		Findings: []audit.Finding{{
			FindingID: "01900000-0000-7000-8000-0000000000f" + string(rune('0'+seq)), FindingType: typ, Severity: sev,
			Description: desc, Recommendation: rec,
		}},
	}
	r.Normalize()
	r.RecordHash = "cd34"
	r.PreviousHash = "ab12"
	return r
}

// Golden compares got with testdata/name, or rewrites it with -update.
func Golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (-want +got):\n%s", path, cmp.Diff(string(want), string(got)))
	}
}

// Schema compiles the JSON Schema doc, formats asserted (name is the
// resource name its references resolve against).
func Schema(t testing.TB, name string, doc []byte) *jsonschema.Schema {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource(name, v); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile(name)
	if err != nil {
		t.Fatal(err)
	}
	return sch
}

// Validate checks the JSON document b against sch.
func Validate(sch *jsonschema.Schema, b []byte) error {
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		return err
	}
	return sch.Validate(v)
}
