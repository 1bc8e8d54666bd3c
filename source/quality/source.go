// Package quality is the quality source (SPEC §6): code-quality violations
// of a tree, recorded incrementally.
//
// # What it checks
//
//   - AMI's banned words and banned file names (package banned), when the
//     repository has scripts/config/patterns/banned_words.yaml;
//   - suppression comments (# noqa, # type: ignore, //nolint,
//     eslint-disable, …), which AMI's commit gate forbids; files exempted by
//     code_check.yaml or exemptions.yaml are counted apart, not recorded;
//   - the linters that are installed and configured for the tree, through
//     their machine output: ruff (JSON; rule set S, bandit's rules, always
//     added), mypy (JSON, 1.11 or newer), gosec (JSON), golangci-lint
//     (JSON), eslint (JSON). A linter that applies but is absent is reported
//     "not run: not installed", never as clean;
//   - SARIF 2.1.0 files given in Config.SARIF, of any producer;
//   - ami-agent --audit reviews: its Markdown reports under docs/audit/ and
//     its JSON cache (.cache/audit/, logs/audit-cache/).
//
// # Records (a contract other packages rely on)
//
// Target type "quality", source "quality_source", actor Config.Actor.
//
//   - quality_violation: one record per violation, exactly one entry in
//     violations: rule "<tool>:<rule id>" ("ruff:S608", "mypy:arg-type",
//     "gosec:G101", "golangci-lint:errcheck", "banned-words:fallback",
//     "banned-filename:_old", "suppression:noqa",
//     "sarif:<driver>:<ruleId>", "ami-agent:<pattern id>"), severity mapped
//     from the tool's level (also the record's severity), file_path relative
//     to the repository root with forward slashes, line and column when
//     known. Target: the file path ("." when the violation has none).
//     Context: tool, tool_version (when known), rule, violation_key,
//     file, line, column, message, line_text (when known) and what the tool
//     adds (pattern and engine for banned words; confidence and cwe for
//     gosec; category "security" for ruff S and gosec rules).
//   - quality_violation_resolved: a violation recorded earlier is gone.
//     Target and context as the violation's, plus resolves: the record_id
//     of the quality_violation record. Severity info.
//   - quality_fix: a file a linter's fix mode changed: tool, tool_version,
//     sha256_before, sha256_after.
//   - quality_run: the run's summary (target: the checked path relative to
//     the root, "." for the root): counts per tool and rule, tools run with
//     their versions, tools not run with the reason ("not run: not
//     installed"), suppressions exempted, new, resolved and open counts,
//     duration_ms.
//
// violation_key is "sha256:" and the hex SHA-256 of the tool, the rule,
// the file and the whitespace-normalised text of the violation's line (the
// message when the text is unknown); a second identical violation in the
// same file gets ".2", and so on. It is computed before the masking step
// and has a form that step leaves alone, so a violation whose line holds a
// secret is still recognised on the next run. A violation that moves to another line
// keeps its key; editing its line makes it a new violation (and resolves
// the old one).
//
// # Incremental
//
// With Config.Trail, the source reads the quality records of the trail
// once (one query) and replays them: a key with a quality_violation and no
// later quality_violation_resolved is open. A run records a violation only
// when its key is not open, and resolves an open key that this run did not
// find, provided the tool that reported it ran in this run and its file is
// under the checked path (a linter that was not run, or a narrower run,
// resolves nothing). quality_run is recorded only when the run recorded or
// resolved something, or when its counts or tools differ from the last
// quality_run of the same target: a re-run on an unchanged tree appends
// nothing.
//
// # Secrets
//
// line_text and messages may hold secrets; they pass the masking step every
// source's records go through before they are built into the trail.
package quality

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"iter"
	"log/slog"
	"os"
	"os/exec"
	"os/user"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/source/exclude"
	"github.com/ami-orchestrator/ami-audit/source/quality/banned"
)

// Names the records carry.
const (
	SourceName      = "quality_source"
	ActionViolation = "quality_violation"
	ActionResolved  = "quality_violation_resolved"
	ActionRun       = "quality_run"
	ActionFix       = "quality_fix"
)

