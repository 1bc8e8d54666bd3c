package file

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/internal/memtrail"
)

// memTrail is what the source needs of a store, in memory, for unit
// tests. (The end-to-end test of the command uses the real store.)
type memTrail = memtrail.Trail

// collect runs a source over target and returns its records, appended to
// trail when it is not nil, and the entries Observe heard.
func collect(t *testing.T, cfg Config, target string, trail *memTrail) ([]*audit.Record, []Entry) {
	t.Helper()
	recs, entries, err := tryCollect(t, cfg, target, trail)
	if err != nil {
		t.Fatalf("Collect(%q): %v", target, err)
	}
	return recs, entries
}

func tryCollect(t *testing.T, cfg Config, target string, trail *memTrail) ([]*audit.Record, []Entry, error) {
	t.Helper()
	var entries []Entry
	cfg.Observe = func(e Entry) { entries = append(entries, e) }
	if trail != nil {
		cfg.Trail = trail
	}
	if cfg.Actor == "" {
		cfg.Actor = "tester"
	}
	src, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var recs []*audit.Record
	err = src.Collect(ctx, target, func(r *audit.Record) error {
		if err := r.Validate(); err != nil {
			t.Errorf("record %s is invalid: %v", r.Target, err)
		}
		recs = append(recs, r)
		return nil
	})
	if ctx.Err() != nil {
		t.Fatalf("Collect(%q) did not finish in time", target)
	}
	if err == nil && trail != nil && len(recs) > 0 {
		if err := trail.Append(context.Background(), recs); err != nil {
			t.Fatal(err)
		}
	}
	return recs, entries, err
}

// writeTree creates files (path → content) under dir.
func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for p, content := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// ageTree sets every file's times well in the past, so that hash reuse is
// allowed on the next run (see reuseMargin).
func ageTree(t *testing.T, dir string) {
	t.Helper()
	old := time.Now().Add(-time.Hour)
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			os.Chtimes(p, old, old)
		}
		return nil
	})
}

func sha(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func targets(recs []*audit.Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.Target
	}
	return out
}

func byTarget(recs []*audit.Record) map[string]*audit.Record {
	m := map[string]*audit.Record{}
	for _, r := range recs {
		m[r.Target] = r
	}
	return m
}

func gitRun(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_SYSTEM=/dev/null")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func needGit(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	must(t, err)
	defer in.Close()
	out, err := os.Create(to)
	must(t, err)
	_, err = io.Copy(out, in)
	must(t, err)
	must(t, out.Close())
}
