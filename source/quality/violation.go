package quality

import (
	"crypto/sha256"
	"encoding/hex"
	"path"
	"path/filepath"
	"strings"

	audit "github.com/ami-orchestrator/ami-audit"
)

// Tool names, as they appear in rules ("ruff:S608") and in the records'
// tool context member.
const (
	ToolBannedWords    = "banned-words"
	ToolBannedFilename = "banned-filename"
	ToolSuppression    = "suppression"
	ToolRuff           = "ruff"
	ToolMypy           = "mypy"
	ToolGosec          = "gosec"
	ToolGolangciLint   = "golangci-lint"
	ToolESLint         = "eslint"
	ToolAMIAgent       = "ami-agent"
	// SARIF results are tool "sarif:<driver>", rules "sarif:<driver>:<ruleId>".
	sarifPrefix = "sarif:"
)

// Violation is one broken rule found by one tool.
type Violation struct {
	Tool        string // "ruff", "banned-words", "sarif:CodeQL"
	ToolVersion string // when known
	Rule        string // "<tool>:<rule id>"
	Severity    audit.Severity
	Message     string
	File        string // relative to the repository root, slash-separated; "" when none
	Line        int    // 1-based, 0 when unknown
	Column      int    // 1-based, 0 when unknown
	Text        string // the line's text, when known
	// Extra is added to the record's context (pattern, engine, confidence …).
	Extra map[string]any
}

// normText is a line's text with its white space collapsed, so that a
// violation whose line is re-indented keeps its key.
func normText(s string) string { return strings.Join(strings.Fields(s), " ") }

// baseKey identifies a violation independently of its line number: the
// tool, the rule, the file and the normalised text of its line (the message
// when the text is unknown). Two identical violations in one file are told
// apart by their order (see keyer).
func (v *Violation) baseKey() string {
	text := v.Text
	if text == "" {
		text = "\x00msg\x00" + v.Message
	}
	h := sha256.New()
	for _, s := range []string{v.Tool, v.Rule, v.File, normText(text)} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	// "sha256:" keeps the value from looking like a credential to the
	// masking step (a bare hex string after a name ending in "key" does).
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// keyer numbers repeated base keys within one run: the first occurrence is
// the base key, the second "<key>.2", and so on.
type keyer map[string]int

func (k keyer) key(v *Violation) string {
	b := v.baseKey()
	k[b]++
	if n := k[b]; n > 1 {
		return b + "." + itoa(n)
	}
	return b
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}

// relPath turns a tool's file name (absolute, or relative to dir) into a
// path relative to root with forward slashes. A path outside root is kept
// absolute (slash-separated).
func relPath(root, dir, name string) string {
	if name == "" {
		return ""
	}
	name = strings.TrimPrefix(name, "file://")
	p := filepath.FromSlash(name)
	if !filepath.IsAbs(p) {
		p = filepath.Join(dir, p)
	}
	rel, err := filepath.Rel(root, p)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return filepath.ToSlash(p)
	}
	return path.Clean(filepath.ToSlash(rel))
}

// levelSeverity maps the level words tools use to severities.
func levelSeverity(level string) audit.Severity {
	switch strings.ToLower(strings.TrimSpace(level)) {
	case "critical", "blocker", "fatal":
		return audit.SeverityCritical
	case "error", "high", "err", "2":
		return audit.SeverityError
	case "warning", "warn", "medium", "1", "":
		return audit.SeverityWarning
	case "note", "info", "low", "information", "minor":
		return audit.SeverityInfo
	case "none", "debug", "hint":
		return audit.SeverityDebug
	}
	return audit.SeverityWarning
}
