package drift

import (
	"context"
	"crypto/rand"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/mod/sumdb/note"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/analyzer"
	"github.com/ami-orchestrator/ami-audit/baseline"
	"github.com/ami-orchestrator/ami-audit/internal/memtrail"
	"github.com/ami-orchestrator/ami-audit/source/file"
	gitsource "github.com/ami-orchestrator/ami-audit/source/git"
	"github.com/ami-orchestrator/ami-audit/source/module"
	"github.com/ami-orchestrator/ami-audit/source/service"
	"github.com/ami-orchestrator/ami-audit/state"
)

func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=Dev", "GIT_AUTHOR_EMAIL=dev@example.com", "GIT_COMMITTER_NAME=Dev",
		"GIT_COMMITTER_EMAIL=dev@example.com", "GIT_CONFIG_NOSYSTEM=1", "HOME="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v: %s", args, err, out)
	}
	return string(out)
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

// collect runs the file, module, service and git sources over root.
func collect(t *testing.T, root string, tr *memtrail.Trail) {
	t.Helper()
	ctx := context.Background()
	fs, _ := file.New(file.Config{Root: root, Trail: tr, Actor: "tester"})
	ms, _ := module.New(module.Config{Root: root, History: tr, IncludeDependencies: true})
	ss, _ := service.New(service.Config{Trail: tr, NoEngine: true, Actor: "tester"})
	gs, _ := gitsource.New(gitsource.Config{Recorded: tr, NoSignatures: true})
	for _, src := range []struct {
		s      audit.Source
		target string
	}{{fs, root}, {ms, ""}, {ss, root}, {gs, root}} {
		if err := memtrail.Collect(ctx, tr, src.s, src.target); err != nil {
			t.Fatal(err)
		}
	}
}

func pyproject(deps ...string) string {
	return "[project]\nname = \"app\"\nversion = \"1.0\"\ndependencies = [\"" + strings.Join(deps, "\", \"") + "\"]\n"
}

const twoServices = "services:\n  api: {health: {tcp: {host: 127.0.0.1, port: 1, timeout: 0.2}}}\n  db: {health: {tcp: {host: 127.0.0.1, port: 1, timeout: 0.2}}}\n"

func signer(t *testing.T) (note.Signer, note.Verifier) {
	skey, vkey, err := note.GenerateKey(rand.Reader, "log")
	if err != nil {
		t.Fatal(err)
	}
	s, _ := note.NewSigner(skey)
	v, _ := note.NewVerifier(vkey)
	return s, v
}

func run(t *testing.T, a *Analyzer, tr *memtrail.Trail, root string) analyzer.Result {
	t.Helper()
	res, err := analyzer.Run(context.Background(), analyzer.Config{Trail: tr, Appender: tr}, []audit.Analyzer{a}, analyzer.Input{Target: root})
	if err != nil {
		t.Fatal(err)
	}
	return res[0]
}

func findings(res analyzer.Result, check string) []string {
	var out []string
	for _, r := range res.Open {
		if r.Context[analyzer.MemberCheck] == check {
			out = append(out, string(r.Severity)+" "+r.Findings[0].FindingType+" "+r.Target)
		}
	}
	slices.Sort(out)
	return out
}

