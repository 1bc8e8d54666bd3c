package security

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/analyzer"
	"github.com/ami-orchestrator/ami-audit/source/quality"
)

// TypeInsecurePattern is the finding type of the patterns check.
const TypeInsecurePattern = "insecure_pattern"

// insecureRule matches the rules of security linters: ruff's S rules
// (flake8-bandit, bandit's checks), bandit's own B rules, and gosec's.
var insecureRule = regexp.MustCompile(`^(ruff:S[0-9]+|bandit:B[0-9]+|gosec:G[0-9]+)$`)

// IsInsecureRule reports whether a quality violation's rule is one of the
// insecure-code rules this check ingests.
func IsInsecureRule(rule string) bool { return insecureRule.MatchString(rule) }

// patterns turns the open insecure-code violations of the quality source
// into findings, read as package quality's record contract says: one
// violation per quality_violation record, rule "<tool>:<rule id>", and a
// violation is open when the newest quality-source record with its
// violation_key is a quality_violation (not a quality_violation_resolved).
func (a *Analyzer) patterns(ctx context.Context, in *audit.Analysis, report func(audit.Detected) error) ([]string, error) {
	report = reporter(report)
	newest := map[string]*audit.Record{}
	seen := false
	for r, err := range in.Trail.Query(ctx, audit.Filter{TargetType: audit.TargetQuality, Limit: -1}) {
		if err != nil {
			return nil, fmt.Errorf("read quality records: %w", err)
		}
		if r.Source != quality.SourceName {
			continue
		}
		seen = true
		key, _ := r.Context["violation_key"].(string)
		if key == "" {
			continue
		}
		if old, ok := newest[key]; !ok || r.Sequence > old.Sequence {
			newest[key] = r
		}
	}
	if !seen {
		return nil, errors.New("the trail holds no quality-source records; run the quality source (ami-audit quality, or repo --sources=quality) to check for insecure code patterns")
	}
	keys := make([]string, 0, len(newest))
	for k, r := range newest {
		if r.Action == quality.ActionViolation && len(r.Violations) > 0 && IsInsecureRule(r.Violations[0].Rule) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	a.count(func(s *Stats) { s.Violations = len(keys) })
	for _, k := range keys {
		r := newest[k]
		v := r.Violations[0]
		file := v.FilePath
		if file == "" {
			file = r.Target
		}
		tool, ruleID, _ := strings.Cut(v.Rule, ":")
		ev := map[string]any{
			analyzer.EvidenceFile: file, analyzer.EvidenceRule: v.Rule, "tool": tool, "rule_id": ruleID, "violation_key": k,
		}
		loc := file
		if v.LineNumber > 0 {
			ev[analyzer.EvidenceLine] = v.LineNumber
			loc = fmt.Sprintf("%s:%d", file, v.LineNumber)
		}
		if v.ColumnNumber > 0 {
			ev[analyzer.EvidenceColumn] = v.ColumnNumber
		}
		sev := v.Severity
		if !sev.Valid() {
			sev = audit.SeverityWarning
		}
		desc := v.Rule
		if v.Message != "" {
			desc += ": " + v.Message
		}
		if err := report(audit.Detected{
			Key: "pattern|" + k, Check: CheckPatterns, Target: file, TargetType: audit.TargetFile,
			Finding: audit.Finding{
				FindingType: TypeInsecurePattern, Severity: sev, Description: desc, Location: loc,
				Recommendation: "Fix the code, or record a reviewed exception in " + tool + "'s configuration.",
			},
			Evidence: ev, Records: []string{r.RecordID},
		}); err != nil {
			return nil, err
		}
	}
	return []string{CheckPatterns}, nil
}
