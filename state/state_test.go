package state

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/internal/memtrail"
	"github.com/ami-orchestrator/ami-audit/source/file"
	"github.com/ami-orchestrator/ami-audit/source/module"
	"github.com/ami-orchestrator/ami-audit/source/service"
	"github.com/ami-orchestrator/ami-audit/store/sqlite"
)

// trail is what the sources and the readers need.
type trail interface {
	audit.Reader
	audit.Appender
}

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

// collect runs the file, module and service sources over root.
func collect(t *testing.T, root string, tr trail) {
	t.Helper()
	ctx := context.Background()
	fs, err := file.New(file.Config{Root: root, Trail: tr, Actor: "tester"})
	if err != nil {
		t.Fatal(err)
	}
	ms, err := module.New(module.Config{Root: root, History: tr, IncludeDependencies: true})
	if err != nil {
		t.Fatal(err)
	}
	ss, err := service.New(service.Config{Trail: tr, NoEngine: true, Actor: "tester"})
	if err != nil {
		t.Fatal(err)
	}
	for _, src := range []struct {
		s      audit.Source
		target string
	}{{fs, root}, {ms, ""}, {ss, root}} {
		if err := memtrail.Collect(ctx, tr, src.s, src.target); err != nil {
			t.Fatal(err)
		}
	}
}

const services = `services:
  api: {health: {tcp: {host: 127.0.0.1, port: 1, timeout: 0.2}}}
  db: {health: {tcp: {host: 127.0.0.1, port: 1, timeout: 0.2}}}
`

// drifted builds a repository, records it, changes one of each kind of
// thing and records it again. It returns the time between the two runs.
func drifted(t *testing.T, tr trail) (root string, between time.Time) {
	t.Helper()
	root = t.TempDir()
	write(t, root, map[string]string{
		"a.txt": "a\n", "b.txt": "b\n", "c.txt": "c\n", "keep.txt": "k\n",
		"app/pyproject.toml":           "[project]\nname = \"app\"\nversion = \"1.0\"\ndependencies = [\"django==2.0.1\", \"requests==2.20.0\", \"pyyaml==6.0.2\"]\n",
		"scripts/config/services.yaml": services,
	})
	old := time.Now().Add(-time.Hour)
	filepath.Walk(root, func(p string, _ os.FileInfo, _ error) error { return os.Chtimes(p, old, old) })
	collect(t, root, tr)
	between = time.Now()
	time.Sleep(10 * time.Millisecond)
	write(t, root, map[string]string{
		"a.txt":                        "a, edited\n",
		"app/pyproject.toml":           "[project]\nname = \"app\"\nversion = \"1.0\"\ndependencies = [\"django==2.0.3\", \"requests==2.19.1\", \"pyyaml==6.0.2\"]\n",
		"scripts/config/services.yaml": "services:\n  api: {health: {tcp: {host: 127.0.0.1, port: 1, timeout: 0.2}}}\n",
	})
	if err := os.Remove(filepath.Join(root, "b.txt")); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(root, "c.txt"), 0o600); err != nil {
		t.Fatal(err)
	}
	collect(t, root, tr)
	return root, between
}

// wantDrift is what drifted changed.
var wantDrift = []string{
	"config_changed app/pyproject.toml",
	"config_changed scripts/config/services.yaml",
	"dependency_downgraded app 2.20.0→2.19.1",
	"dependency_upgraded app 2.0.1→2.0.3",
	"file_changed a.txt",
	"file_removed b.txt",
	"permissions_changed c.txt 0644→0600",
	"service_removed db",
}

func summarize(d *Diff) []string {
	var out []string
	for _, c := range d.Changes {
		s := c.Kind + " " + c.Target
		switch c.Kind {
		case PermissionsChanged, DependencyUpgraded, DependencyDowngraded:
			s += " " + c.Old + "→" + c.New
		}
		out = append(out, s)
	}
	return out
}

