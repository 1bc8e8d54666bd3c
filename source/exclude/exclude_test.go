package exclude

import (
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/mod/sumdb/note"
)

func TestRules(t *testing.T) {
	root := t.TempDir()
	mk := func(rel, content string) string {
		p := filepath.Join(root, filepath.FromSlash(rel))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	skey, _, _ := note.GenerateKey(rand.Reader, "test")
	mk(".git/HEAD", "ref: refs/heads/main\n")
	mk(".git/objects/.keep", "")
	mk(".git/refs/.keep", "")
	mk("sub/.git", "gitdir: ../store/sub.git\n")
	mk("store/sub.git/HEAD", "ref: refs/heads/main\n")
	mk("store/sub.git/objects/.keep", "")
	mk("store/sub.git/refs/.keep", "")
	mk(".audit/log.key", skey)
	mk("trail/audit.db", "x")
	mk("deploy/id_ed25519", "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n")
	mk("keys/log.key", skey+"\n")
	mk("logs/app.log", "2024-01-01 INFO ok\n")
	mk("docs/keys.md", "Never commit a key.\n")

	r := New(filepath.Join(root, "trail"))
	for rel, want := range map[string]string{
		".git":               ReasonGit,
		".git/HEAD":          ReasonGit,
		"sub/.git":           ReasonGit,
		".audit":             ReasonTrail,
		".audit/log.key":     ReasonTrail,
		"trail":              ReasonTrail,
		"trail/audit.db":     ReasonTrail,
		"deploy/id_ed25519":  ReasonPrivateKey,
		"keys/log.key":       ReasonPrivateKey,
		"logs/app.log":       "",
		"docs/keys.md":       "",
		"trailer/other.txt":  "",
		"store/sub.git/HEAD": "",
	} {
		if got := r.File(filepath.Join(root, rel)); got != want {
			t.Errorf("File(%s) = %q, want %q", rel, got, want)
		}
	}
	for rel, want := range map[string]string{
		".git":          ReasonGit,
		"store/sub.git": ReasonGit, // a git directory by content
		".audit":        ReasonTrail,
		"trail":         ReasonTrail,
		"logs":          "",
		"store":         "",
	} {
		if got := r.Dir(filepath.Join(root, rel)); got != want {
			t.Errorf("Dir(%s) = %q, want %q", rel, got, want)
		}
	}
	// Without the trail given, only the default name is known.
	var none *Rules
	if got := none.Path(filepath.Join(root, "trail", "audit.db")); got != "" {
		t.Errorf("nil rules excluded a custom trail dir: %q", got)
	}
	if got := none.Path(filepath.Join(root, ".audit", "audit.db")); got != ReasonTrail {
		t.Errorf("nil rules: .audit not excluded: %q", got)
	}
	// A link to the trail directory is the trail directory.
	if err := os.Symlink(filepath.Join(root, "trail"), filepath.Join(root, "trail-link")); err == nil {
		r2 := New(filepath.Join(root, "trail-link"))
		if got := r2.Path(filepath.Join(root, "trail", "audit.db")); got != ReasonTrail {
			t.Errorf("trail given through a link: %q", got)
		}
	}
}
