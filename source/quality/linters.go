package quality

import (
	"bytes"
	"context"
	"debug/buildinfo"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	audit "github.com/ami-orchestrator/ami-audit"
)

// Linter runs one tool through its machine-readable output.
type Linter struct {
	// Name is the tool name ("ruff").
	Name string
	// Program is the executable looked up in PATH (and in the tree's
	// node_modules/.bin for JavaScript tools).
	Program string
	// Applies reports whether the tree is configured for the tool.
	Applies func(t *Tree) bool
	// Check runs the tool and parses its output.
	Check func(ctx context.Context, r *linterRun) ([]Violation, error)
	// Fix, when set, runs the tool's own fix mode.
	Fix func(ctx context.Context, r *linterRun) error
	// FixExts are the file extensions its fix mode may change.
	FixExts []string
	// Version parses the tool's version output.
	Version func(ctx context.Context, r *linterRun) string
}

// Tree is what the walk learned about the tree, for Linter.Applies.
type Tree struct {
	Root, Base string          // absolute
	Exts       map[string]int  // files per extension under Base
	has        map[string]bool // config files found (by name, at Root or Base)
}

// Has reports whether one of the named files exists at the base or the
// root of the tree.
func (t *Tree) Has(names ...string) bool {
	for _, n := range names {
		if t.has[n] {
			return true
		}
		for _, d := range []string{t.Base, t.Root} {
			if fi, err := os.Stat(filepath.Join(d, n)); err == nil && !fi.IsDir() {
				if t.has == nil {
					t.has = map[string]bool{}
				}
				t.has[n] = true
				return true
			}
		}
	}
	return false
}

// fileMentions reports whether a file at the base or root holds s.
func (t *Tree) fileMentions(name, s string) bool {
	for _, d := range []string{t.Base, t.Root} {
		if b, err := os.ReadFile(filepath.Join(d, name)); err == nil && bytes.Contains(b, []byte(s)) {
			return true
		}
	}
	return false
}

// linterRun is one run of a linter.
type linterRun struct {
	prog    string // resolved executable
	root    string
	dir     string // working directory
	target  string // what to check, relative to dir ("." usually)
	timeout time.Duration
	version string
}

// exec runs the tool; ok lists the exit codes that mean "ran" (0 always).
func (r *linterRun) exec(ctx context.Context, ok []int, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, r.prog, args...)
	cmd.Dir = r.dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		for _, c := range ok {
			if ee.ExitCode() == c {
				return stdout.Bytes(), nil
			}
		}
	}
	if err != nil {
		if ctx.Err() == context.DeadlineExceeded {
			return nil, fmt.Errorf("%s timed out after %s", filepath.Base(r.prog), r.timeout)
		}
		msg := strings.TrimSpace(stderr.String())
		if len(msg) > 300 {
			msg = msg[:300] + "…"
		}
		return nil, fmt.Errorf("%s %s: %v: %s", filepath.Base(r.prog), strings.Join(args, " "), err, msg)
	}
	return stdout.Bytes(), nil
}

var versionRE = regexp.MustCompile(`\d+\.\d+(?:\.\d+)?(?:[-+.][0-9A-Za-z.-]+)?`)

// firstVersion runs the program with args and returns the first version
// number it prints.
func firstVersion(args ...string) func(ctx context.Context, r *linterRun) string {
	return func(ctx context.Context, r *linterRun) string {
		out, err := r.exec(ctx, nil, args...)
		if v := versionRE.FindString(string(out)); err == nil && v != "" {
			return v
		}
		// A Go tool built with go install says "dev"; its build
		// information holds the module version.
		if bi, err := buildinfo.ReadFile(r.prog); err == nil && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			return strings.TrimPrefix(bi.Main.Version, "v")
		}
		return ""
	}
}

// Linters are the tools the quality source knows, in the order they run.
func Linters() []*Linter {
	return []*Linter{ruffLinter(), mypyLinter(), gosecLinter(), golangciLinter(), eslintLinter()}
}

func hasPython(t *Tree) bool { return t.Exts[".py"]+t.Exts[".pyi"] > 0 }
func hasGo(t *Tree) bool     { return t.Exts[".go"] > 0 && t.Has("go.mod") }

