package security

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/fatih/semgroup"
	"github.com/zricethezav/gitleaks/v8/config"
	"github.com/zricethezav/gitleaks/v8/sources"
	"golang.org/x/sync/errgroup"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/analyzer"
	"github.com/ami-orchestrator/ami-audit/secrets"
)

// Secret checks.
const (
	// CheckSecrets scans the working tree.
	CheckSecrets = "secrets"
	// CheckSecretsHistory scans every commit of every branch.
	CheckSecretsHistory = "secrets_history"
)

// Finding types of the secret checks.
const (
	TypeSecret     = "secret"
	TypePrivateKey = "private_key"
)

// MaxScanBytes bounds the size of a working-tree file scanned for
// secrets; larger files are passed over and counted.
const MaxScanBytes = 32 << 20

// keyRules are the rules whose secret is a private key.
var keyRules = map[string]bool{"private-key": true, "private-key-block": true, "note-private-key": true, "private-key-file": true}

// heuristicRules are rules that judge a value by its setting's name or its
// entropy rather than by a token's own format: more often wrong, so their
// findings are graded error rather than critical.
func heuristicRule(rule string) bool {
	return strings.Contains(rule, "generic") || rule == "password-assignment" || rule == "authorization-header" || rule == "url-password-parameter"
}

// gitleaksFiles are files of the repository that configure the scan; like
// gitleaks, the scan does not report on them.
var gitleaksFiles = map[string]bool{".gitleaks.toml": true, ".gitleaksignore": true}

// secretsTree scans the files of the working tree.
func (a *Analyzer) secretsTree(ctx context.Context, _ *audit.Analysis, report func(audit.Detected) error) ([]string, error) {
	if a.cfg.Detector == nil {
		return nil, errors.New("no secret detector was configured")
	}
	report = reporter(report)
	accept, err := a.acceptance()
	if err != nil {
		return nil, err
	}
	type file struct {
		rel string
		fi  fs.FileInfo
	}
	files := make(chan file, 64)
	g, gctx := errgroup.WithContext(ctx)
	var mu sync.Mutex
	seen := map[string]int{} // occurrences of (file, rule, fingerprint)
	for range a.cfg.workers() {
		g.Go(func() error {
			for f := range files {
				ds, err := a.scanFile(gctx, f.rel, f.fi)
				if err != nil {
					a.note("secrets: %s: %v", f.rel, err)
					continue
				}
				if a.cfg.Progress != nil {
					a.cfg.Progress(1)
				}
				for _, d := range ds {
					if accept.accepted("", f.rel, d.rule, d.line) {
						a.count(func(s *Stats) { s.Accepted++ })
						continue
					}
					mu.Lock()
					base := "secret|tree|" + f.rel + "|" + d.rule + "|" + d.fp
					n := seen[base]
					seen[base]++
					mu.Unlock()
					if err := report(d.detected(base+"|"+strconv.Itoa(n), CheckSecrets, f.rel, "")); err != nil {
						return err
					}
				}
			}
			return nil
		})
	}
	g.Go(func() error {
		defer close(files)
		return walkTree(gctx, a.cfg.Root, func(rel string, fi fs.FileInfo) error {
			select {
			case files <- file{rel, fi}:
				return nil
			case <-gctx.Done():
				return gctx.Err()
			}
		})
	})
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return []string{CheckSecrets}, nil
}

// found is one secret found, before it becomes a finding.
type found struct {
	rule, description, fp string
	line, column          int
	keyFile               bool
}

// scanFile scans one working-tree file.
func (a *Analyzer) scanFile(ctx context.Context, rel string, fi fs.FileInfo) ([]found, error) {
	if !fi.Mode().IsRegular() || gitleaksFiles[rel] || rel == a.baselineRel() {
		return nil, nil
	}
	a.count(func(s *Stats) { s.SecretFiles++ })
	if fi.Size() > MaxScanBytes {
		a.count(func(s *Stats) { s.TooLarge++ })
		return nil, nil
	}
	data, err := os.ReadFile(filepath.Join(a.cfg.Root, filepath.FromSlash(rel)))
	if err != nil {
		return nil, err
	}
	keyFile := secrets.IsPrivateKey(data)
	if !keyFile && bytes.IndexByte(data[:min(len(data), 8000)], 0) >= 0 {
		return nil, nil // binary: gitleaks passes these over too
	}
	var out []found
	for _, m := range a.cfg.Detector.FindFragment(ctx, secrets.Fragment{Text: string(data), Path: rel}) {
		out = append(out, found{rule: m.RuleID, description: m.Description, fp: m.Fingerprint, line: m.Line, column: m.Column,
			keyFile: keyFile && keyRules[m.RuleID]})
	}
	sortFound(out)
	if keyFile && !containsKeyRule(out) && !a.cfg.Detector.Allowlisted(rel, "") {
		// A key no rule reads (binary DER, PuTTY, age): the file itself.
		out = append(out, found{rule: "private-key-file", description: "A private key file.",
			fp: a.cfg.Detector.Fingerprint(string(data)), line: 1, keyFile: true})
	}
	return out, nil
}