// NotInstalled is the reason given for a linter that applies to the tree
// but is not installed.
const NotInstalled = "not run: not installed"

// Querier is the part of a store the source reads. audit.Store is one.
type Querier interface {
	Query(ctx context.Context, f audit.Filter) iter.Seq2[*audit.Record, error]
}

// Config configures the quality source.
type Config struct {
	// Root is the repository root paths are relative to. Empty: the
	// nearest directory at or above the target holding AMI's
	// banned_words.yaml, else the nearest holding .git, else the target.
	Root string
	// BannedWordsOnly checks only banned words and banned file names.
	BannedWordsOnly bool
	// NoLinters runs no linter (banned words, suppressions, SARIF and
	// reviews still apply).
	NoLinters bool
	// Linters replaces the known linters (tests); nil means Linters().
	Linters []*Linter
	// SARIF files to ingest.
	SARIF []string
	// Fix runs the fix modes of the linters that have one before
	// checking, and records each file they changed.
	Fix bool
	// LinterTimeout bounds one linter run; 0 means 10 minutes.
	LinterTimeout time.Duration
	// Workers scan files at once; 0 means the number of CPUs.
	Workers int
	// Trail is read for an incremental run; nil records everything.
	Trail Querier
	// Exclude is what is never read (package exclude): the trail's
	// directory, git internals, private key files; nil applies those rules
	// by name and content only. (Linters are other programs: they read
	// what they read.)
	Exclude *exclude.Rules
	// Actor is the records' actor; empty means the user running it.
	Actor string
	// KeepViolations keeps every violation found in Run.Violations (for a
	// report listing them).
	KeepViolations bool
	// LookPath finds programs; exec.LookPath when nil.
	LookPath func(string) (string, error)
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Logger receives debug logs; nil discards them.
	Logger *slog.Logger
}

// ToolStatus is what one tool did in a run.
type ToolStatus struct {
	Tool       string `json:"tool"`
	Version    string `json:"version,omitempty"`
	Ran        bool   `json:"ran"`
	Reason     string `json:"reason,omitempty"` // why it did not run
	Violations int    `json:"violations"`
}

// Run is the summary of one collection.
type Run struct {
	Root, Target string // absolute root; target relative to it ("." for the root)
	Tools        []ToolStatus
	// Counts per rule of the violations found (new or already recorded).
	Counts map[string]int
	// BySeverity counts the violations found per severity.
	BySeverity           map[audit.Severity]int
	Found, New, Resolved int
	Fixed                []FixedFile
	SuppressionsExempt   int
	Files                int         // files scanned
	LiteralPatterns      []string    // banned entries matched literally (not regular expressions)
	Problems             []string    // what could not be read (reports, SARIF)
	Violations           []Violation // with Config.KeepViolations
	Duration             time.Duration
	Recorded             bool // a quality_run record was emitted
}

// FixedFile is a file a linter's fix mode changed.
type FixedFile struct {
	File, Tool, Before, After string
}

// AtLeast counts the violations found at or above sev.
func (r *Run) AtLeast(sev audit.Severity) int {
	n := 0
	for s, c := range r.BySeverity {
		if s.Rank() >= sev.Rank() {
			n += c
		}
	}
	return n
}

// Source is the quality source.
type Source struct {
	cfg  Config
	last *Run
}

// New returns a quality source.
func New(c Config) (*Source, error) {
	if c.LinterTimeout < 0 || c.Workers < 0 {
		return nil, errors.New("quality source: timeouts and workers must not be negative")
	}
	for _, f := range c.SARIF {
		if f == "" {
			return nil, errors.New("quality source: empty SARIF file name")
		}
	}
	if c.LinterTimeout == 0 {
		c.LinterTimeout = 10 * time.Minute
	}
	if c.Linters == nil {
		c.Linters = Linters()
	}
	if c.LookPath == nil {
		c.LookPath = exec.LookPath
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Actor == "" {
		c.Actor = currentUser()
	}
	return &Source{cfg: c}, nil
}

func currentUser() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return "uid:" + strconv.Itoa(os.Getuid())
}