func ruffLinter() *Linter {
	return &Linter{
		Name: ToolRuff, Program: "ruff",
		// ruff's defaults are a configuration: any Python tree.
		Applies: func(t *Tree) bool { return hasPython(t) || t.Has("ruff.toml", ".ruff.toml") },
		Version: firstVersion("--version"),
		Check: func(ctx context.Context, r *linterRun) ([]Violation, error) {
			out, err := r.exec(ctx, nil, "check", "--output-format=json", "--exit-zero", "--no-cache", "--extend-select", "S", r.target)
			if err != nil {
				return nil, err
			}
			return parseRuff(out, r.root, r.dir, r.version)
		},
		Fix: func(ctx context.Context, r *linterRun) error {
			_, err := r.exec(ctx, nil, "check", "--fix", "--exit-zero", "--no-cache", r.target)
			return err
		},
		FixExts: []string{".py", ".pyi"},
	}
}

type ruffItem struct {
	Code     *string `json:"code"`
	Message  string  `json:"message"`
	Filename string  `json:"filename"`
	Location *struct {
		Row    int `json:"row"`
		Column int `json:"column"`
	} `json:"location"`
	URL string `json:"url"`
}

// parseRuff reads `ruff check --output-format=json`.
func parseRuff(out []byte, root, dir, version string) ([]Violation, error) {
	var items []ruffItem
	if err := json.Unmarshal(out, &items); err != nil {
		return nil, fmt.Errorf("ruff JSON output: %w", err)
	}
	vs := make([]Violation, 0, len(items))
	for _, it := range items {
		code := "syntax-error"
		if it.Code != nil && *it.Code != "" {
			code = *it.Code
		}
		sev := audit.SeverityWarning
		if strings.HasPrefix(code, "S") || strings.HasPrefix(code, "F") || strings.HasPrefix(code, "E9") || code == "syntax-error" {
			sev = audit.SeverityError
		}
		v := Violation{Tool: ToolRuff, ToolVersion: version, Rule: ToolRuff + ":" + code, Severity: sev,
			Message: it.Message, File: relPath(root, dir, it.Filename)}
		if it.Location != nil {
			v.Line, v.Column = it.Location.Row, it.Location.Column
		}
		if strings.HasPrefix(code, "S") {
			v.Extra = map[string]any{"category": "security", "bandit": true}
		}
		vs = append(vs, v)
	}
	return vs, nil
}

func mypyLinter() *Linter {
	return &Linter{
		Name: ToolMypy, Program: "mypy",
		Applies: func(t *Tree) bool {
			return hasPython(t) && (t.Has("mypy.ini", ".mypy.ini") || t.fileMentions("pyproject.toml", "[tool.mypy") || t.fileMentions("setup.cfg", "[mypy"))
		},
		Version: firstVersion("--version"),
		Check: func(ctx context.Context, r *linterRun) ([]Violation, error) {
			if !versionAtLeast(r.version, 1, 11) {
				return nil, &notRunError{fmt.Sprintf("mypy %s has no JSON output (needs 1.11 or newer)", r.version)}
			}
			out, err := r.exec(ctx, []int{1}, "-O", "json", "--no-error-summary", r.target)
			if err != nil {
				return nil, err
			}
			return parseMypy(out, r.root, r.dir, r.version)
		},
	}
}

// notRunError says a tool was found but cannot be used; the run reports it
// as "not run: …", not as a failure.
type notRunError struct{ why string }

func (e *notRunError) Error() string { return e.why }

func versionAtLeast(v string, major, minor int) bool {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return false
	}
	ma, err1 := strconv.Atoi(parts[0])
	mi, err2 := strconv.Atoi(strings.TrimRightFunc(parts[1], func(r rune) bool { return r < '0' || r > '9' }))
	if err1 != nil || err2 != nil {
		return false
	}
	return ma > major || ma == major && mi >= minor
}