// sortFound puts what one text holds in a stable order (the detector
// reports it in any order): by line, column, rule, fingerprint. Keys
// numbered by occurrence, and which of two equal findings is kept, then
// do not change from run to run.
func sortFound(fs []found) {
	slices.SortFunc(fs, func(a, b found) int {
		return cmp.Or(cmp.Compare(a.line, b.line), cmp.Compare(a.column, b.column), strings.Compare(a.rule, b.rule), strings.Compare(a.fp, b.fp))
	})
}

func containsKeyRule(fs []found) bool {
	for _, f := range fs {
		if keyRules[f.rule] {
			return true
		}
	}
	return false
}

// detected turns a secret found into a finding. file is the path relative
// to the repository's root; commit is "" for the working tree.
func (f found) detected(key, check, file, commit string) audit.Detected {
	typ := TypeSecret
	if keyRules[f.rule] {
		typ = TypePrivateKey
	}
	sev := audit.SeverityCritical
	if heuristicRule(f.rule) {
		sev = audit.SeverityError
	}
	where := file
	if f.line > 0 {
		where += ":" + strconv.Itoa(f.line)
	}
	desc := strings.TrimSuffix(f.description, ".")
	if desc == "" {
		desc = f.rule
	}
	var d audit.Detected
	ev := map[string]any{
		analyzer.EvidenceFile: file, analyzer.EvidenceRule: f.rule, "fingerprint": f.fp, "rule_description": f.description,
	}
	if f.line > 0 {
		ev[analyzer.EvidenceLine] = f.line
	}
	if f.column > 0 {
		ev[analyzer.EvidenceColumn] = f.column
	}
	if commit == "" {
		d.Finding = audit.Finding{
			FindingType: typ, Severity: sev, Location: where,
			Description:    fmt.Sprintf("%s in %s (rule %s, fingerprint %s)", desc, where, f.rule, f.fp),
			Recommendation: "Revoke or rotate the credential, then remove it from the file (and from the history); or accept it in the baseline file.",
		}
		if f.keyFile {
			d.Finding.Description = fmt.Sprintf("private key file %s (rule %s, fingerprint %s)", file, f.rule, f.fp)
			d.Finding.Recommendation = "Replace the key (it is exposed to everyone who can read the repository), remove the file and keep keys out of the repository (.gitignore)."
		}
	} else {
		ev[analyzer.EvidenceCommit] = commit
		d.Finding = audit.Finding{
			FindingType: typ, Severity: sev, Location: where + "@" + commit[:min(len(commit), 12)],
			Description:    fmt.Sprintf("%s committed in %s at %s (rule %s, fingerprint %s)", desc, commit[:min(len(commit), 12)], where, f.rule, f.fp),
			Recommendation: "Revoke or rotate the credential: it stays readable in the history of every clone. Rewriting the history (git filter-repo) and accepting the finding in the baseline file close it.",
		}
	}
	d.Key, d.Check, d.Target, d.TargetType, d.Evidence = key, check, file, audit.TargetFile, ev
	return d
}