func TestDriftAgainstBaseline(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	git(t, root, "init", "-q", "-b", "main")
	write(t, root, map[string]string{
		"a.txt": "a\n", "b.txt": "b\n", "c.txt": "c\n", "keep.txt": "k\n", "other.txt": "o\n",
		"app/pyproject.toml":           pyproject("django==2.0.1", "requests==2.20.0"),
		"scripts/config/services.yaml": twoServices,
	})
	git(t, root, "add", "-A")
	git(t, root, "commit", "-qm", "Start the repository")
	tr := &memtrail.Trail{}
	collect(t, root, tr)

	// The baseline, saved and loaded as the command line does.
	st, err := state.At(ctx, tr, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	s, v := signer(t)
	b := baseline.New(st, baseline.Trail{Origin: "test", Size: uint64(tr.Len())}, nil, time.Now())
	if err := b.Sign(s); err != nil {
		t.Fatal(err)
	}
	var buf strings.Builder
	if err := b.Write(&buf); err != nil {
		t.Fatal(err)
	}
	loaded, _, err := baseline.Load(strings.NewReader(buf.String()), []note.Verifier{v})
	if err != nil {
		t.Fatal(err)
	}

	// One of each change, committed.
	time.Sleep(10 * time.Millisecond)
	write(t, root, map[string]string{
		"a.txt":                        "a, edited\n",
		"app/pyproject.toml":           pyproject("django==2.0.3", "requests==2.19.1"),
		"scripts/config/services.yaml": "services:\n  api: {health: {tcp: {host: 127.0.0.1, port: 1, timeout: 0.2}}}\n",
	})
	git(t, root, "rm", "-q", "b.txt")
	if err := os.Chmod(filepath.Join(root, "c.txt"), 0o600); err != nil {
		t.Fatal(err)
	}
	git(t, root, "add", "-A")
	git(t, root, "commit", "-qm", "Change one of each")
	collect(t, root, tr)

	a, err := New(Config{Baseline: loaded})
	if err != nil {
		t.Fatal(err)
	}
	res := run(t, a, tr, root)
	if diff := cmp.Diff(Checks, res.Done); diff != "" {
		t.Fatalf("checks done (-want +got):\n%s\nnotes %v", diff, a.Notes())
	}
	want := []string{
		"info dependency_upgraded app",
		"info file_changed a.txt",
		"info file_removed b.txt",
		"warning config_changed app/pyproject.toml",
		"warning config_changed scripts/config/services.yaml",
		"warning dependency_downgraded app",
		"warning permissions_changed c.txt",
		"warning service_removed db",
	}
	if diff := cmp.Diff(want, findings(res, CheckBaseline)); diff != "" {
		t.Errorf("drift (-want +got):\n%s", diff)
	}
	if got := findings(res, CheckUnexpected); len(got) != 0 {
		t.Errorf("unexpected changes in a clean tree: %v", got)
	}
	vel := findings(res, CheckVelocity)
	if diff := cmp.Diff([]string{"info change_velocity .", "info change_velocity app", "info change_velocity scripts"}, vel); diff != "" {
		t.Errorf("velocity (-want +got):\n%s", diff)
	}
	if again := run(t, a, tr, root); again.Appended() != 0 {
		t.Errorf("unchanged input appended %d records", again.Appended())
	}

	// Changes no commit explains: an edit, and an edit git is told to
	// overlook.
	write(t, root, map[string]string{"other.txt": "edited, not committed\n"})
	git(t, root, "update-index", "--assume-unchanged", "keep.txt")
	write(t, root, map[string]string{"keep.txt": "changed behind git's back\n"})
	if out := git(t, root, "status", "--porcelain"); strings.Contains(out, "keep.txt") {
		t.Fatalf("git sees keep.txt: %s", out)
	}
	res = run(t, a, tr, root)
	want = []string{"error hidden_change keep.txt", "warning uncommitted_change other.txt"}
	if diff := cmp.Diff(want, findings(res, CheckUnexpected)); diff != "" {
		t.Errorf("unexpected changes (-want +got):\n%s", diff)
	}
	// Restored: both resolved.
	write(t, root, map[string]string{"other.txt": "o\n", "keep.txt": "k\n"})
	res = run(t, a, tr, root)
	if got := findings(res, CheckUnexpected); len(got) != 0 || res.Resolved != 2 {
		t.Errorf("after restoring: %v, %d resolved", got, res.Resolved)
	}
}

// TestNoReference: without a baseline or a point of the trail, the
// baseline check is not done and says why; outside git, neither is the
// unexpected check.
func TestNoReference(t *testing.T) {
	tr := &memtrail.Trail{}
	a, _ := New(Config{})
	res := run(t, a, tr, t.TempDir())
	if len(res.Done) != 0 || len(a.Notes()) != 3 {
		t.Errorf("done %v, notes %q", res.Done, a.Notes())
	}
}

func TestParseStatus(t *testing.T) {
	in := "1 .M N... 100644 100644 100644 aaa aaa a.txt\x00" +
		"1 M. N... 100644 100644 100644 aaa bbb dir/with space.txt\x00" +
		"1 .M S.M. 160000 160000 160000 aaa aaa lib\x00" +
		"u UU N... 100644 100644 100644 100644 a b c conflict.txt\x00" +
		"? untracked\x00" + "garbage\x00"
	got := parseStatus([]byte(in))
	want := []statusEntry{{".M", "a.txt"}, {"M.", "dir/with space.txt"}, {"UU", "conflict.txt"}}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(statusEntry{})); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestVelocities: lines per module per week in a period, against the
// three periods before it.
func TestVelocities(t *testing.T) {
	tr := &memtrail.Trail{}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	n := 0
	commit := func(day int, files map[string]int) {
		n++
		r := audit.New("dev@example.com", gitsource.ActionCommit, ".", audit.TargetGit)
		r.Source = gitsource.SourceName
		r.Timestamp = t0.AddDate(0, 0, day)
		var list []any
		for p, lines := range files {
			list = append(list, map[string]any{"path": p, "added": lines, "removed": 0})
		}
		r.Context = map[string]any{"commit": strings.Repeat("0", 39) + string(rune('a'+n)), "files": list}
		r.Normalize()
		if err := tr.Append(context.Background(), []*audit.Record{r}); err != nil {
			t.Fatal(err)
		}
	}
	commit(1, map[string]int{"api/x.go": 30})                  // three weeks before
	commit(10, map[string]int{"api/x.go": 30, "web/y.js": 90}) // before
	commit(22, map[string]int{"api/x.go": 350, "lib/a.c": 1})  // in the week
	commit(27, map[string]int{"api/z.go": 350, "web/y.js": 7}) // in the week
	from, to := t0.AddDate(0, 0, 21), t0.AddDate(0, 0, 28)
	got, err := Velocities(context.Background(), tr, nil, from, to)
	if err != nil {
		t.Fatal(err)
	}
	want := []Velocity{
		{Module: "api", Lines: 700, FileChanges: 2, PerWeek: 700, Before: 20},
		{Module: "lib", Lines: 1, FileChanges: 1, PerWeek: 1},
		{Module: "web", Lines: 7, FileChanges: 1, PerWeek: 7, Before: 30},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
