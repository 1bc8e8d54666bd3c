package manifest

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func read(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// short renders dependencies as "group name spec version" lines, which
// keeps the expectations readable.
func short(deps []Dependency) []string {
	var out []string
	for _, d := range deps {
		var f []string
		for _, s := range []string{d.Group, d.Name, d.Spec, d.Version, d.Markers} {
			if s != "" {
				f = append(f, s)
			}
		}
		out = append(out, strings.Join(f, " "))
	}
	return out
}

func TestParsePyprojectAMI(t *testing.T) {
	p, err := ParsePyproject("pyproject.toml", read(t, "ami-pyproject.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "ami-orchestrator-root" || p.RequiresPython != ">=3.12" || p.Version != "0.0.0" {
		t.Errorf("project = %q %q %q", p.Name, p.Version, p.RequiresPython)
	}
	main, dev := 0, 0
	for _, d := range p.Dependencies {
		switch d.Group {
		case "main":
			main++
		case "group:dev":
			dev++
		default:
			t.Errorf("unexpected group %q", d.Group)
		}
	}
	if main != 7 || dev != 26 {
		t.Errorf("main=%d dev=%d, want 7 and 26", main, dev)
	}
	first := p.Dependencies[0]
	want := Dependency{Name: "pyyaml", Ecosystem: PyPI, Group: "main", Spec: "==6.0.2", Version: "6.0.2", File: "pyproject.toml", Line: 8}
	if diff := cmp.Diff(want, first); diff != "" {
		t.Errorf("first dependency (-want +got):\n%s", diff)
	}
	// prompt-toolkit>=3.0.52 is not pinned: no version.
	for _, d := range p.Dependencies {
		if d.Name == "prompt-toolkit" && (d.Version != "" || d.Spec != ">=3.0.52") {
			t.Errorf("prompt-toolkit = %+v", d)
		}
		if d.Name == "types-pyyaml" && d.Line != 23 {
			t.Errorf("types-PyYAML line = %d, want 23", d.Line)
		}
		if d.Name == "pyyaml" && d.Group == "group:dev" && d.Line != 35 {
			t.Errorf("dev pyyaml line = %d, want 35", d.Line)
		}
	}
	if len(p.Problems) != 0 {
		t.Errorf("problems: %v", p.Problems)
	}
}

func TestParsePyprojectFull(t *testing.T) {
	p, err := ParsePyproject("m/pyproject.toml", read(t, "full-pyproject.toml"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"main pyyaml ==6.0.2 6.0.2",
		"main requests >=2.31,<3 python_version >= '3.8'",
		"main pydantic >=2.0",
		"main mylib @ https://example.com/mylib-1.0.tar.gz",
		"optional:postgres psycopg ==3.2.3 3.2.3",
		"optional:redis redis >=5",
		"group:dev pytest ==8.4.1 8.4.1",
		"group:dev pytest-cov",
		"group:dev ruff ==0.12.8 0.12.8",
		"group:test pytest ==8.4.1 8.4.1",
		"group:test pytest-cov",
		"dev mypy ==1.17.1 1.17.1",
	}
	if diff := cmp.Diff(want, short(p.Dependencies)); diff != "" {
		t.Errorf("dependencies (-want +got):\n%s", diff)
	}
	if p.Name != "AMI_Base" || p.Version != "1.2.0" {
		t.Errorf("name/version = %q %q", p.Name, p.Version)
	}
	if diff := cmp.Diff([]string{"packages/*"}, p.Workspace); diff != "" {
		t.Errorf("workspace: %s", diff)
	}
	wantProblems := []string{
		`m/pyproject.toml:10: bad requirement: unexpected "a valid requirement!" after the name in "not a valid requirement!"`,
		`m/pyproject.toml:20: dependency group "loop" includes itself (loop -> loop)`,
	}
	if diff := cmp.Diff(wantProblems, p.Problems); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
}

func TestParseErrorsNameFileAndLine(t *testing.T) {
	tests := []struct {
		file  string
		parse func(name string, data []byte) error
		want  string // prefix of the error text
	}{
		{"bad-pyproject.toml", func(n string, d []byte) error { _, err := ParsePyproject(n, d); return err }, "bad-pyproject.toml:5:14: basic strings cannot have new lines"},
		{"badtype-pyproject.toml", func(n string, d []byte) error { _, err := ParsePyproject(n, d); return err }, "badtype-pyproject.toml:5:"},
		{"bad-uv.lock", func(n string, d []byte) error { _, err := ParseUVLock(n, d); return err }, "bad-uv.lock:6:"},
		{"bad-package.json", func(n string, d []byte) error { _, err := ParsePackageJSON(n, d); return err }, "bad-package.json:5:9: "},
		{"badtype-package.json", func(n string, d []byte) error { _, err := ParsePackageJSON(n, d); return err }, "badtype-package.json:3:"},
		{"bad-package-lock.json", func(n string, d []byte) error {
			_, err := ParsePackageLock(n, strings.NewReader(string(d)))
			return err
		}, "bad-package-lock.json:5:35: version holds a JSON number where string was expected"},
		{"bad-go.mod", func(n string, d []byte) error { _, err := ParseGoMod(n, d); return err }, "bad-go.mod:7:2: usage: require module/path v1.2.3"},
		{"bad-go.sum", func(n string, d []byte) error { _, err := ParseGoSum(n, strings.NewReader(string(d))); return err }, "bad-go.sum:2: "},
		{"bad-modules.yaml", func(n string, d []byte) error { _, err := ParseModulesYAML(n, d); return err }, "bad-modules.yaml:2: did not find expected key"},
		{"badtype-modules.yaml", func(n string, d []byte) error { _, err := ParseModulesYAML(n, d); return err }, "badtype-modules.yaml:5: cannot unmarshal"},
		{"bad-gitmodules", func(n string, d []byte) error { _, err := ParseGitmodules(n, d); return err }, `bad-gitmodules:4: submodule "b" has no path`},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			err := tc.parse(tc.file, read(t, tc.file))
			if err == nil {
				t.Fatal("no error")
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %T is not a *ParseError: %v", err, err)
			}
			if !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("error = %q, want prefix %q", err, tc.want)
			}
			if pe.Line == 0 {
				t.Errorf("no line in %v", err)
			}
		})
	}
}