// Name is the records' source field.
func (s *Source) Name() string { return SourceName }

// Describe says what the source collects.
func (s *Source) Describe() string {
	return "code quality: AMI banned words and file names, suppressions, linters (ruff, mypy, gosec, golangci-lint, eslint), SARIF, ami-agent reviews"
}

// TargetTypes is the one target type the source produces.
func (s *Source) TargetTypes() []audit.TargetType { return []audit.TargetType{audit.TargetQuality} }

// LastRun is the summary of the last Collect, nil before.
func (s *Source) LastRun() *Run { return s.last }

// openViolation is a recorded violation not yet resolved.
type openViolation struct {
	id   string
	tool string
	file string
	ctx  map[string]any
}

// trailState is what the trail says about earlier runs.
type trailState struct {
	open    map[string]openViolation
	lastRun map[string]string // target → fingerprint of its last quality_run
}

func (s *Source) loadTrail(ctx context.Context) (*trailState, error) {
	st := &trailState{open: map[string]openViolation{}, lastRun: map[string]string{}}
	if s.cfg.Trail == nil {
		return st, nil
	}
	for r, err := range s.cfg.Trail.Query(ctx, audit.Filter{TargetType: audit.TargetQuality, Limit: -1}) {
		if err != nil {
			return nil, fmt.Errorf("quality source: read previous records: %w", err)
		}
		if r.Source != SourceName {
			continue
		}
		key, _ := r.Context["violation_key"].(string)
		switch r.Action {
		case ActionViolation:
			if key != "" {
				tool, _ := r.Context["tool"].(string)
				file, _ := r.Context["file"].(string)
				st.open[key] = openViolation{id: r.RecordID, tool: tool, file: file, ctx: r.Context}
			}
		case ActionResolved:
			delete(st.open, key)
		case ActionRun:
			fp, _ := r.Context["fingerprint"].(string)
			st.lastRun[r.Target] = fp
		}
	}
	return st, nil
}

// run is one collection in progress.
type run struct {
	src     *Source
	sum     *Run
	st      *trailState
	out     func(*audit.Record) error
	keys    keyer
	seen    map[string]bool
	tools   map[string]*ToolStatus
	order   []string
	now     time.Time
	relBase string
}

func (r *run) tool(name, version string) *ToolStatus {
	t, ok := r.tools[name]
	if !ok {
		t = &ToolStatus{Tool: name}
		r.tools[name] = t
		r.order = append(r.order, name)
	}
	if version != "" {
		t.Version = version
	}
	return t
}

// Collect checks target (a directory or file inside the repository) and
// emits the records described in the package documentation.
func (s *Source) Collect(ctx context.Context, target string, emit func(*audit.Record) error) error {
	started := s.cfg.Now()
	base, err := filepath.Abs(target)
	if err != nil {
		return fmt.Errorf("quality source: %w", err)
	}
	fi, err := os.Stat(base)
	if err != nil {
		return fmt.Errorf("quality source: %w", err)
	}
	root := s.cfg.Root
	if root == "" {
		root = findRoot(base, fi.IsDir())
	}
	if root, err = filepath.Abs(root); err != nil {
		return err
	}
	relBase, err := filepath.Rel(root, base)
	if err != nil || relBase == ".." || strings.HasPrefix(relBase, ".."+string(filepath.Separator)) {
		return fmt.Errorf("quality source: %s is outside the repository root %s", target, root)
	}
	relBase = filepath.ToSlash(relBase)
	st, err := s.loadTrail(ctx)
	if err != nil {
		return err
	}
	r := &run{src: s, st: st, out: emit, keys: keyer{}, seen: map[string]bool{}, tools: map[string]*ToolStatus{},
		now: started.UTC(), relBase: relBase,
		sum: &Run{Root: root, Target: relBase, Counts: map[string]int{}, BySeverity: map[audit.Severity]int{}}}
	s.last = r.sum

	tree := &Tree{Root: root, Base: base, Exts: map[string]int{}}
	linters := s.linters(tree)
	if s.cfg.Fix && !s.cfg.BannedWordsOnly && !s.cfg.NoLinters {
		if err := r.fix(ctx, tree, linters); err != nil {
			return err
		}
	}
	if err := r.scanTree(ctx, root, base, tree); err != nil {
		return err
	}
	if !s.cfg.BannedWordsOnly {
		if !s.cfg.NoLinters {
			if err := r.runLinters(ctx, tree, linters); err != nil {
				return err
			}
		}
		for _, f := range s.cfg.SARIF {
			res, err := ReadSARIF(f, root)
			if err != nil {
				return fmt.Errorf("quality source: %w", err)
			}
			for tool, version := range res.Drivers {
				r.tool(tool, version).Ran = true
			}
			for i := range res.Violations {
				if err := r.found(ctx, &res.Violations[i]); err != nil {
					return err
				}
			}
		}
		reviews, problems := ReadReviews(root)
		r.sum.Problems = append(r.sum.Problems, problems...)
		if len(reviews) > 0 {
			r.tool(ToolAMIAgent, "").Ran = true
		}
		for _, rv := range reviews {
			if !under(rv.File, relBase) {
				continue
			}
			for i := range rv.Violations {
				if err := r.found(ctx, &rv.Violations[i]); err != nil {
					return err
				}
			}
		}
	}
	if err := r.resolve(ctx); err != nil {
		return err
	}
	r.sum.Duration = s.cfg.Now().Sub(started)
	return r.summary(ctx)
}

