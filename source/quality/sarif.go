package quality

import (
	"fmt"
	"os"
	"strings"

	"github.com/owenrumney/go-sarif/v3/pkg/report/v210/sarif"
)

// SARIFResult is what one SARIF file held.
type SARIFResult struct {
	Violations []Violation
	Drivers    map[string]string // tool (sarif:<driver>) → version
	Suppressed int               // results the producer marked suppressed
}

// ReadSARIF reads a SARIF 2.1.0 file. Each result becomes a violation of
// tool "sarif:<driver name>" and rule "sarif:<driver>:<ruleId>"; its level
// (or its rule's default level, or "warning") gives the severity. Results
// the producer suppressed are counted, not returned. Locations are made
// relative to root; a result without one is about the repository.
func ReadSARIF(file, root string) (*SARIFResult, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("SARIF: %w", err)
	}
	return parseSARIF(b, file, root)
}

func parseSARIF(b []byte, file, root string) (*SARIFResult, error) {
	rep, err := sarif.FromBytes(b)
	if err != nil {
		return nil, fmt.Errorf("SARIF %s: %w (is it a SARIF 2.1.0 log?)", file, err)
	}
	if rep.Version != "" && rep.Version != "2.1.0" {
		return nil, fmt.Errorf("SARIF %s: version %q, want 2.1.0", file, rep.Version)
	}
	out := &SARIFResult{Drivers: map[string]string{}}
	for ri, run := range rep.Runs {
		if run == nil {
			continue
		}
		driver := "unknown"
		version := ""
		rules := map[string]*sarif.ReportingDescriptor{}
		var ruleList []*sarif.ReportingDescriptor
		if run.Tool != nil && run.Tool.Driver != nil {
			d := run.Tool.Driver
			if d.Name != nil && *d.Name != "" {
				driver = *d.Name
			}
			switch {
			case d.Version != nil:
				version = *d.Version
			case d.SemanticVersion != nil:
				version = *d.SemanticVersion
			}
			ruleList = d.Rules
			for _, r := range d.Rules {
				if r != nil {
					if r.ID != nil {
						rules[*r.ID] = r
					}
				}
			}
		}
		tool := sarifPrefix + driver
		out.Drivers[tool] = version
		for i, res := range run.Results {
			if res == nil {
				continue
			}
			if len(res.Suppressions) > 0 {
				out.Suppressed++
				continue
			}
			ruleID := ""
			switch {
			case res.RuleID != nil:
				ruleID = *res.RuleID
			case res.Rule != nil && res.Rule.ID != nil:
				ruleID = *res.Rule.ID
			case res.RuleIndex >= 0 && res.RuleIndex < len(ruleList) && ruleList[res.RuleIndex] != nil:
				ruleID = deref(ruleList[res.RuleIndex].ID)
			}
			if ruleID == "" {
				return nil, fmt.Errorf("SARIF %s: run %d, result %d has no ruleId", file, ri, i)
			}
			level := res.Level
			if level == "" {
				if r := rules[ruleID]; r != nil && r.DefaultConfiguration != nil && r.DefaultConfiguration.Level != "" {
					level = r.DefaultConfiguration.Level
				} else {
					level = "warning"
				}
			}
			v := Violation{Tool: tool, ToolVersion: version, Rule: tool + ":" + ruleID, Severity: levelSeverity(level),
				Extra: map[string]any{"sarif_file": file, "sarif_level": level}}
			if res.Message != nil && res.Message.Text != nil {
				v.Message = *res.Message.Text
			} else if r := rules[ruleID]; r != nil && r.ShortDescription != nil && r.ShortDescription.Text != nil {
				v.Message = *r.ShortDescription.Text
			}
			if len(res.Locations) > 0 && res.Locations[0] != nil && res.Locations[0].PhysicalLocation != nil {
				pl := res.Locations[0].PhysicalLocation
				if pl.ArtifactLocation != nil && pl.ArtifactLocation.URI != nil {
					v.File = relPath(root, root, strings.TrimPrefix(*pl.ArtifactLocation.URI, "file://"))
				}
				if rg := pl.Region; rg != nil {
					if rg.StartLine != nil {
						v.Line = *rg.StartLine
					}
					if rg.StartColumn != nil {
						v.Column = *rg.StartColumn
					}
					if rg.Snippet != nil && rg.Snippet.Text != nil && !strings.Contains(strings.TrimRight(*rg.Snippet.Text, "\n"), "\n") {
						v.Text = strings.TrimRight(*rg.Snippet.Text, "\r\n")
					}
				}
			}
			out.Violations = append(out.Violations, v)
		}
	}
	return out, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
