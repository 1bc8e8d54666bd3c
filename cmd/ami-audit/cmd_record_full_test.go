//go:build linux

package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// record --from on a full disk names the real reason (no space left), not
// what failed after it; keeps the records acknowledged before; and the
// trail takes records again once there is room. The disk is a 1 MiB tmpfs,
// which needs root (CI runs as root); elsewhere the test skips.
func TestRecordFromFullDisk(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a small tmpfs (CI runs as root)")
	}
	disk := filepath.Join(t.TempDir(), "disk")
	if err := os.Mkdir(disk, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", disk).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here: %v %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", disk).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v %s", disk, err, out)
		}
	})
	dir := filepath.Join(disk, ".audit")
	cli := func(stdin string, args ...string) (int, string, string) {
		t.Helper()
		return runCLIWithInput(t, stdin, append([]string{"--audit-dir", dir}, args...)...)
	}
	if code, _, errOut := cli("", "init"); code != exitOK {
		t.Fatalf("init: %d %s", code, errOut)
	}
	if code, _, errOut := cli(`{"actor":"ci","action":"deploy","target":"svc","target_type":"service"}`+"\n", "record", "--from", "-"); code != exitOK {
		t.Fatalf("record: %d %s", code, errOut)
	}
	// More than the disk holds, in one atomic batch, and more than the
	// writer caches, so that SQLite meets the full disk in the middle of the
	// transaction (and rolls it back itself), not only at the commit.
	var b strings.Builder
	for i := range 4000 {
		fmt.Fprintf(&b, `{"actor":"ci","action":"scan","target":"f%d","target_type":"file","context":{"pad":"%s"}}`+"\n", i, strings.Repeat("x", 3000))
	}
	code, _, errOut := cli(b.String(), "record", "--from", "-")
	if code != exitError {
		t.Fatalf("record of a batch larger than the disk: exit %d, want %d:\n%s", code, exitError, errOut)
	}
	for _, want := range []string{"no space left on device", "nothing was appended", "hint: free some space"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	if strings.Contains(errOut, "savepoint") {
		t.Errorf("stderr names a savepoint, not the full disk:\n%s", errOut)
	}
	code, out, errOut := cli("", "verify")
	if code != exitOK || !strings.Contains(out, "ok    chain        1 record,") {
		t.Fatalf("verify after the failure: exit %d\n%s%s", code, out, errOut)
	}
	code, _, errOut = cli(`{"actor":"ci","action":"deploy","target":"svc","target_type":"service"}`+"\n", "record", "--from", "-")
	if code != exitOK {
		t.Fatalf("record after the failure: exit %d: %s", code, errOut)
	}
	if code, out, _ := cli("", "verify"); code != exitOK || !strings.Contains(out, "ok    chain        2 records,") {
		t.Fatalf("verify: exit %d\n%s", code, out)
	}
}