func TestDrift(t *testing.T) {
	ctx := context.Background()
	stores := map[string]func(t *testing.T) trail{
		"memory": func(*testing.T) trail { return &memtrail.Trail{} },
		"sqlite": func(t *testing.T) trail {
			s, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(t.TempDir(), "audit.db"), Create: true})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		},
	}
	for name, open := range stores {
		t.Run(name, func(t *testing.T) {
			tr := open(t)
			if _, ok := tr.(NewestReader); ok != (name == "sqlite") {
				t.Fatalf("%s: NewestReader %v", name, ok)
			}
			_, between := drifted(t, tr)
			states, err := AtEach(ctx, tr, []time.Time{between, {}})
			if err != nil {
				t.Fatal(err)
			}
			before, after := states[0], states[1]
			if len(before.Files) != 6 || len(after.Files) != 5 || len(before.Services) != 2 || len(before.Dependencies) != 3 {
				t.Fatalf("before: %d files, %d services, %d dependencies; after: %d files", len(before.Files), len(before.Services), len(before.Dependencies), len(after.Files))
			}
			d := Compare(before, after, Options{})
			if diff := cmp.Diff(wantDrift, summarize(d)); diff != "" {
				t.Errorf("drift (-want +got):\n%s", diff)
			}
			if d.Bits() != BitRemoved|BitChanged {
				t.Errorf("bits %d", d.Bits())
			}
			// At reads the same state alone.
			alone, err := At(ctx, tr, between)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(before, alone); diff != "" {
				t.Errorf("At and AtEach differ:\n%s", diff)
			}
			if n := len(Compare(after, after, Options{}).Changes); n != 0 {
				t.Errorf("a state differs from itself by %d changes", n)
			}
		})
	}
}

func TestCompareKinds(t *testing.T) {
	a, b := New(time.Time{}), New(time.Time{})
	a.Files["x"] = File{SHA256: "1", Mode: "0644"}
	b.Files["x"] = File{SHA256: "2", Mode: "0755"}
	b.Files["ci/.github/workflows/ci.yml"] = File{SHA256: "3"}
	dep := func(eco, v, spec string) Dependency {
		return Dependency{Module: "m", Ecosystem: eco, Group: "main", Name: "n-" + eco + v + spec, Version: v, Spec: spec}
	}
	for _, pair := range [][2]Dependency{
		{dep("npm", "1.0.0-beta.2", ""), dep("npm", "1.0.0-beta.10", "")},
		{dep("go", "v0.17.0", ""), dep("go", "v0.16.0", "")},
		{dep("pypi", "", ">=1"), dep("pypi", "", ">=2")},
		{dep("pypi", "1.0", ""), dep("pypi", "1.0.0", "")},
	} {
		pair[1].Name = pair[0].Name
		a.Dependencies[pair[0].Key()] = pair[0]
		b.Dependencies[pair[1].Key()] = pair[1]
	}
	b.Services["new"] = Service{State: "up"}
	got := summarize(Compare(a, b, Options{}))
	want := []string{
		"config_added ci/.github/workflows/ci.yml",
		"dependency_changed m",
		"dependency_downgraded m v0.17.0→v0.16.0",
		"dependency_upgraded m 1.0.0-beta.2→1.0.0-beta.10",
		"file_changed x",
		"permissions_changed x 0644→0755",
		"service_added new",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
	if bits := Compare(a, b, Options{}).Bits(); bits != BitAdded|BitChanged {
		t.Errorf("bits %d", bits)
	}
}

func TestIsConfig(t *testing.T) {
	tests := map[string]bool{
		"config.yaml": true, "deep/dir/values.yml": true, "pyproject.toml": true, "compose.yaml": true,
		"docker-compose.override.yml": true, "svc/.env.example": true, ".github/workflows/ci.yml": true,
		"sub/.github/workflows/ci.yml": true, "Dockerfile": true, ".env": false, "main.go": false, "README.md": false,
	}
	for p, want := range tests {
		if got := IsConfig(DefaultConfig, p); got != want {
			t.Errorf("IsConfig(%s) = %v", p, got)
		}
	}
	if !IsConfig([]string{"**/deploy/*.json"}, "a/b/deploy/x.json") || IsConfig([]string{"deploy/*.json"}, "a/deploy/x.json") {
		t.Error("patterns with a slash")
	}
}
