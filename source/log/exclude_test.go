package log

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/source/exclude"
)

// TestNeverRead: git internals, the trail's directory (by name and where
// configured) and private key files are never read, and the lines of a
// private key block inside a log are never kept.
func TestNeverRead(t *testing.T) {
	dir := t.TempDir()
	write := func(rel, content string) {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	const body = "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun"
	write(".git/HEAD", "ref: refs/heads/main\n")
	write(".git/logs/HEAD", "0000 1111 A U Thor <a@example.com> 1700000000 +0000\tcommit (initial): GITSECRET\n")
	write("sub/.git", "gitdir: ../.git/modules/sub\n")
	write(".audit/log.key", "PRIVATE+KEY+trail+1a2b3c4d+AUDITKEYAUDITKEYAUDITKEYAUDITKEYAUDITKEYAUD\n")
	write("trail/config.yaml", "TRAILSECRET: 1\n")
	write("deploy/id_rsa", "-----BEGIN RSA PRIVATE KEY-----\n"+body+"\n-----END RSA PRIVATE KEY-----\n")
	write("app.log", "2024-05-01 10:00:00 ERROR loaded key\n-----BEGIN RSA PRIVATE KEY-----\n"+body+"\n"+body+"\n-----END RSA PRIVATE KEY-----\n2024-05-01 10:00:01 ERROR after the key\n")
	write("plain.txt", "ERROR first\n-----BEGIN OPENSSH PRIVATE KEY-----\n"+body+"\n-----END OPENSSH PRIVATE KEY-----\nERROR last\n")

	recs, sum := collect(t, Config{Level: audit.SeverityDebug, Each: true, Exclude: exclude.New(filepath.Join(dir, "trail"))}, dir)
	var files []string
	for _, r := range recs {
		b, _ := json.Marshal(r)
		for _, bad := range []string{"GITSECRET", "AUDITKEY", "TRAILSECRET", body, "gitdir"} {
			if strings.Contains(string(b), bad) {
				t.Errorf("record %s %s holds %q", r.Action, r.Target, bad)
			}
		}
		if r.Action == ActionFile {
			files = append(files, r.Target)
		}
	}
	rel := func(p string) string { // dir holds .git: names are relative to it
		if filepath.IsAbs(p) {
			t.Errorf("%s is not named relative to the repository", p)
		}
		return p
	}
	var got []string
	for _, f := range files {
		got = append(got, rel(f))
	}
	want := []string{"app.log", "deploy/id_rsa", "plain.txt"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("file records %v, want %v", got, want)
	}
	for _, f := range sum.Files {
		switch rel(f.Path) {
		case "deploy/id_rsa":
			if !f.Skipped || f.Format != FormatExcluded || f.Lines != 0 {
				t.Errorf("private key file: %+v", f)
			}
		case "app.log":
			if f.KeyLines != 3 || f.Entries != 2 {
				t.Errorf("app.log: %d key lines, %d entries, want 3, 2", f.KeyLines, f.Entries)
			}
		case "plain.txt":
			if f.KeyLines != 2 { // the body and END lines
				t.Errorf("plain.txt: %d key lines, want 2", f.KeyLines)
			}
		}
	}
	if sum.Excluded != 4 { // .git, .audit, trail, sub/.git
		t.Errorf("excluded %d, want 4", sum.Excluded)
	}
	if _, err := (&Source{cfg: Config{}}).Run(t.Context(), filepath.Join(dir, ".git"), func(*audit.Record) error { return nil }); err == nil {
		t.Error("reading .git as logs was allowed")
	}
}