// findRoot applies Config.Root's rule.
func findRoot(base string, isDir bool) string {
	dir := base
	if !isDir {
		dir = filepath.Dir(base)
	}
	for d := dir; ; {
		if _, err := banned.Find(d); err == nil {
			return d
		}
		parent := filepath.Dir(d)
		if parent == d {
			break
		}
		d = parent
	}
	for d := dir; ; {
		if _, err := os.Lstat(filepath.Join(d, ".git")); err == nil {
			return d
		}
		parent := filepath.Dir(d)
		if parent == d {
			return dir
		}
		d = parent
	}
}

// under reports whether the slash path p is at or below base ("." is
// everything).
func under(p, base string) bool {
	return base == "." || base == "" || p == base || strings.HasPrefix(p, base+"/")
}

// defaultIgnoredDirs are skipped when the repository has no scanner.yaml.
var defaultIgnoredDirs = []string{"node_modules", "vendor", ".venv", "venv", "__pycache__", ".mypy_cache",
	".pytest_cache", ".ruff_cache", ".tox", "third_party", "site-packages"}

// scanTree runs the banned words (when configured) and the suppression
// check in one walk.
func (r *run) scanTree(ctx context.Context, root, base string, tree *Tree) error {
	var cfg *banned.Config
	if p, err := banned.Find(root); err == nil {
		if cfg, err = banned.Load(p); err != nil {
			return fmt.Errorf("quality source: %w", err)
		}
	}
	sc := banned.Compile(cfg)
	if cfg == nil {
		sc = banned.Compile(&banned.Config{IgnoredDirs: defaultIgnoredDirs})
		r.tool(ToolBannedWords, "").Reason = "not run: no " + banned.Dir + "/" + banned.WordsFile
	} else {
		r.tool(ToolBannedWords, "").Ran = true
		r.tool(ToolBannedFilename, "").Ran = true
		for _, p := range sc.Patterns() {
			if p.Engine == banned.EngineLiteral && p.Kind != banned.KindFilename && p.Why != "" {
				r.sum.LiteralPatterns = append(r.sum.LiteralPatterns, p.Entry)
			}
		}
	}
	withSuppr := !r.src.cfg.BannedWordsOnly
	if withSuppr {
		r.tool(ToolSuppression, "").Ran = true
	}
	opts := banned.Options{Workers: r.src.cfg.Workers, NoWords: cfg == nil, Exclude: r.src.cfg.Exclude,
		Extra: func(rel string, content []byte) any {
			if !withSuppr || content == nil {
				return nil
			}
			return findSuppressions(rel, content)
		}}
	return sc.Scan(ctx, root, base, opts, func(fr banned.FileResult) error {
		r.sum.Files++
		tree.Exts[strings.ToLower(path.Ext(fr.Path))]++
		for _, h := range fr.Hits {
			v := bannedViolation(fr.Path, h)
			if err := r.found(ctx, &v); err != nil {
				return err
			}
		}
		if sv, _ := fr.Extra.([]Violation); len(sv) > 0 {
			if cfg.SuppressionExempt(fr.Path) {
				r.sum.SuppressionsExempt += len(sv)
				return nil
			}
			for i := range sv {
				if err := r.found(ctx, &sv[i]); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

func bannedViolation(file string, h banned.Hit) Violation {
	p := h.Pattern
	if p.Kind == banned.KindFilename {
		return Violation{Tool: ToolBannedFilename, Rule: ToolBannedFilename + ":" + p.Entry, Severity: audit.SeverityError,
			Message: fmt.Sprintf("file name %s contains the banned pattern %q", h.Text, p.Entry), File: file, Text: h.Text,
			Extra: map[string]any{"pattern": p.Entry}}
	}
	v := Violation{Tool: ToolBannedWords, Rule: ToolBannedWords + ":" + p.Entry, Severity: audit.SeverityError,
		Message: fmt.Sprintf("banned word %q", p.Entry), File: file, Line: h.Line, Column: h.Column, Text: h.Text,
		Extra: map[string]any{"pattern": p.Entry, "engine": string(p.Engine), "list": string(p.Kind)}}
	if p.Dir != "" {
		v.Extra["directory"] = p.Dir
		v.Message = fmt.Sprintf("banned word %q (in %s/)", p.Entry, p.Dir)
	}
	return v
}

// linters returns the configured linters.
func (s *Source) linters(*Tree) []*Linter { return s.cfg.Linters }

func (r *run) runLinters(ctx context.Context, tree *Tree, linters []*Linter) error {
	for _, l := range linters {
		if !l.Applies(tree) {
			continue
		}
		t := r.tool(l.Name, "")
		prog, ok := lookPath(l.Program, tree, r.src.cfg.LookPath)
		if !ok {
			t.Reason = NotInstalled
			continue
		}
		lr := &linterRun{prog: prog, root: tree.Root, dir: tree.Base, target: ".", timeout: r.src.cfg.LinterTimeout}
		if fi, err := os.Stat(tree.Base); err == nil && !fi.IsDir() {
			lr.dir, lr.target = filepath.Dir(tree.Base), filepath.Base(tree.Base)
		}
		if l.Name == ToolGosec || l.Name == ToolGolangciLint {
			lr.dir = goModuleDir(tree)
		}
		if l.Version != nil {
			lr.version = l.Version(ctx, lr)
		}
		t.Version = lr.version
		vs, err := l.Check(ctx, lr)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			var nr *notRunError
			if errors.As(err, &nr) {
				t.Reason = "not run: " + nr.why
			} else {
				t.Reason = "not run: failed: " + err.Error()
			}
			continue
		}
		t.Ran = true
		for i := range vs {
			if !under(vs[i].File, r.relBase) && vs[i].File != "" && !strings.HasPrefix(vs[i].File, "/") {
				continue
			}
			if err := r.found(ctx, &vs[i]); err != nil {
				return err
			}
		}
	}
	return nil
}

// goModuleDir is the directory holding the go.mod nearest the base.
func goModuleDir(t *Tree) string {
	for d := t.Base; ; {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
		if d == t.Root {
			return t.Base
		}
		parent := filepath.Dir(d)
		if parent == d {
			return t.Base
		}
		d = parent
	}
}

// found handles one violation: counts it and records it unless it is open.
func (r *run) found(_ context.Context, v *Violation) error {
	if v.Text == "" && v.Line > 0 && v.File != "" {
		if p := filepath.Join(r.sum.Root, filepath.FromSlash(v.File)); r.src.cfg.Exclude.File(p) == "" {
			v.Text = lineText(p, v.Line)
		}
	}
	key := r.keys.key(v)
	r.seen[key] = true
	r.sum.Found++
	r.sum.Counts[v.Rule]++
	r.sum.BySeverity[v.Severity]++
	r.tool(v.Tool, v.ToolVersion).Violations++
	if r.src.cfg.KeepViolations {
		r.sum.Violations = append(r.sum.Violations, *v)
	}
	if _, open := r.st.open[key]; open {
		return nil
	}
	r.sum.New++
	rec := r.record(ActionViolation, targetOf(v.File), v.Severity)
	c := rec.Context
	for k, x := range v.Extra {
		c[k] = x
	}
	c["tool"] = v.Tool
	if v.ToolVersion != "" {
		c["tool_version"] = v.ToolVersion
	}
	c["rule"] = v.Rule
	c["violation_key"] = key
	c["file"] = v.File
	c["message"] = v.Message
	if v.Line > 0 {
		c["line"] = v.Line
	}
	if v.Column > 0 {
		c["column"] = v.Column
	}
	if v.Text != "" {
		c["line_text"] = v.Text
	}
	rec.Violations = []audit.Violation{{Rule: v.Rule, Severity: v.Severity, Message: v.Message,
		FilePath: v.File, LineNumber: v.Line, ColumnNumber: v.Column}}
	return r.emit(rec)
}

func targetOf(file string) string {
	if file == "" {
		return "."
	}
	return file
}

// lineText reads line n (1-based) of a file, "" when it cannot.
func lineText(file string, n int) string {
	b, err := os.ReadFile(file)
	if err != nil {
		return ""
	}
	lines := strings.Split(string(b), "\n")
	if n > len(lines) {
		return ""
	}
	return strings.TrimSuffix(lines[n-1], "\r")
}

func (r *run) record(action, target string, sev audit.Severity) *audit.Record {
	rec := audit.New(r.src.cfg.Actor, action, target, audit.TargetQuality)
	rec.Timestamp = r.now
	rec.Source = SourceName
	rec.Severity = sev
	rec.Context = map[string]any{}
	return rec
}

// emit completes a record and hands it on.
func (r *run) emit(rec *audit.Record) error {
	rec.Normalize()
	return r.out(rec)
}

// resolve records the open violations this run did not find.
func (r *run) resolve(ctx context.Context) error {
	keys := make([]string, 0)
	for k, o := range r.st.open {
		if r.seen[k] {
			continue
		}
		t := r.tools[o.tool]
		if t == nil || !t.Ran || !under(o.file, r.relBase) {
			continue
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := ctx.Err(); err != nil {
			return err
		}
		o := r.st.open[k]
		target := targetOf(o.file)
		rec := r.record(ActionResolved, target, audit.SeverityInfo)
		for key, x := range o.ctx {
			rec.Context[key] = x
		}
		rec.Context["resolves"] = o.id
		r.sum.Resolved++
		if err := r.emit(rec); err != nil {
			return err
		}
	}
	return nil
}

// summary emits quality_run when something changed.
func (r *run) summary(_ context.Context) error {
	for _, name := range r.order {
		r.sum.Tools = append(r.sum.Tools, *r.tools[name])
	}
	counts := map[string]map[string]int{}
	for rule, n := range r.sum.Counts {
		tool := rule[:strings.LastIndex(rule, ":")]
		if counts[tool] == nil {
			counts[tool] = map[string]int{}
		}
		counts[tool][rule] = n
	}
	var ran, notRun []map[string]any
	for _, t := range r.sum.Tools {
		if t.Ran {
			ran = append(ran, map[string]any{"tool": t.Tool, "version": t.Version, "violations": t.Violations})
		} else if t.Reason != "" {
			notRun = append(notRun, map[string]any{"tool": t.Tool, "reason": t.Reason})
		}
	}
	fpSrc, _ := json.Marshal([]any{counts, ran, notRun, r.sum.SuppressionsExempt})
	sum := sha256.Sum256(fpSrc)
	fp := "sha256:" + hex.EncodeToString(sum[:])
	target := r.relBase
	if r.sum.New == 0 && r.sum.Resolved == 0 && len(r.sum.Fixed) == 0 && r.st.lastRun[target] == fp {
		return nil
	}
	rec := r.record(ActionRun, target, audit.SeverityInfo)
	c := rec.Context
	c["counts"] = counts
	c["tools_run"] = orEmpty(ran)
	c["tools_not_run"] = orEmpty(notRun)
	c["violations"] = r.sum.Found
	c["new"] = r.sum.New
	c["resolved"] = r.sum.Resolved
	c["files"] = r.sum.Files
	c["suppressions_exempt"] = r.sum.SuppressionsExempt
	c["duration_ms"] = r.sum.Duration.Milliseconds()
	c["fingerprint"] = fp
	if len(r.sum.LiteralPatterns) > 0 {
		c["literal_patterns"] = slices.Clone(r.sum.LiteralPatterns)
	}
	if len(r.sum.Problems) > 0 {
		c["problems"] = slices.Clone(r.sum.Problems)
		rec.Severity = audit.SeverityWarning
	}
	for _, t := range r.sum.Tools {
		if strings.HasPrefix(t.Reason, "not run: failed") {
			rec.Severity = audit.SeverityWarning
		}
	}
	r.sum.Recorded = true
	return r.emit(rec)
}

func orEmpty(v []map[string]any) []map[string]any {
	if v == nil {
		return []map[string]any{}
	}
	return v
}

// fix runs the fix modes of the installed, applicable linters and records
// every file they changed.
func (r *run) fix(ctx context.Context, tree *Tree, linters []*Linter) error {
	// The fix runs before the walk, so the tree's extensions are not
	// known yet: count them quickly.
	countExts(tree)
	for _, l := range linters {
		if l.Fix == nil || !l.Applies(tree) {
			continue
		}
		prog, ok := lookPath(l.Program, tree, r.src.cfg.LookPath)
		if !ok {
			continue
		}
		lr := &linterRun{prog: prog, root: tree.Root, dir: tree.Base, target: ".", timeout: r.src.cfg.LinterTimeout}
		if l.Name == ToolGolangciLint {
			lr.dir = goModuleDir(tree)
		}
		if l.Version != nil {
			lr.version = l.Version(ctx, lr)
		}
		before := hashFiles(tree.Base, l.FixExts)
		if err := l.Fix(ctx, lr); err != nil {
			r.sum.Problems = append(r.sum.Problems, l.Name+" --fix: "+err.Error())
			continue
		}
		after := hashFiles(tree.Base, l.FixExts)
		for _, f := range slices.Sorted(mapKeys(after)) {
			if before[f] == after[f] {
				continue
			}
			rel := relPath(tree.Root, tree.Root, f)
			ff := FixedFile{File: rel, Tool: l.Name, Before: before[f], After: after[f]}
			r.sum.Fixed = append(r.sum.Fixed, ff)
			rec := r.record(ActionFix, rel, audit.SeverityInfo)
			rec.Context["tool"] = l.Name
			if lr.version != "" {
				rec.Context["tool_version"] = lr.version
			}
			rec.Context["file"] = rel
			rec.Context["sha256_before"] = ff.Before
			rec.Context["sha256_after"] = ff.After
			if err := r.emit(rec); err != nil {
				return err
			}
		}
	}
	return nil
}

func mapKeys(m map[string]string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func skipDir(name string) bool {
	return slices.Contains(banned.AlwaysSkipped, name) || slices.Contains(defaultIgnoredDirs, name)
}

func countExts(t *Tree) {
	filepath.WalkDir(t.Base, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() {
			if p != t.Base && skipDir(d.Name()) {
				return fs.SkipDir
			}
			return nil
		}
		t.Exts[strings.ToLower(filepath.Ext(p))]++
		return nil
	})
}

// hashFiles returns the SHA-256 of every file with one of exts under dir
// (absolute path → hex).
func hashFiles(dir string, exts []string) map[string]string {
	out := map[string]string{}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() {
			if p != dir && skipDir(d.Name()) {
				return fs.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || !slices.Contains(exts, strings.ToLower(filepath.Ext(p))) {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil
		}
		s := sha256.Sum256(b)
		out[p] = hex.EncodeToString(s[:])
		return nil
	})
	return out
}
