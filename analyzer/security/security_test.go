package security

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/analyzer"
	"github.com/ami-orchestrator/ami-audit/internal/memtrail"
	"github.com/ami-orchestrator/ami-audit/source/module"
)

// fixtureDB is the database of real advisories osvdb's tests use.
var fixtureDB = filepath.Join("..", "..", "internal", "osvdb", "testdata", "osv")

func write(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func pyproject(name string, deps ...string) string {
	q := make([]string, len(deps))
	for i, d := range deps {
		q[i] = `"` + d + `"`
	}
	return "[project]\nname = \"" + name + "\"\nversion = \"1.0\"\ndependencies = [" + strings.Join(q, ", ") + "]\n"
}

// depsRepo is a repository whose modules pin versions inside and outside
// the affected ranges of the fixture advisories, in every ecosystem.
var depsRepo = map[string]string{
	// PyPI. PYSEC-2018-5: django >=2.0,<2.0.3 (and 1.8, 1.11 lines); PYSEC-2018-28: requests <2.20.0.
	"py-pinned/pyproject.toml": pyproject("py-pinned", "django==2.0.1", "requests==2.20.0"),
	"py-pre/pyproject.toml":    pyproject("py-pre", "django==2.0.3rc1", "requests==2.19.1"),
	"py-epoch/pyproject.toml":  pyproject("py-epoch", "django==1!2.0.1"),
	"py-post/pyproject.toml":   pyproject("py-post", "django==2.0.3.post1"),
	"py-compat/pyproject.toml": pyproject("py-compat", "django~=2.0.1", "requests~=2.19.0"),
	// npm. GHSA-35jh-r3h4-6jhm: lodash <4.17.21.
	"web/package.json":       `{"name": "web", "version": "1.0.0", "dependencies": {"lodash": "^4.17.15"}}`,
	"web/package-lock.json":  `{"name": "web", "lockfileVersion": 3, "packages": {"": {"name": "web"}, "node_modules/lodash": {"version": "4.17.15"}}}`,
	"web2/package.json":      `{"name": "web2", "version": "1.0.0", "dependencies": {"lodash": "4.17.21"}}`,
	"web2/package-lock.json": `{"name": "web2", "lockfileVersion": 3, "packages": {"": {"name": "web2"}, "node_modules/lodash": {"version": "4.17.21"}}}`,
	// Only in the lock files: a transitive django and lodash, vulnerable
	// as the direct ones are (the module itself, in uv.lock, is not a
	// dependency; loguru is locked at a version without advisories).
	"py-locked/pyproject.toml": pyproject("py-locked", "djangorestframework>=3.9"),
	"py-locked/uv.lock": "version = 1\n\n[[package]]\nname = \"py-locked\"\nversion = \"1.0\"\nsource = { editable = \".\" }\n\n" +
		"[[package]]\nname = \"djangorestframework\"\nversion = \"3.9.0\"\n\n[[package]]\nname = \"Django\"\nversion = \"2.0.1\"\n\n" +
		"[[package]]\nname = \"loguru\"\nversion = \"0.7.3\"\n",
	"web-locked/package.json":      `{"name": "web-locked", "version": "1.0.0", "dependencies": {"express": "^4.21.0"}}`,
	"web-locked/package-lock.json": `{"name": "web-locked", "lockfileVersion": 3, "packages": {"": {"name": "web-locked"}, "node_modules/express": {"version": "4.21.2"}, "node_modules/lodash": {"version": "4.17.15"}}}`,
	// Go. GO-2023-2402: golang.org/x/crypto <0.17.0.
	"svc/go.mod":  "module example.com/svc\n\ngo 1.22\n\nrequire golang.org/x/crypto v0.16.0\n",
	"svc2/go.mod": "module example.com/svc2\n\ngo 1.22\n\nrequire golang.org/x/crypto v0.17.0\n",
}

// collectModules runs the module source over root into tr.
func collectModules(t *testing.T, root string, tr *memtrail.Trail) {
	t.Helper()
	src, err := module.New(module.Config{Root: root, History: tr, IncludeDependencies: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := memtrail.Collect(t.Context(), tr, src, ""); err != nil {
		t.Fatal(err)
	}
}

func runSecurity(t *testing.T, cfg Config, tr *memtrail.Trail) (analyzer.Result, *Analyzer) {
	t.Helper()
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	res, err := analyzer.Run(t.Context(), analyzer.Config{Trail: tr, Appender: tr}, []audit.Analyzer{a}, analyzer.Input{Target: cfg.Root})
	if err != nil {
		t.Fatal(err)
	}
	return res[0], a
}

// appended lists "action type finding_key" of the records the trail
// gained since n, sorted.
func appended(tr *memtrail.Trail, n int) []string {
	var out []string
	for _, r := range tr.Records()[n:] {
		typ, _ := r.Context[analyzer.MemberType].(string)
		if len(r.Findings) > 0 {
			typ = r.Findings[0].FindingType
		}
		out = append(out, r.Action+" "+typ+" "+r.Context[analyzer.MemberKey].(string))
	}
	slices.Sort(out)
	return out
}

// keyed turns "action type key" lines into what appended returns: the
// key as its finding_key (analyzer.KeyID), sorted.
func keyed(lines ...string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		j := strings.LastIndexByte(l, ' ')
		out[i] = l[:j+1] + analyzer.KeyID(l[j+1:])
	}
	slices.Sort(out)
	return out
}

// isKey reports whether r is the finding of key.
func isKey(r *audit.Record, key string) bool {
	return r.Context[analyzer.MemberKey] == analyzer.KeyID(key)
}

func TestDependencies(t *testing.T) {
	root := t.TempDir()
	write(t, root, depsRepo)
	tr := &memtrail.Trail{}
	collectModules(t, root, tr)
	cfg := Config{Root: root, Skip: []string{CheckPermissions, CheckPatterns}}

	// Without a database: one "not checked" finding per ecosystem, and
	// the notes say so plainly.
	n := tr.Len()
	res, a := runSecurity(t, cfg, tr)
	want := []string{
		"security_finding dependencies_not_checked dependencies-not-checked|go",
		"security_finding dependencies_not_checked dependencies-not-checked|npm",
		"security_finding dependencies_not_checked dependencies-not-checked|pypi",
	}
	if diff := cmp.Diff(keyed(want...), appended(tr, n)); diff != "" {
		t.Errorf("without a database (-want +got):\n%s", diff)
	}
	if len(res.Done) != 0 || !slices.ContainsFunc(a.Notes(), func(s string) bool { return strings.Contains(s, "NOT checked") }) {
		t.Errorf("done %v, notes %v", res.Done, a.Notes())
	}

	// With the database: the vulnerable versions, and the "not checked"
	// findings resolved.
	cfg.OSVDB = fixtureDB
	n = tr.Len()
	res, a = runSecurity(t, cfg, tr)
	want = []string{
		"security_finding vulnerable_dependency dependency|py-compat|pypi|requests|main|PYSEC-2018-28",
		"security_finding vulnerable_dependency dependency|py-locked|pypi|django|locked|PYSEC-2018-5",
		"security_finding vulnerable_dependency dependency|py-pinned|pypi|django|main|PYSEC-2018-5",
		"security_finding vulnerable_dependency dependency|py-pre|pypi|django|main|PYSEC-2018-5",
		"security_finding vulnerable_dependency dependency|py-pre|pypi|requests|main|PYSEC-2018-28",
		"security_finding vulnerable_dependency dependency|svc|go|golang.org/x/crypto|main|GO-2023-2402",
		"security_finding vulnerable_dependency dependency|web|npm|lodash|main|GHSA-35jh-r3h4-6jhm",
		"security_finding vulnerable_dependency dependency|web-locked|npm|lodash|locked|GHSA-35jh-r3h4-6jhm",
		"security_finding vulnerable_dependency_range dependency|py-compat|pypi|django|main|range",
		"security_finding_resolved dependencies_not_checked dependencies-not-checked|go",
		"security_finding_resolved dependencies_not_checked dependencies-not-checked|npm",
		"security_finding_resolved dependencies_not_checked dependencies-not-checked|pypi",
	}
	if diff := cmp.Diff(keyed(want...), appended(tr, n)); diff != "" {
		t.Errorf("with the database (-want +got):\n%s\nnotes: %v", diff, a.Notes())
	}
	if diff := cmp.Diff([]string{"dependencies:pypi", "dependencies:npm", "dependencies:go"}, res.Done); diff != "" {
		t.Errorf("checks done (-want +got):\n%s", diff)
	}

	// What a finding says: advisory, aliases, range, fix, severity.
	var lodash, django *audit.Record
	for _, r := range res.Open {
		switch {
		case isKey(r, "dependency|web|npm|lodash|main|GHSA-35jh-r3h4-6jhm"):
			lodash = r
		case isKey(r, "dependency|py-pinned|pypi|django|main|PYSEC-2018-5"):
			django = r
		}
	}
	if lodash == nil || django == nil {
		t.Fatal("lodash or django finding missing")
	}
	if lodash.Severity != audit.SeverityError || lodash.Context["cvss_score"] != "7.2" || lodash.Context["fixed"] != "4.17.21" ||
		lodash.Context["version"] != "4.17.15" || lodash.Context["affected_range"] != "<4.17.21" || lodash.Target != "web" ||
		!strings.Contains(lodash.Findings[0].Description, "CVE-2021-23337") || lodash.Context[analyzer.EvidenceFile] != "web/package.json" {
		t.Errorf("lodash finding: severity %s, context %v, finding %+v", lodash.Severity, lodash.Context, lodash.Findings[0])
	}
	if django.Context["fixed"] != "2.0.3" || !slices.Contains(django.Context["aliases"].([]string), "CVE-2018-7536") ||
		django.Findings[0].Recommendation != "Upgrade django to 2.0.3 or later." || django.Context["severity_source"] != "none" ||
		len(django.Context[analyzer.MemberRecords].([]string)) != 1 {
		t.Errorf("django finding: %v %+v", django.Context, django.Findings[0])
	}

	// The module source records a new snapshot each run; unchanged
	// dependencies append nothing.
	collectModules(t, root, tr)
	n = tr.Len()
	runSecurity(t, cfg, tr)
	if got := appended(tr, n); len(got) != 0 {
		t.Errorf("re-run on unchanged dependencies appended %v", got)
	}

	// Upgrading django resolves its finding.
	write(t, root, map[string]string{"py-pinned/pyproject.toml": pyproject("py-pinned", "django==2.0.3", "requests==2.20.0")})
	collectModules(t, root, tr)
	n = tr.Len()
	runSecurity(t, cfg, tr)
	want = []string{"security_finding_resolved vulnerable_dependency dependency|py-pinned|pypi|django|main|PYSEC-2018-5"}
	if diff := cmp.Diff(keyed(want...), appended(tr, n)); diff != "" {
		t.Errorf("after upgrading django (-want +got):\n%s", diff)
	}

	// A database without an ecosystem: that ecosystem is not checked, and
	// its open findings stay open.
	partial := t.TempDir()
	os.CopyFS(filepath.Join(partial, "osv-scanner", "PyPI"), os.DirFS(filepath.Join(fixtureDB, "PyPI")))
	cfg.OSVDB = partial
	n = tr.Len()
	res, _ = runSecurity(t, cfg, tr)
	want = []string{
		"security_finding dependencies_not_checked dependencies-not-checked|go",
		"security_finding dependencies_not_checked dependencies-not-checked|npm",
	}
	if diff := cmp.Diff(keyed(want...), appended(tr, n)); diff != "" {
		t.Errorf("with a PyPI-only database (-want +got):\n%s", diff)
	}
	if !slices.Equal(res.Done, []string{"dependencies:pypi"}) {
		t.Errorf("done %v", res.Done)
	}
}

func TestNoModuleRecords(t *testing.T) {
	root := t.TempDir()
	tr := &memtrail.Trail{}
	res, a := runSecurity(t, Config{Root: root, OSVDB: fixtureDB, Skip: []string{CheckPermissions, CheckPatterns}}, tr)
	if tr.Len() != 0 || !slices.ContainsFunc(a.Notes(), func(s string) bool { return strings.Contains(s, "no module records") }) {
		t.Errorf("appended %d, notes %v", tr.Len(), a.Notes())
	}
	// With a database, every ecosystem is checked (there is nothing in it).
	if len(res.Done) != 3 {
		t.Errorf("done %v", res.Done)
	}
}

func TestPermissions(t *testing.T) {
	root := t.TempDir()
	write(t, root, map[string]string{
		"open.txt":          "anyone may write me",
		"bin/suid":          "\x7fELF",
		"bin/sgid":          "\x7fELF",
		"data/table.json":   "{}",
		"data/run.txt":      "#!/bin/sh\necho a script with a data extension\n",
		"tool.sh":           "#!/bin/sh\n",
		"shared/x":          "",
		"fine.go":           "package x\n",
		"deploy/id_ed25519": "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n-----END OPENSSH PRIVATE KEY-----\n",
		"deploy/ok_ed25519": "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n-----END OPENSSH PRIVATE KEY-----\n",
	})
	chmod := func(name string, m os.FileMode) {
		if err := os.Chmod(filepath.Join(root, filepath.FromSlash(name)), m); err != nil {
			t.Fatal(err)
		}
	}
	chmod("open.txt", 0o666)
	chmod("bin/suid", 0o755|os.ModeSetuid)
	chmod("bin/sgid", 0o755|os.ModeSetgid)
	chmod("data/table.json", 0o755)
	chmod("data/run.txt", 0o755)
	chmod("tool.sh", 0o755)
	chmod("shared", 0o777)
	chmod("deploy/ok_ed25519", 0o600)
	tr := &memtrail.Trail{}
	res, _ := runSecurity(t, Config{Root: root, Skip: []string{CheckDependencies, CheckPatterns}}, tr)
	want := []string{
		"security_finding executable_data_file permission|executable_data_file|data/table.json",
		"security_finding exposed_private_key permission|exposed_private_key|deploy/id_ed25519",
		"security_finding setgid_file permission|setgid_file|bin/sgid",
		"security_finding setuid_file permission|setuid_file|bin/suid",
		"security_finding world_writable permission|world_writable|open.txt",
		"security_finding world_writable permission|world_writable|shared",
	}
	if diff := cmp.Diff(keyed(want...), appended(tr, 0)); diff != "" {
		t.Errorf("permission findings (-want +got):\n%s", diff)
	}
	if !slices.Equal(res.Done, []string{CheckPermissions}) {
		t.Errorf("done %v", res.Done)
	}
	for _, r := range res.Open {
		if isKey(r, "permission|setuid_file|bin/suid") && r.Context["mode"] != "4755" {
			t.Errorf("setuid mode %v", r.Context["mode"])
		}
	}
	// Fixing them resolves them.
	chmod("open.txt", 0o644)
	chmod("bin/suid", 0o755)
	n := tr.Len()
	runSecurity(t, Config{Root: root, Skip: []string{CheckDependencies, CheckPatterns}}, tr)
	want = []string{
		"security_finding_resolved setuid_file permission|setuid_file|bin/suid",
		"security_finding_resolved world_writable permission|world_writable|open.txt",
	}
	if diff := cmp.Diff(keyed(want...), appended(tr, n)); diff != "" {
		t.Errorf("after chmod (-want +got):\n%s", diff)
	}
}

func TestPermissionsHonourGitignore(t *testing.T) {
	root := t.TempDir()
	write(t, root, map[string]string{".gitignore": "build/\n", "build/out.json": "{}", "src/a.json": "{}", ".audit/x.json": "{}"})
	for _, p := range []string{"build/out.json", "src/a.json", ".audit/x.json"} {
		os.Chmod(filepath.Join(root, p), 0o777)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if err := gitCommand(ctx, root, "init", "-q").Run(); err != nil {
		t.Fatalf("git init: %v", err)
	}
	tr := &memtrail.Trail{}
	runSecurity(t, Config{Root: root, Skip: []string{CheckDependencies, CheckPatterns}}, tr)
	want := []string{
		"security_finding executable_data_file permission|executable_data_file|src/a.json",
		"security_finding world_writable permission|world_writable|src/a.json",
	}
	if diff := cmp.Diff(keyed(want...), appended(tr, 0)); diff != "" {
		t.Errorf("ignored files and the trail's directory must not be examined (-want +got):\n%s", diff)
	}
}

// qualityRecord is a record as the quality source writes it (its
// published contract).
func qualityRecord(key, rule, file string, line int, action string) *audit.Record {
	tool, _, _ := strings.Cut(rule, ":")
	r := audit.New("system", action, file, audit.TargetQuality)
	r.Source = "quality_source"
	r.Context = map[string]any{"tool": tool, "rule": rule, "violation_key": key}
	if action == "quality_violation" {
		r.Severity = audit.SeverityError
		r.Violations = []audit.Violation{{Rule: rule, Severity: audit.SeverityError, Message: "possible SQL injection", FilePath: file, LineNumber: line}}
	}
	r.Normalize()
	return r
}

func TestPatterns(t *testing.T) {
	root := t.TempDir()
	tr := &memtrail.Trail{}
	cfg := Config{Root: root, Skip: []string{CheckDependencies, CheckPermissions}}

	// No quality records: the check cannot run, and says how to run it.
	res, a := runSecurity(t, cfg, tr)
	if len(res.Done) != 0 || !slices.ContainsFunc(a.Notes(), func(s string) bool { return strings.Contains(s, "quality") }) {
		t.Errorf("done %v, notes %v", res.Done, a.Notes())
	}

	tr.Append(t.Context(), []*audit.Record{
		qualityRecord("k1", "ruff:S608", "app/db.py", 12, "quality_violation"),
		qualityRecord("k2", "gosec:G101", "svc/main.go", 7, "quality_violation"),
		qualityRecord("k3", "ruff:E501", "app/db.py", 3, "quality_violation"), // style, not security
		qualityRecord("k4", "bandit:B105", "app/x.py", 1, "quality_violation"),
		qualityRecord("k4", "bandit:B105", "app/x.py", 1, "quality_violation_resolved"), // fixed since
	})
	n := tr.Len()
	res, _ = runSecurity(t, cfg, tr)
	want := []string{
		"security_finding insecure_pattern pattern|k1",
		"security_finding insecure_pattern pattern|k2",
	}
	if diff := cmp.Diff(keyed(want...), appended(tr, n)); diff != "" {
		t.Errorf("pattern findings (-want +got):\n%s", diff)
	}
	f := res.Open[0]
	if f.Target != "app/db.py" || f.Context[analyzer.EvidenceLine] != 12 || f.Context[analyzer.EvidenceRule] != "ruff:S608" || f.Severity != audit.SeverityError {
		t.Errorf("finding %+v", f)
	}
	// The quality source records the violation gone: the finding is resolved.
	tr.Append(t.Context(), []*audit.Record{qualityRecord("k2", "gosec:G101", "svc/main.go", 7, "quality_violation_resolved")})
	n = tr.Len()
	runSecurity(t, cfg, tr)
	if diff := cmp.Diff(keyed("security_finding_resolved insecure_pattern pattern|k2"), appended(tr, n)); diff != "" {
		t.Errorf("after the fix (-want +got):\n%s", diff)
	}
}

func TestIsInsecureRule(t *testing.T) {
	for rule, want := range map[string]bool{
		"ruff:S608": true, "ruff:S101": true, "gosec:G101": true, "bandit:B105": true,
		"ruff:E501": false, "ruff:SIM102": false, "mypy:arg-type": false, "gosec:": false, "S608": false,
	} {
		if got := IsInsecureRule(rule); got != want {
			t.Errorf("IsInsecureRule(%q) = %v", rule, got)
		}
	}
}