// secretsHistory scans the lines every commit of every branch added, in
// the repository and its checked-out submodules, the way the gitleaks
// command does ("git log -p -U0 --full-history --all", parsed by gitleaks'
// git source as it streams).
func (a *Analyzer) secretsHistory(ctx context.Context, _ *audit.Analysis, report func(audit.Detected) error) ([]string, error) {
	if a.cfg.Detector == nil {
		return nil, errors.New("no secret detector was configured")
	}
	if !a.cfg.History {
		return nil, nil
	}
	report = reporter(report)
	accept, err := a.acceptance()
	if err != nil {
		return nil, err
	}
	if !isWorkTree(a.cfg.Root) {
		return nil, fmt.Errorf("%s is not a git work tree: there is no history to scan", a.cfg.Root)
	}
	repos, err := submodules(ctx, a.cfg.Root, "")
	if err != nil {
		return nil, err
	}
	for _, prefix := range append([]string{""}, repos...) {
		if err := a.scanHistory(ctx, prefix, accept, report); err != nil {
			return nil, err
		}
	}
	return []string{CheckSecretsHistory}, nil
}

// scanHistory scans one repository: the top one (prefix "") or the
// submodule at prefix.
func (a *Analyzer) scanHistory(ctx context.Context, prefix string, accept *acceptance, report func(audit.Detected) error) error {
	dir := filepath.Join(a.cfg.Root, filepath.FromSlash(prefix))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cmd, err := sources.NewGitLogCmdContext(ctx, dir, "")
	if err != nil {
		return fmt.Errorf("git log in %s: %w", dir, err)
	}
	src := &sources.Git{Cmd: cmd, Config: &config.Config{}, Sema: semgroup.NewGroup(ctx, int64(a.cfg.workers()))}
	repo := prefix
	if repo == "" {
		repo = "."
	}
	var gitErr, refused error
	var mu sync.Mutex
	seen := map[string]bool{} // keys reported: one secret found twice on a line is one finding
	err = src.Fragments(ctx, func(f sources.Fragment, ferr error) error {
		if ferr != nil {
			mu.Lock()
			gitErr = errors.Join(gitErr, ferr)
			mu.Unlock()
			return nil
		}
		if a.cfg.Progress != nil {
			a.cfg.Progress(1)
		}
		if f.Raw == "" || gitleaksFiles[f.FilePath] {
			return nil
		}
		file := path.Join(prefix, f.FilePath)
		ms := a.cfg.Detector.FindFragment(ctx, secrets.Fragment{Text: f.Raw, Path: f.FilePath, Commit: f.CommitSHA, StartLine: f.StartLine})
		var fs []found
		for _, m := range ms {
			fs = append(fs, found{rule: m.RuleID, description: m.Description, fp: m.Fingerprint, line: m.Line, column: m.Column})
		}
		sortFound(fs)
		if f.StartLine == 1 && !containsKeyRule(fs) && secrets.IsPrivateKey([]byte(f.Raw)) && !a.cfg.Detector.Allowlisted(f.FilePath, f.CommitSHA) {
			fs = append(fs, found{rule: "private-key-file", description: "A private key file.",
				fp: a.cfg.Detector.Fingerprint(f.Raw), line: 1, keyFile: true})
		}
		for _, x := range fs {
			if accept.accepted(f.CommitSHA, f.FilePath, x.rule, x.line) || accept.accepted(f.CommitSHA, file, x.rule, x.line) {
				a.count(func(s *Stats) { s.Accepted++ })
				continue
			}
			key := strings.Join([]string{"secret", "history", repo, f.CommitSHA, f.FilePath, x.rule, x.fp, strconv.Itoa(x.line)}, "|")
			mu.Lock()
			again := seen[key]
			seen[key] = true
			mu.Unlock()
			if again {
				continue
			}
			d := x.detected(key, CheckSecretsHistory, file, f.CommitSHA)
			d.Evidence["repo"] = repo
			if err := report(d); err != nil {
				// gitleaks' git source drops what its callback returns:
				// keep the error, and stop the scan.
				mu.Lock()
				refused = cmp.Or(refused, err)
				mu.Unlock()
				cancel()
				return err
			}
		}
		return nil
	})
	if refused != nil {
		return refused
	}
	if err != nil {
		return err
	}
	if gitErr != nil {
		return fmt.Errorf("git log in %s: %w", dir, gitErr)
	}
	return nil
}

