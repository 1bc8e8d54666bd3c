package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestPythonVerifierOnForgettingTrail has the command line commit
// confidential values, redact one, hold and prune records by retention,
// and checks that the Python verifier agrees with 'ami-audit verify' on
// the masked and the revealed export, and catches what was changed.
func TestPythonVerifierOnForgettingTrail(t *testing.T) {
	needPython(t)
	tmp := t.TempDir()
	dir := filepath.Join(tmp, ".audit")
	path := func(name string) string { return filepath.Join(tmp, name) }
	a := func(args ...string) string {
		out, _ := pyCLI(t, "", append([]string{"--audit-dir", dir, "--quiet"}, args...)...)
		return out
	}
	a("init", "--origin", "test.example/forget")
	var ids []string
	for i, age := range []string{"400 days ago", "300 days ago", "200 days ago", "120 days ago", "60 days ago", "1 day ago"} {
		args := []string{"record", "--actor", "svc", "--action", "restart", "--target", "logs/api.log", "--target-type", "log", "--timestamp", age}
		if i%2 == 0 {
			args = append(args, "--classification", "confidential", "--context", "user=u"+age[:3], "--context-json", `{"n":1.5,"tags":["é"]}`)
		}
		if i == 1 {
			args[6] = "logs/held.log"
		}
		ids = append(ids, strings.TrimSpace(a(args...)))
	}
	a("checkpoint", "--output", path("cp.txt"))
	a("redact", "--record", ids[4], "--field", "context.user", "--reason", "erasure request", "--key", filepath.Join(dir, "log.key"))
	a("retention", "hold", "--target", "logs/held.log", "--reason", "litigation")
	f, err := os.OpenFile(filepath.Join(dir, "config.yaml"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("retention:\n  policies:\n    - name: logs\n      target_type: log\n      keep: 90d\n")
	f.Close()
	a("retention", "apply", "--key", filepath.Join(dir, "log.key"))
	goVerify := a("verify", "--checkpoint", path("cp.txt"))
	if !strings.Contains(goVerify, "3 records by policy logs") {
		t.Fatalf("ami-audit verify:\n%s", goVerify)
	}
	root := regexp.MustCompile(`Merkle root (\S+);`).FindStringSubmatch(goVerify)[1]
	a("export", "--output", path("masked.jsonl"))
	a("export", "--reveal", "--output", path("revealed.jsonl"))
	for _, name := range []string{"masked.jsonl", "revealed.jsonl"} {
		code, out := pyVerify(t, path(name), "--checkpoint", path("cp.txt"))
		if code != 0 {
			t.Fatalf("%s: exit %d:\n%s", name, code, out)
		}
		if m := pyRootLine.FindStringSubmatch(out); m == nil || m[2] != root {
			t.Errorf("%s: the script's root is not ami-audit's %s:\n%s", name, root, out)
		}
		for _, want := range []string{"1 record with committed values", "redacted: 1 by 1 redaction record", "3 records pruned, as 1 retention record said"} {
			if !strings.Contains(out, want) {
				t.Errorf("%s: output lacks %q:\n%s", name, want, out)
			}
		}
	}
	revealed := pyReadLines(t, path("revealed.jsonl"))
	if !strings.Contains(revealed[4], `"disclosures":{"context.n":`) || strings.Contains(revealed[4], `"context.user":{`) {
		t.Fatalf("record 4 of the revealed export: %s", revealed[4])
	}
	tests := []struct {
		name       string
		line       int
		old, new   string
		want       string
		removeLine bool
	}{
		{"a disclosed value changed", 4, `"value":1.5`, `"value":2.5`, "does not match its commitment", false},
		{"a commitment changed", 4, `"commitments":{"context.n":"`, `"commitments":{"context.n":"0`, "record_hash mismatch", false},
		{"a pruned record's policy changed", 0, `"policy":"logs"`, `"policy":"other"`, "or not the same ones", false},
		{"a pruned record's mark removed", 0, `"pruned":{"policy":"logs","retention_sequence":8},`, ``, "record_hash mismatch", false},
		{"a pruned record dropped", 2, "", "", "sequence is 3 where 2 was expected", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lines := append([]string(nil), revealed...)
			if tt.removeLine {
				lines = append(lines[:tt.line], lines[tt.line+1:]...)
			} else {
				if !strings.Contains(lines[tt.line], tt.old) {
					t.Fatalf("line %d lacks %q: %s", tt.line, tt.old, lines[tt.line])
				}
				lines[tt.line] = strings.Replace(lines[tt.line], tt.old, tt.new, 1)
			}
			f := filepath.Join(t.TempDir(), "tampered.jsonl")
			if err := os.WriteFile(f, []byte(strings.Join(lines, "")), 0o644); err != nil {
				t.Fatal(err)
			}
			code, out := pyVerify(t, f)
			if code != exitVerifyFails || !strings.Contains(out, tt.want) {
				t.Errorf("exit %d, want %d and %q:\n%s", code, exitVerifyFails, tt.want, out)
			}
		})
	}
}
