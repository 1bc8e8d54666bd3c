package quality

import (
	"path"
	"regexp"
	"strings"

	audit "github.com/ami-orchestrator/ami-audit"
)

// suppression is one comment that silences a checker. The commit gate
// forbids them, so each is a violation of rule "suppression:<name>".
type suppression struct {
	name string
	re   *regexp.Regexp
	exts []string
}

var pyExts = []string{".py", ".pyi"}
var jsExts = []string{".js", ".jsx", ".mjs", ".cjs", ".ts", ".tsx", ".vue"}

// suppressions are checked in this order; a line counts once for the
// first that matches ("# ruff: noqa" is ruff-noqa, not noqa).
var suppressions = []suppression{
	{"ruff-noqa", regexp.MustCompile(`#\s*ruff\s*:\s*noqa`), pyExts},
	{"noqa", regexp.MustCompile(`(?i)#\s*noqa\b`), pyExts},
	{"type-ignore", regexp.MustCompile(`#\s*type:\s*ignore`), pyExts},
	{"pylint-disable", regexp.MustCompile(`#\s*pylint:\s*disable`), pyExts},
	{"mypy-ignore-errors", regexp.MustCompile(`#\s*mypy:\s*ignore-errors`), pyExts},
	{"fmt-off", regexp.MustCompile(`#\s*fmt:\s*off`), pyExts},
	{"pragma-no-cover", regexp.MustCompile(`#\s*pragma:\s*no\s*cover`), pyExts},
	{"nolint", regexp.MustCompile(`//\s*nolint\b`), []string{".go"}},
	{"nosec", regexp.MustCompile(`(?:#|//)\s*nosec\b`), []string{".go", ".py"}},
	{"eslint-disable", regexp.MustCompile(`eslint-disable`), jsExts},
	{"ts-ignore", regexp.MustCompile(`@ts-(?:ignore|nocheck)`), jsExts},
}

// suppressionMarkers are the literals one of which every suppression
// holds, to skip files quickly.
var suppressionMarkers = []string{"noqa", "type:", "pylint", "mypy:", "fmt:", "pragma", "nolint", "nosec", "eslint-disable", "@ts-"}

// findSuppressions returns the suppression comments of one file.
func findSuppressions(rel string, content []byte) []Violation {
	ext := path.Ext(rel)
	var kinds []suppression
	for _, s := range suppressions {
		for _, e := range s.exts {
			if e == ext {
				kinds = append(kinds, s)
				break
			}
		}
	}
	if len(kinds) == 0 {
		return nil
	}
	text := string(content)
	found := false
	for _, m := range suppressionMarkers {
		if strings.Contains(text, m) {
			found = true
			break
		}
	}
	if !found {
		return nil
	}
	var out []Violation
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSuffix(line, "\r")
		for _, s := range kinds {
			loc := s.re.FindStringIndex(line)
			if loc == nil {
				continue
			}
			out = append(out, Violation{Tool: ToolSuppression, Rule: ToolSuppression + ":" + s.name,
				Severity: audit.SeverityWarning, Message: "checker suppressed by a comment (" + strings.TrimSpace(line[loc[0]:]) + ")",
				File: rel, Line: i + 1, Column: len([]rune(line[:loc[0]])) + 1, Text: line})
			break
		}
	}
	return out
}