// submodules lists the checked-out submodules below the repository at
// root/prefix, recursively, as slash paths relative to root.
func submodules(ctx context.Context, root, prefix string) ([]string, error) {
	dir := filepath.Join(root, filepath.FromSlash(prefix))
	var out []string
	err := gitStream(ctx, dir, []string{"ls-files", "-z", "--stage"}, func(r io.Reader) error {
		br := bufio.NewReader(r)
		for {
			entry, err := br.ReadString(0)
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return err
			}
			// "<mode> <object> <stage>\t<path>\x00"
			meta, p, ok := strings.Cut(strings.TrimSuffix(entry, "\x00"), "\t")
			if !ok || !strings.HasPrefix(meta, "160000 ") {
				continue
			}
			sub := path.Join(prefix, p)
			if isWorkTree(filepath.Join(root, filepath.FromSlash(sub))) {
				out = append(out, sub)
			}
		}
	})
	if err != nil {
		return nil, err
	}
	for _, s := range out {
		nested, err := submodules(ctx, root, s)
		if err != nil {
			return nil, err
		}
		out = append(out, nested...)
	}
	return out, nil
}

// acceptance is the findings accepted by the repository's .gitleaksignore
// and the baseline file, by gitleaks fingerprint: "file:rule:line" for
// any commit, "commit:file:rule:line" for one.
type acceptance struct {
	fps map[string]bool
}

func (ac *acceptance) accepted(commit, file, rule string, line int) bool {
	if ac == nil || len(ac.fps) == 0 {
		return false
	}
	g := file + ":" + rule + ":" + strconv.Itoa(line)
	return ac.fps[g] || (commit != "" && ac.fps[commit+":"+g])
}

// acceptance loads .gitleaksignore and the baseline once per run.
func (a *Analyzer) acceptance() (*acceptance, error) {
	a.acceptOnce.Do(func() {
		ac := &acceptance{fps: map[string]bool{}}
		if err := loadFingerprints(filepath.Join(a.cfg.Root, ".gitleaksignore"), ac.fps, true); err != nil {
			a.acceptErr = err
			return
		}
		if a.cfg.Baseline != "" {
			if err := loadBaseline(a.cfg.Baseline, ac.fps); err != nil {
				a.acceptErr = err
				return
			}
		}
		a.accept = ac
	})
	return a.accept, a.acceptErr
}

// loadBaseline reads a baseline file: a gitleaks JSON report (an array of
// findings; its RuleID, File, Commit and StartLine make the fingerprint,
// so a report written with --redact serves as well), or gitleaks
// fingerprints, one per line (the .gitleaksignore form).
func loadBaseline(p string, fps map[string]bool) error {
	b, err := os.ReadFile(p)
	if err != nil {
		return fmt.Errorf("baseline: %w", err)
	}
	if t := bytes.TrimSpace(b); len(t) > 0 && t[0] == '[' {
		var rep []struct {
			RuleID, File, Commit string
			StartLine            int
		}
		if err := json.Unmarshal(t, &rep); err != nil {
			return fmt.Errorf("baseline %s: not a gitleaks JSON report: %v", p, err)
		}
		for _, f := range rep {
			g := filepath.ToSlash(f.File) + ":" + f.RuleID + ":" + strconv.Itoa(f.StartLine)
			if f.Commit != "" {
				g = f.Commit + ":" + g
			}
			fps[g] = true
		}
		return nil
	}
	return loadFingerprints(p, fps, false)
}

// loadFingerprints reads gitleaks fingerprints, one per line, # comments.
// A missing file is no error when optional.
func loadFingerprints(p string, fps map[string]bool, optional bool) error {
	f, err := os.Open(p)
	if optional && errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("baseline: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		parts := strings.Split(line, ":")
		if len(parts) != 3 && len(parts) != 4 {
			return fmt.Errorf("%s:%d: not a gitleaks fingerprint (want file:rule:line or commit:file:rule:line)", p, n)
		}
		i := len(parts) - 3
		parts[i] = strings.ReplaceAll(parts[i], `\`, "/")
		fps[strings.Join(parts, ":")] = true
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	return nil
}

// baselineRel is the baseline file's path relative to the root, when it
// is inside the repository (the scan passes it over, as gitleaks does).
func (a *Analyzer) baselineRel() string {
	if a.cfg.Baseline == "" {
		return ""
	}
	abs, err := filepath.Abs(a.cfg.Baseline)
	if err != nil {
		return ""
	}
	rel, err := filepath.Rel(a.cfg.Root, abs)
	if err != nil || strings.HasPrefix(rel, "..") {
		return ""
	}
	return filepath.ToSlash(rel)
}
