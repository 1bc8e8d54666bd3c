package quality

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/internal/memtrail"
)

// findGosec finds gosec in PATH or in $(go env GOPATH)/bin, where
// scripts/install-linters.sh puts it. CI requires it
// (AMI_AUDIT_REQUIRE_LINTERS=1); elsewhere the test skips saying how to
// install it.
func findGosec(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("gosec"); err == nil {
		return p
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		p := filepath.Join(strings.TrimSpace(string(out)), "bin", "gosec")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if os.Getenv("AMI_AUDIT_REQUIRE_LINTERS") != "" {
		t.Fatal("gosec is required (AMI_AUDIT_REQUIRE_LINTERS is set): run scripts/install-linters.sh")
	}
	t.Skip("gosec is not installed: run scripts/install-linters.sh")
	return ""
}

const insecureGo = `package main

import (
	"crypto/md5"
	"fmt"
	"os"
)

func main() {
	h := md5.Sum([]byte("x"))
	fmt.Println(h)
	os.Remove("x")
	os.Chmod("y", 0o777)
}
`

// TestSARIFFromRealGosec ingests the SARIF gosec writes for a small module
// and checks it against gosec's own JSON report of the same module, and
// against the native gosec runner.
func TestSARIFFromRealGosec(t *testing.T) {
	gosec := findGosec(t)
	root := t.TempDir()
	write(t, root, "go.mod", "module example.com/insecure\n\ngo 1.22\n")
	write(t, root, "main.go", insecureGo)
	run := func(args ...string) []byte {
		cmd := exec.Command(gosec, args...)
		cmd.Dir = root
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("gosec %v: %v", args, err)
		}
		return out
	}
	run("-fmt=sarif", "-quiet", "-no-fail", "-out=gosec.sarif", "./...")
	jsonOut := run("-fmt=json", "-quiet", "-no-fail", "./...")
	native, err := parseGosec(jsonOut, root, root, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(native) < 3 {
		t.Fatalf("gosec found only %d issues in a module with weak crypto, unhandled errors and loose permissions", len(native))
	}
	res, err := ReadSARIF(filepath.Join(root, "gosec.sarif"), root)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Violations) != len(native) {
		t.Errorf("SARIF has %d results, gosec's JSON %d issues", len(res.Violations), len(native))
	}
	rules := map[string]int{}
	for _, v := range native {
		rules[strings.TrimPrefix(v.Rule, "gosec:")]++
	}
	for _, v := range res.Violations {
		id := strings.TrimPrefix(v.Rule, "sarif:gosec:")
		rules[id]--
		if v.File != "main.go" || v.Line == 0 || v.Tool != "sarif:gosec" {
			t.Errorf("SARIF violation %+v", v)
		}
	}
	for id, n := range rules {
		if n != 0 {
			t.Errorf("rule %s: %+d between JSON and SARIF", id, n)
		}
	}
	if rules["G401"] != 0 || !strings.Contains(string(jsonOut), "G401") {
		t.Error("the weak hash (G401) was not reported")
	}

	// Through the source: both the runner and the SARIF file, recorded once
	// each, and nothing on a re-run.
	trail := &memtrail.Trail{}
	cfg := Config{Linters: []*Linter{gosecLinter()}, SARIF: []string{filepath.Join(root, "gosec.sarif")},
		LookPath: func(string) (string, error) { return gosec, nil }}
	recs, sum := collect(t, trail, root, cfg)
	byTool := map[string]int{}
	for _, r := range recs {
		if r.Action == ActionViolation {
			byTool[r.Context["tool"].(string)]++
		}
	}
	if byTool["gosec"] != len(native) || byTool["sarif:gosec"] != len(native) {
		t.Errorf("recorded %v, want %d of each", byTool, len(native))
	}
	for _, ts := range sum.Tools {
		if ts.Tool == "gosec" && (!ts.Ran || ts.Version == "") {
			t.Errorf("gosec status %+v", ts)
		}
	}
	g401 := find(recs, "gosec:G401")
	if g401 == nil || g401.Severity != audit.SeverityWarning || g401.Context["cwe"] != "CWE-328" || g401.Context["category"] != "security" {
		t.Errorf("gosec:G401 record: %+v", g401)
	}
	if again, _ := collect(t, trail, root, cfg); len(again) != 0 {
		t.Errorf("re-run appended %v", actions(again))
	}
}
