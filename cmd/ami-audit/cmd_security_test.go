package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ami-orchestrator/ami-audit/internal/gitgen"
	"github.com/ami-orchestrator/ami-audit/report/formats"
)

// TestSecurityNeverWritesASecret runs the security analyzer with history
// over a repository holding planted credentials, writes every report
// format, every export and the queries, and looks for the bytes of every
// planted value in all of them and in the store's own files: none may be
// there. It also checks the counts: every planted secret found, once.
func TestSecurityNeverWritesASecret(t *testing.T) {
	needGit(t)
	ctx := t.Context()
	repo := filepath.Join(t.TempDir(), "repo")
	if _, err := gitgen.Generate(ctx, repo, gitgen.Options{Commits: 12, SubmoduleCommits: 3}); err != nil {
		t.Fatal(err)
	}
	ans, err := gitgen.PlantSecrets(ctx, repo, 11)
	if err != nil {
		t.Fatal(err)
	}
	trail := filepath.Join(t.TempDir(), "trail")
	out := t.TempDir()
	var written []string // everything printed on stdout and stderr
	cli := func(want int, args ...string) string {
		t.Helper()
		code, stdout, stderr := runCLI(t, append([]string{"--audit-dir", trail}, args...)...)
		if code != want {
			t.Fatalf("%v: exit %d, want %d: %s", args, code, want, stderr)
		}
		written = append(written, stdout, stderr)
		return stdout
	}

	r := gitReportJSON(t, cli(0, "security", "--history", "--skip=dependencies,patterns,permissions", "--format=json", repo))
	want := len(ans.Secrets) + len(ans.InTree())
	if got := summaryValue(t, r, "Open findings"); !strings.HasPrefix(got, strconv.Itoa(want)+" ") {
		t.Errorf("open findings %q, want %d (%d in the history, %d in the tree)", got, want, len(ans.Secrets), len(ans.InTree()))
	}
	// Unchanged: nothing appended, and the gate fails on the critical ones.
	cli(4, "security", "--history", "--skip=dependencies,patterns,permissions", "--fail-on=critical", "-q", repo)
	count := cli(0, "query", "--limit", "0", "--format", "jsonl")
	if n := strings.Count(count, "\n"); n != want {
		t.Errorf("the trail holds %d records after a re-run, want %d", n, want)
	}

	for _, f := range formats.Names() {
		cli(0, "security", "--history", "--skip=dependencies,patterns,permissions", "-q", "--format="+f, "--output="+filepath.Join(out, "report."+f), repo)
	}
	for _, f := range []string{"jsonl", "json", "yaml", "csv", "dgraph-rdf", "dot"} {
		cli(0, "export", "--format="+f, "--output="+filepath.Join(out, "export."+f))
	}
	cli(0, "query", "--action=security_finding", "--limit=0")
	cli(0, "query", "--severity=critical", "--since=30 days ago", "--format=yaml")
	cli(0, "repo", "--sources=git", "-q", "--format=json", repo)

	var files []string
	for _, dir := range []string{trail, out} {
		filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				files = append(files, p)
			}
			return nil
		})
	}
	if len(files) < 10 {
		t.Fatalf("only %d files written: %v", len(files), files)
	}
	blobs := map[string]string{}
	for i, w := range written {
		blobs["output "+strconv.Itoa(i)] = w
	}
	for _, p := range files {
		if strings.HasSuffix(p, ".key") || strings.HasSuffix(p, ".pub") {
			continue // the trail's own keys
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		blobs[p] = string(b)
	}
	for name, b := range blobs {
		for _, s := range ans.Secrets {
			for _, part := range secretParts(s.Value) {
				if strings.Contains(b, part) {
					t.Errorf("%s holds (part of) the %s planted in %s", name, s.Kind, s.Path)
				}
			}
		}
	}
	// The search reads what the store wrote: its files name the rule.
	inStore := false
	for name, b := range blobs {
		if strings.HasPrefix(name, trail) && strings.Contains(b, "aws-access-token") {
			inStore = true
		}
	}
	if !inStore {
		t.Error("no file of the store holds the findings' rule names: the search reads the wrong bytes")
	}
	if sarif := blobs[filepath.Join(out, "report.sarif")]; !strings.Contains(sarif, `"ruleId": "aws-access-token"`) {
		t.Error("the SARIF report has no aws-access-token result")
	}
}

// secretParts are the pieces of a secret that must never be written: the
// value, and each line of a multi-line key.
func secretParts(v string) []string {
	var out []string
	for l := range strings.Lines(v) {
		if l = strings.TrimSpace(l); len(l) >= 16 && !strings.HasPrefix(l, "-----") {
			out = append(out, l)
		}
	}
	if len(out) == 0 {
		out = []string{v}
	}
	return out
}