func TestParseUVLock(t *testing.T) {
	l, err := ParseUVLock("uv.lock", read(t, "uv.lock"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"ami-base": "1.2.0", "pyyaml": "6.0.2", "requests": "2.32.5", "numpy": "1.26.4 | 2.1.0"}
	if diff := cmp.Diff(want, l.Versions); diff != "" {
		t.Errorf("versions (-want +got):\n%s", diff)
	}
	if l.Packages != 5 {
		t.Errorf("packages = %d, want 5", l.Packages)
	}
}

func TestParseRequirements(t *testing.T) {
	r, err := ParseRequirements(filepath.Join("testdata", "req", "requirements.txt"), os.ReadFile)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"requirements requests ==2.32.5 2.32.5",
		`requirements django >=4.2,<5.0`,
		`requirements celery ==5.3.6 5.3.6 python_version >= "3.8"`,
		"requirements numpy ==1.26.4 1.26.4",
		"requirements org-tool editable git+https://github.com/org/tool.git#egg=Org_Tool",
	}
	if diff := cmp.Diff(want, short(r.Dependencies)); diff != "" {
		t.Errorf("dependencies (-want +got):\n%s", diff)
	}
	lines := map[string]int{}
	for _, d := range r.Dependencies {
		lines[d.Name] = d.Line
	}
	if diff := cmp.Diff(map[string]int{"requests": 1, "django": 6, "celery": 7, "numpy": 8, "org-tool": 11}, lines); diff != "" {
		t.Errorf("lines (-want +got):\n%s", diff)
	}
	req := filepath.Join("testdata", "req", "requirements.txt")
	base := filepath.Join("testdata", "req", "requirements-base.txt")
	missing := filepath.Join("testdata", "req", "missing.txt")
	wantProblems := []string{
		base + ":2: -r requirements.txt: include cycle " + req + " -> " + base + " -> " + req,
		base + ":3: -r missing.txt: open " + missing + ": no such file or directory",
		req + `:12: requirement "./local/path" is a local path without a project name`,
		req + `:13: bad requirement: "==bad" does not start with a project name`,
	}
	if diff := cmp.Diff(wantProblems, r.Problems); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{req, base}, r.Files); diff != "" {
		t.Errorf("files: %s", diff)
	}
}

