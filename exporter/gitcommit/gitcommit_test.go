package gitcommit_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/exporter"
	"github.com/ami-orchestrator/ami-audit/exporter/exportertest"
	"github.com/ami-orchestrator/ami-audit/exporter/gitcommit"
)

func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, err := exec.Command("git", append([]string{"-C", dir}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

var recordID = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}`)

// TestCommitsSurviveALockedRepository: the repository refuses a commit
// for a while (another git holds its index lock); every batch is
// committed once, a user's staged change is left alone, and exporting the
// same records again commits nothing.
func TestCommitsSurviveALockedRepository(t *testing.T) {
	const n = 1000
	st := exportertest.Store(t, n)
	repo := t.TempDir()
	git(t, repo, "init", "-q")
	os.WriteFile(filepath.Join(repo, "user.txt"), []byte("staged by the user\n"), 0o644)
	git(t, repo, "add", "user.txt")
	e, err := gitcommit.New(gitcommit.Config{Repo: repo, LogID: "L", Origin: "example.com/log"})
	if err != nil {
		t.Fatal(err)
	}
	lock := filepath.Join(repo, ".git", "index.lock")
	batches := 0
	cursor := &exporter.Cursor{Path: filepath.Join(t.TempDir(), "c"), LogID: "L"}
	retries := 0
	run := &exporter.Runner{Store: st, Exporter: e, Dest: repo, BatchSize: 250, Cursor: cursor,
		OnRetry: func(error, time.Duration) { retries++ },
		OnExport: func([]*audit.Record) {
			if batches++; batches == 2 {
				os.WriteFile(lock, nil, 0o644)
				time.AfterFunc(400*time.Millisecond, func() { os.Remove(lock) })
			}
		}}
	if _, err := run.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if retries == 0 {
		t.Error("the locked repository was not noticed")
	}
	check := func() {
		t.Helper()
		log := git(t, repo, "log", "--format=%s")
		if got := strings.Count(log, "ami-audit: records"); got != 4 {
			t.Fatalf("%d commits:\n%s", got, log)
		}
		var got exportertest.Received
		for _, f := range strings.Fields(git(t, repo, "ls-tree", "-r", "--name-only", "HEAD")) {
			body := git(t, repo, "show", "HEAD:"+f)
			seen := map[string]bool{} // the last id is named twice in a report
			for _, id := range recordID.FindAllString(body, -1) {
				if !seen[id] {
					seen[id] = true
					got.Add(id)
				}
			}
		}
		got.Check(t, st, audit.Filter{}, 0)
	}
	check()
	if status := git(t, repo, "status", "--porcelain"); !strings.Contains(status, "A  user.txt") {
		t.Errorf("the user's staged file was touched:\n%s", status)
	}
	// the cursor lost (a crash before it was saved): the same batches
	// again, and no commit
	os.Remove(cursor.Path)
	if _, err := run.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	check()
	report := git(t, repo, "show", "HEAD:"+e.Path(750, 999))
	for _, want := range []string{"Audit records 750–999 of log L", "Last record_hash", "verify --record"} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q", want)
		}
	}
}
