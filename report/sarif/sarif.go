// Package sarif writes the findings of a report (report.Report.Findings,
// finding records made by package analyzer) as SARIF 2.1.0, the format
// the code-scanning views of GitHub and GitLab read. The document is built
// with github.com/owenrumney/go-sarif; the package's tests validate it
// against the official SARIF 2.1.0 JSON schema.
//
// One run, tool "ami-audit". Each finding record is one result:
//
//   - ruleId: the evidence's rule (a gitleaks rule, "gosec:G101", an
//     advisory id), else the finding type; one rule per id in the driver,
//     with the highest severity seen as GitHub's "security-severity";
//   - level: error for critical and error, warning for warning, note below;
//   - message: the description and, when given, the recommendation;
//   - location: the evidence's file (relative to the repository root,
//     uriBaseId %SRCROOT%) and line, else the record's target;
//   - partialFingerprints: amiAuditFindingKey/v1, a SHA-256 of the finding
//     key, so a viewer tracks a finding across runs as the trail does;
//   - properties: analyzer, check, severity, commit, record_id.
//
// A report without findings gives a valid document with no results.
package sarif

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"strconv"

	"github.com/owenrumney/go-sarif/v3/pkg/report/v210/sarif"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/analyzer"
	"github.com/ami-orchestrator/ami-audit/report"
)

// InformationURI is the tool's home page in every document.
const InformationURI = "https://github.com/ami-orchestrator/ami-audit"

// FingerprintKey names the partial fingerprint of every result.
const FingerprintKey = "amiAuditFindingKey/v1"

// Formatter writes SARIF 2.1.0.
type Formatter struct{}

// New returns the SARIF formatter.
func New() Formatter { return Formatter{} }

// Level is the SARIF level of a severity.
func Level(s audit.Severity) string {
	switch s {
	case audit.SeverityCritical, audit.SeverityError:
		return "error"
	case audit.SeverityWarning:
		return "warning"
	}
	return "note"
}

// SecuritySeverity is the score GitHub's code scanning reads from a rule's
// "security-severity" property: over 9.0 is critical, 7.0 high, 4.0
// medium, below that low.
func SecuritySeverity(s audit.Severity) float64 {
	switch s {
	case audit.SeverityCritical:
		return 9.5
	case audit.SeverityError:
		return 8.0
	case audit.SeverityWarning:
		return 5.5
	case audit.SeverityInfo:
		return 2.0
	}
	return 0.0
}

// Format writes r's findings to w as one indented SARIF 2.1.0 document.
func (Formatter) Format(w io.Writer, r *report.Report) error {
	doc, err := Build(r.Findings)
	if err != nil {
		return err
	}
	if err := doc.PrettyWrite(w); err != nil {
		return fmt.Errorf("sarif report: %w", err)
	}
	_, err = io.WriteString(w, "\n")
	return err
}

// Build makes the SARIF document of finding records.
func Build(findings []*audit.Record) (*sarif.Report, error) {
	doc := sarif.NewReport()
	run := sarif.NewRunWithInformationURI("ami-audit", InformationURI)
	run.WithOriginalUriBaseIds(map[string]sarif.ArtifactLocation{
		"%SRCROOT%": *sarif.NewArtifactLocation().WithDescription(sarif.NewTextMessage("the root of the audited repository")),
	})
	worst := map[string]audit.Severity{}
	for _, rec := range findings {
		if len(rec.Findings) == 0 {
			return nil, fmt.Errorf("sarif report: record %s holds no finding", rec.RecordID)
		}
		f := rec.Findings[0]
		ruleID, _ := rec.Context[analyzer.EvidenceRule].(string)
		if ruleID == "" {
			ruleID = f.FindingType
		}
		rule := run.AddRule(ruleID)
		if rule.ShortDescription == nil {
			rule.WithShortDescription(sarif.NewMultiformatMessageString().WithText(f.FindingType))
			if f.Recommendation != "" {
				rule.WithHelp(sarif.NewMultiformatMessageString().WithText(f.Recommendation))
			}
		}
		if old, ok := worst[ruleID]; !ok || rec.Severity.Rank() > old.Rank() {
			worst[ruleID] = rec.Severity
			rule.WithProperties(sarif.NewPropertyBag().
				Add("security-severity", strconv.FormatFloat(SecuritySeverity(rec.Severity), 'f', 1, 64)).
				WithTags([]string{f.FindingType}))
		}

		msg := f.Description
		if msg == "" {
			msg = f.FindingType
		}
		if f.Recommendation != "" {
			msg += " " + f.Recommendation
		}
		res := run.CreateResultForRule(ruleID).
			WithLevel(Level(rec.Severity)).
			WithMessage(sarif.NewTextMessage(msg))

		file, _ := rec.Context[analyzer.EvidenceFile].(string)
		if file == "" {
			file = rec.Target
		}
		phys := sarif.NewPhysicalLocation().
			WithArtifactLocation(sarif.NewArtifactLocation().WithURI(file).WithURIBaseID("%SRCROOT%"))
		if line := analyzer.IntMember(rec.Context, analyzer.EvidenceLine); line > 0 {
			region := sarif.NewRegion().WithStartLine(line)
			if col := analyzer.IntMember(rec.Context, analyzer.EvidenceColumn); col > 0 {
				region.WithStartColumn(col)
			}
			phys.WithRegion(region)
		}
		res.AddLocation(sarif.NewLocationWithPhysicalLocation(phys))

		key, _ := rec.Context[analyzer.MemberKey].(string)
		if key == "" {
			key = rec.RecordID
		}
		sum := sha256.Sum256([]byte(key))
		res.WithPartialFingerprints(map[string]string{FingerprintKey: hex.EncodeToString(sum[:])})

		props := sarif.NewPropertyBag().Add("severity", string(rec.Severity)).Add("record_id", rec.RecordID)
		for _, m := range []string{analyzer.MemberAnalyzer, analyzer.MemberCheck, analyzer.EvidenceCommit} {
			if v, ok := rec.Context[m].(string); ok && v != "" {
				props.Add(m, v)
			}
		}
		res.WithProperties(props)
	}
	doc.AddRun(run)
	return doc, nil
}