func TestParsePackageJSON(t *testing.T) {
	p, err := ParsePackageJSON("package.json", read(t, "package.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := []Dependency{
		{Name: "next", Ecosystem: NPM, Group: "main", Spec: "^14.2.3", File: "package.json", Line: 5},
		{Name: "react", Ecosystem: NPM, Group: "main", Spec: "18.3.1", File: "package.json", Line: 6},
		{Name: "typescript", Ecosystem: NPM, Group: "dev", Spec: "~5.4.0", File: "package.json", Line: 9},
		{Name: "react-dom", Ecosystem: NPM, Group: "peer", Spec: ">=18", File: "package.json", Line: 12},
	}
	if diff := cmp.Diff(want, p.Dependencies); diff != "" {
		t.Errorf("dependencies (-want +got):\n%s", diff)
	}
	if p.Name != "@ami/cms" || len(p.Workspaces) != 1 {
		t.Errorf("name %q workspaces %v", p.Name, p.Workspaces)
	}
}

func TestParsePackageLock(t *testing.T) {
	for _, tc := range []struct {
		file     string
		versions map[string]string
		packages int
	}{
		{"package-lock.json", map[string]string{"next": "14.2.5", "react": "18.3.1", "typescript": "5.4.5", "@swc/helpers": "0.5.5"}, 5},
		{"v1-package-lock.json", map[string]string{"lodash": "4.17.21", "express": "4.18.2"}, 4},
	} {
		t.Run(tc.file, func(t *testing.T) {
			f, err := os.Open(filepath.Join("testdata", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			l, err := ParsePackageLock(tc.file, f)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.versions, l.Versions); diff != "" {
				t.Errorf("versions (-want +got):\n%s", diff)
			}
			if l.Packages != tc.packages {
				t.Errorf("packages = %d, want %d", l.Packages, tc.packages)
			}
		})
	}
}

func TestParseGoModAndSum(t *testing.T) {
	g, err := ParseGoMod("go.mod", read(t, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	want := []Dependency{
		{Name: "github.com/google/uuid", Ecosystem: Go, Group: "main", Spec: "v1.6.0", Version: "v1.6.0", File: "go.mod", Line: 6},
		{Name: "golang.org/x/sync", Ecosystem: Go, Group: "main", Spec: "v0.25.0", Version: "v0.25.0", File: "go.mod", Line: 7},
		{Name: "gopkg.in/yaml.v3", Ecosystem: Go, Group: "indirect", Spec: "v3.0.1", Version: "v3.0.1", File: "go.mod", Line: 8},
	}
	if diff := cmp.Diff(want, g.Dependencies); diff != "" {
		t.Errorf("dependencies (-want +got):\n%s", diff)
	}
	if g.Path != "github.com/ami-orchestrator/example" || g.GoVersion != "1.26" {
		t.Errorf("path %q go %q", g.Path, g.GoVersion)
	}
	if diff := cmp.Diff([]string{"golang.org/x/sync => ../sync"}, g.Replaces); diff != "" {
		t.Errorf("replaces: %s", diff)
	}
	f, _ := os.Open(filepath.Join("testdata", "go.sum"))
	defer f.Close()
	s, err := ParseGoSum("go.sum", f)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]bool{"github.com/google/uuid@v1.6.0": true}, s.Modules); diff != "" || s.Lines != 3 {
		t.Errorf("go.sum modules %v lines %d", s.Modules, s.Lines)
	}
}

func TestParseModuleLists(t *testing.T) {
	l, err := ParseModulesYAML("config/modules.yaml", read(t, "ami-modules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	want := &ModuleList{
		Main:     []string{"base", "browser", "compliance", "domains", "files", "nodes", "streams", "ux"},
		Extended: []string{"base", "compliance", "backend", "browser", "domains", "files", "nodes", "streams", "ux"},
	}
	if diff := cmp.Diff(want, l); diff != "" {
		t.Errorf("modules.yaml (-want +got):\n%s", diff)
	}
	subs, err := ParseGitmodules(".gitmodules", read(t, "ami-gitmodules"))
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, s := range subs {
		paths = append(paths, s.Path)
	}
	wantPaths := []string{"browser", "ux", "base", "streams", "compliance", "domains", "files", "launcher", "cli-agents/gemini-cli", "learning", "cli-agents/qwen-code"}
	if diff := cmp.Diff(wantPaths, paths); diff != "" {
		t.Errorf("submodule paths (-want +got):\n%s", diff)
	}
	if subs[7].Name != "launcher" || subs[7].URL != "git@github.com:Independent-AI-Labs/AMI-NODES.git" || subs[7].Line != 37 {
		t.Errorf("launcher = %+v", subs[7])
	}
}

// YAML ends lines at a lone CR and at U+0085/U+2028/U+2029 too; errors
// name the line as counted by '\n', like every other parser's.
func TestModulesYAMLErrorLines(t *testing.T) {
	line := func(data string) int {
		t.Helper()
		_, err := ParseModulesYAML("modules.yaml", []byte(data))
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Fatalf("%q: error %v, want a *ParseError", data, err)
		}
		return pe.Line
	}
	for _, doc := range []string{
		"a: 1\nb: [\n",
		"main_modules:\n  - a\n  b: [\n",
		"main_modules:\n  - a\n\n\nextended_modules: {x\n",
		"a: 1\nb: \"x\n",
		"\"\n",
	} {
		want := line(doc)
		if want < 1 || want > strings.Count(doc, "\n")+1 {
			t.Errorf("%q: line %d outside the document", doc, want)
		}
		if got := line(strings.ReplaceAll(doc, "\n", "\r\n")); got != want {
			t.Errorf("%q with CRLF: line %d, want %d", doc, got, want)
		}
		if got := line(strings.ReplaceAll(doc, "\n", "\r")); got != 1 {
			t.Errorf("%q with lone CRs (one line by LF): line %d, want 1", doc, got)
		}
	}
	// Unicode line separators are line ends to YAML, not to people.
	if got := line("a: 1\u2028b: [\n"); got != 1 {
		t.Errorf("error after U+2028 on line %d, want 1", got)
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://user:s3cret@example.com/a.git": "https://user:REDACTED@example.com/a.git",
		"https://ghp_token@github.com/a.git":    "https://REDACTED@github.com/a.git",
		"git@github.com:org/a.git":              "git@github.com:org/a.git",
		"https://example.com/a@b":               "https://example.com/a@b",
	} {
		if got := RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseRequirement(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Requirement
		pin  string
	}{
		{"requests", Requirement{Name: "requests"}, ""},
		{"A.B-c_d[x, y]>=1,<2;os_name=='nt'", Requirement{Name: "A.B-c_d", Extras: []string{"x", "y"}, Spec: ">=1,<2", Markers: "os_name=='nt'"}, ""},
		{"x===1.0", Requirement{Name: "x", Spec: "===1.0"}, "1.0"},
		{"x==1.*", Requirement{Name: "x", Spec: "==1.*"}, ""},
		{"x @ file:///tmp/x", Requirement{Name: "x", URL: "file:///tmp/x"}, ""},
	} {
		got, err := ParseRequirement(tc.in)
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%q (-want +got):\n%s", tc.in, diff)
		}
		if got.Pinned() != tc.pin {
			t.Errorf("%q pinned = %q, want %q", tc.in, got.Pinned(), tc.pin)
		}
	}
	for _, bad := range []string{"", "-x", "x[a", "x @", "x y"} {
		if _, err := ParseRequirement(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	if got := NormalizePyName("Friendly__Bard.-x"); got != "friendly-bard-x" {
		t.Errorf("NormalizePyName = %q", got)
	}
}
