package manifest

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"unicode/utf8"
)

func seed(f *testing.F, names ...string) {
	for _, n := range names {
		data, err := os.ReadFile(filepath.Join("testdata", n))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
}

// checkResult asserts what every parser promises: an error is a
// *ParseError whose line lies inside the input, and every dependency
// holds valid UTF-8.
func checkResult(t *testing.T, data []byte, deps []Dependency, err error) {
	t.Helper()
	if err != nil {
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Fatalf("error %T is not a *ParseError: %v", err, err)
		}
		if lines := bytes.Count(data, []byte{'\n'}) + 1; pe.Line < 0 || pe.Line > lines {
			t.Fatalf("error line %d outside 1..%d: %v", pe.Line, lines, err)
		}
		if !utf8.ValidString(pe.Error()) {
			t.Fatalf("error is not valid UTF-8: %q", pe.Error())
		}
		return
	}
	for _, d := range deps {
		for _, s := range []string{d.Name, d.Spec, d.Version, d.Markers, d.Group} {
			if !utf8.ValidString(s) {
				t.Fatalf("dependency field %q is not valid UTF-8", s)
			}
		}
	}
}

func FuzzPyproject(f *testing.F) {
	seed(f, "ami-pyproject.toml", "full-pyproject.toml", "bad-pyproject.toml", "badtype-pyproject.toml")
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParsePyproject("pyproject.toml", data)
		var deps []Dependency
		if p != nil {
			deps = p.Dependencies
		}
		checkResult(t, data, deps, err)
	})
}

func FuzzUVLock(f *testing.F) {
	seed(f, "uv.lock", "bad-uv.lock")
	f.Fuzz(func(t *testing.T, data []byte) {
		_, err := ParseUVLock("uv.lock", data)
		checkResult(t, data, nil, err)
	})
}

func FuzzRequirements(f *testing.F) {
	seed(f, "req/requirements.txt", "req/requirements-base.txt")
	f.Add([]byte("-r other.txt\nx==1 \\\n --hash=sha256:00\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		files := map[string][]byte{"requirements.txt": data, "other.txt": []byte("-r requirements.txt\ny>=2\n")}
		read := func(name string) ([]byte, error) {
			if b, ok := files[filepath.ToSlash(name)]; ok {
				return b, nil
			}
			return nil, os.ErrNotExist
		}
		r, err := ParseRequirements("requirements.txt", read)
		var deps []Dependency
		if r != nil {
			deps = r.Dependencies
		}
		checkResult(t, data, deps, err)
	})
}

func FuzzPackageJSON(f *testing.F) {
	seed(f, "package.json", "bad-package.json", "badtype-package.json")
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParsePackageJSON("package.json", data)
		var deps []Dependency
		if p != nil {
			deps = p.Dependencies
		}
		checkResult(t, data, deps, err)
	})
}

func FuzzPackageLock(f *testing.F) {
	seed(f, "package-lock.json", "v1-package-lock.json", "bad-package-lock.json")
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := ParsePackageLock("package-lock.json", bytes.NewReader(data))
		checkResult(t, data, nil, err)
		if err == nil && l.Packages < len(l.Versions) {
			t.Fatalf("%d packages but %d hoisted versions", l.Packages, len(l.Versions))
		}
	})
}

func FuzzGoMod(f *testing.F) {
	seed(f, "go.mod", "bad-go.mod")
	f.Fuzz(func(t *testing.T, data []byte) {
		g, err := ParseGoMod("go.mod", data)
		var deps []Dependency
		if g != nil {
			deps = g.Dependencies
		}
		checkResult(t, data, deps, err)
	})
}

func FuzzGoSum(f *testing.F) {
	seed(f, "go.sum", "bad-go.sum")
	f.Fuzz(func(t *testing.T, data []byte) {
		_, err := ParseGoSum("go.sum", bytes.NewReader(data))
		checkResult(t, data, nil, err)
	})
}

func FuzzModuleLists(f *testing.F) {
	seed(f, "ami-modules.yaml", "bad-modules.yaml", "ami-gitmodules", "bad-gitmodules")
	f.Fuzz(func(t *testing.T, data []byte) {
		_, err := ParseModulesYAML("modules.yaml", data)
		checkResult(t, data, nil, err)
		subs, err := ParseGitmodules(".gitmodules", data)
		checkResult(t, data, nil, err)
		for _, s := range subs {
			if s.Path == "" {
				t.Fatalf("submodule %q without a path accepted", s.Name)
			}
		}
	})
}

func FuzzParseRequirement(f *testing.F) {
	f.Add("requests[socks]>=2 ; python_version<'3'")
	f.Add("x @ https://example.com/x.whl")
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRequirement(s)
		if err != nil {
			return
		}
		if r.Name == "" || NormalizePyName(r.Name) == "" {
			t.Fatalf("accepted %q without a name", s)
		}
	})
}