// parseMypy reads `mypy -O json`: one JSON object per line.
func parseMypy(out []byte, root, dir, version string) ([]Violation, error) {
	var vs []Violation
	for i, line := range bytes.Split(out, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		var it struct {
			File     string  `json:"file"`
			Line     int     `json:"line"`
			Column   int     `json:"column"`
			Message  string  `json:"message"`
			Hint     *string `json:"hint"`
			Code     *string `json:"code"`
			Severity string  `json:"severity"`
		}
		if err := json.Unmarshal(line, &it); err != nil {
			return nil, fmt.Errorf("mypy JSON output, line %d: %w", i+1, err)
		}
		code := "misc"
		if it.Code != nil && *it.Code != "" {
			code = *it.Code
		}
		msg := it.Message
		if it.Hint != nil && *it.Hint != "" {
			msg += " (" + *it.Hint + ")"
		}
		col := it.Column
		if col >= 0 {
			col++ // mypy's columns are 0-based
		}
		vs = append(vs, Violation{Tool: ToolMypy, ToolVersion: version, Rule: ToolMypy + ":" + code,
			Severity: levelSeverity(it.Severity), Message: msg, File: relPath(root, dir, it.File), Line: max(it.Line, 0), Column: max(col, 0)})
	}
	return vs, nil
}

func gosecLinter() *Linter {
	return &Linter{
		Name: ToolGosec, Program: "gosec",
		Applies: hasGo,
		Version: firstVersion("-version"),
		Check: func(ctx context.Context, r *linterRun) ([]Violation, error) {
			out, err := r.exec(ctx, nil, "-fmt=json", "-quiet", "-no-fail", "./...")
			if err != nil {
				return nil, err
			}
			return parseGosec(out, r.root, r.dir, r.version)
		},
	}
}

// parseGosec reads `gosec -fmt=json`.
func parseGosec(out []byte, root, dir, version string) ([]Violation, error) {
	var doc struct {
		Issues []struct {
			Severity   string `json:"severity"`
			Confidence string `json:"confidence"`
			CWE        *struct {
				ID string `json:"id"`
			} `json:"cwe"`
			RuleID  string `json:"rule_id"`
			Details string `json:"details"`
			File    string `json:"file"`
			Code    string `json:"code"`
			Line    string `json:"line"`
			Column  string `json:"column"`
		} `json:"Issues"`
		GosecVersion string `json:"GosecVersion"`
	}
	if len(bytes.TrimSpace(out)) == 0 {
		return nil, nil
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		return nil, fmt.Errorf("gosec JSON output: %w", err)
	}
	if version == "" && doc.GosecVersion != "dev" {
		version = doc.GosecVersion
	}
	vs := make([]Violation, 0, len(doc.Issues))
	for _, it := range doc.Issues {
		line, _ := strconv.Atoi(strings.SplitN(it.Line, "-", 2)[0])
		col, _ := strconv.Atoi(it.Column)
		v := Violation{Tool: ToolGosec, ToolVersion: version, Rule: ToolGosec + ":" + it.RuleID,
			Severity: levelSeverity(it.Severity), Message: it.Details, File: relPath(root, dir, it.File), Line: line, Column: col,
			Extra: map[string]any{"category": "security", "confidence": strings.ToLower(it.Confidence)}}
		if it.CWE != nil && it.CWE.ID != "" {
			v.Extra["cwe"] = "CWE-" + it.CWE.ID
		}
		vs = append(vs, v)
	}
	return vs, nil
}

func golangciLinter() *Linter {
	l := &Linter{
		Name: ToolGolangciLint, Program: "golangci-lint",
		Applies: func(t *Tree) bool {
			return hasGo(t) && t.Has(".golangci.yml", ".golangci.yaml", ".golangci.toml", ".golangci.json")
		},
		Version: firstVersion("--version"),
		FixExts: []string{".go"},
	}
	args := func(r *linterRun) []string {
		if strings.HasPrefix(r.version, "1.") {
			return []string{"run", "--out-format=json", "--issues-exit-code=0", "./..."}
		}
		return []string{"run", "--output.json.path=stdout", "--output.text.path=", "--show-stats=false", "--issues-exit-code=0", "./..."}
	}
	l.Check = func(ctx context.Context, r *linterRun) ([]Violation, error) {
		out, err := r.exec(ctx, nil, args(r)...)
		if err != nil {
			return nil, err
		}
		return parseGolangci(out, r.root, r.dir, r.version)
	}
	l.Fix = func(ctx context.Context, r *linterRun) error {
		_, err := r.exec(ctx, nil, "run", "--fix", "--issues-exit-code=0", "./...")
		return err
	}
	return l
}

