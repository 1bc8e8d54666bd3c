package module

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPrimaryLanguage(t *testing.T) {
	lc := func(l string, code int64) LanguageCounts {
		return LanguageCounts{Language: l, Counts: Counts{Code: code}}
	}
	for _, tc := range []struct {
		langs []LanguageCounts
		want  string
	}{
		{[]LanguageCounts{lc("Markdown", 900), lc("JSON", 500), lc("Python", 120)}, "Python"},
		{[]LanguageCounts{lc("JSON", 500), lc("YAML", 20), lc("Go", 10), lc("Python", 5)}, "Go"},
		{[]LanguageCounts{lc("Python", 800), lc("Markdown", 100)}, "Python"},
		{[]LanguageCounts{lc("Markdown", 100), lc("YAML", 10)}, "Markdown"},
		{nil, ""},
	} {
		if got := PrimaryLanguage(tc.langs); got != tc.want {
			t.Errorf("PrimaryLanguage(%v) = %q, want %q", tc.langs, got, tc.want)
		}
	}
}

// TestUninitialisedSubmodule: a submodule whose directory git left empty
// is reported with a warning saying how to initialise it, not as an empty
// module.
func TestUninitialisedSubmodule(t *testing.T) {
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, ".gitmodules"), []byte("[submodule \"lib\"]\n\tpath = lib\n\turl = ../lib.git\n[submodule \"core\"]\n\tpath = core\n\turl = ../core.git\n"), 0o644)
	os.Mkdir(filepath.Join(root, "lib"), 0o755)
	os.MkdirAll(filepath.Join(root, "core"), 0o755)
	os.WriteFile(filepath.Join(root, "core", "main.py"), []byte("print(1)\n"), 0o644)
	r := audit1(t, Config{Root: root}, "")
	lib := r.results["lib"]
	if lib == nil || len(lib.Warnings) != 1 || !strings.Contains(lib.Warnings[0], "git submodule update --init lib") {
		t.Errorf("lib: %+v", lib)
	}
	if core := r.results["core"]; core == nil || len(core.Warnings) != 0 || core.Totals.Files != 1 {
		t.Errorf("core: %+v", core)
	}
}

// TestNeverMeasuresKeysOrTrail: a module's private key files and trail
// directory are not read.
func TestNeverMeasuresKeysOrTrail(t *testing.T) {
	root := t.TempDir()
	write := func(rel, content string) {
		p := filepath.Join(root, filepath.FromSlash(rel))
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(content), 0o644)
	}
	write("svc/pyproject.toml", "[project]\nname = \"svc\"\n")
	write("svc/main.py", "print(1)\n")
	write("svc/key.py", "-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----\n")
	write("svc/.audit/x.py", "print(2)\n")
	r := audit1(t, Config{Root: root}, "svc")
	for p := range r.files {
		if p != "svc/main.py" && p != "svc/pyproject.toml" {
			t.Errorf("measured %s", p)
		}
	}
	if len(r.files) != 2 {
		t.Errorf("measured %d files, want 2", len(r.files))
	}
}