// parseGolangci reads golangci-lint's JSON output.
func parseGolangci(out []byte, root, dir, version string) ([]Violation, error) {
	var doc struct {
		Issues []struct {
			FromLinter  string   `json:"FromLinter"`
			Text        string   `json:"Text"`
			Severity    string   `json:"Severity"`
			SourceLines []string `json:"SourceLines"`
			Pos         struct {
				Filename string `json:"Filename"`
				Line     int    `json:"Line"`
				Column   int    `json:"Column"`
			} `json:"Pos"`
		} `json:"Issues"`
	}
	// The JSON object is the first line; text output may follow.
	out = bytes.TrimSpace(out)
	if i := bytes.IndexByte(out, '\n'); i > 0 && out[0] == '{' {
		if json.Valid(out[:i]) {
			out = out[:i]
		}
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		return nil, fmt.Errorf("golangci-lint JSON output: %w", err)
	}
	vs := make([]Violation, 0, len(doc.Issues))
	for _, it := range doc.Issues {
		v := Violation{Tool: ToolGolangciLint, ToolVersion: version, Rule: ToolGolangciLint + ":" + it.FromLinter,
			Severity: levelSeverity(it.Severity), Message: it.Text, File: relPath(root, dir, it.Pos.Filename), Line: it.Pos.Line, Column: it.Pos.Column}
		if len(it.SourceLines) == 1 {
			v.Text = it.SourceLines[0]
		}
		vs = append(vs, v)
	}
	return vs, nil
}

func eslintLinter() *Linter {
	return &Linter{
		Name: ToolESLint, Program: "eslint",
		Applies: func(t *Tree) bool {
			return t.Has("eslint.config.js", "eslint.config.mjs", "eslint.config.cjs", "eslint.config.ts",
				".eslintrc", ".eslintrc.js", ".eslintrc.cjs", ".eslintrc.json", ".eslintrc.yml", ".eslintrc.yaml")
		},
		Version: firstVersion("--version"),
		Check: func(ctx context.Context, r *linterRun) ([]Violation, error) {
			out, err := r.exec(ctx, []int{1}, "-f", "json", r.target)
			if err != nil {
				return nil, err
			}
			return parseESLint(out, r.root, r.dir, r.version)
		},
		Fix: func(ctx context.Context, r *linterRun) error {
			_, err := r.exec(ctx, []int{1}, "--fix", r.target)
			return err
		},
		FixExts: []string{".js", ".jsx", ".mjs", ".cjs", ".ts", ".tsx", ".vue"},
	}
}

// parseESLint reads `eslint -f json`.
func parseESLint(out []byte, root, dir, version string) ([]Violation, error) {
	var files []struct {
		FilePath string `json:"filePath"`
		Messages []struct {
			RuleID   *string `json:"ruleId"`
			Severity int     `json:"severity"`
			Message  string  `json:"message"`
			Line     int     `json:"line"`
			Column   int     `json:"column"`
		} `json:"messages"`
	}
	if err := json.Unmarshal(out, &files); err != nil {
		return nil, fmt.Errorf("eslint JSON output: %w", err)
	}
	var vs []Violation
	for _, f := range files {
		for _, m := range f.Messages {
			rule := "parse-error"
			if m.RuleID != nil && *m.RuleID != "" {
				rule = *m.RuleID
			}
			sev := audit.SeverityWarning
			if m.Severity >= 2 {
				sev = audit.SeverityError
			}
			vs = append(vs, Violation{Tool: ToolESLint, ToolVersion: version, Rule: ToolESLint + ":" + rule,
				Severity: sev, Message: m.Message, File: relPath(root, dir, f.FilePath), Line: m.Line, Column: m.Column})
		}
	}
	return vs, nil
}

// lookPath finds a tool in PATH, then in node_modules/.bin of the base and
// the root.
func lookPath(prog string, t *Tree, path func(string) (string, error)) (string, bool) {
	if p, err := path(prog); err == nil {
		return p, true
	}
	for _, d := range []string{t.Base, t.Root} {
		p := filepath.Join(d, "node_modules", ".bin", prog)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, true
		}
	}
	return "", false
}
