package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/ledger"
)

// These tests check a trail written by the command line with
// scripts/verify_export.py, an implementation of the canonical form, chain
// and Merkle tree in Python's standard library that shares no code with
// ami-audit.

var (
	pyScript     = filepath.Join("..", "..", "scripts", "verify_export.py")
	pyVectorFile = filepath.Join("..", "..", "testdata", "vectors", "canonical.json")
)

// pyTrickyLines are records as a tool would pipe them to 'record --from -':
// unicode, floats at the edges of the number format, nested objects, keys
// whose UTF-16 order differs from their code point order, findings and
// violations with and without their optional members.
var pyTrickyLines = []string{
	`{"actor":"Zoë","action":"scan","target":"src/naïve.py","target_type":"file","timestamp":"2024-02-29T23:59:59.123+05:30",` +
		`"context":{"floats":[0.1,1e21,1e-7,-0.0,5e-324,1.7976931348623157e308,123456.789e3,4.50],"max":9007199254740991,` +
		`"unicode":"日本語 \ud83d\ude00 \u2028 \u0000\u001f \"q\" \\","\ue000":1,"\ud83d\ude00":2,"nested":{"b":{"z":null,"a":[true,false]},"a":[]}}}`,
	`{"actor":"ruff","action":"lint","target":"modules/core","target_type":"quality","severity":"ERROR","reason":"nightly\nrun",` +
		`"findings":[{"finding_type":"complexity","severity":"warning","description":"too complex","location":"a.py:3","recommendation":"split","metadata":{"score":31.5}},` +
		`{"finding_type":"coverage","description":"no tests"}],` +
		`"violations":[{"rule":"E501","severity":"error","message":"line too long","file_path":"a.py","line_number":12,"column_number":89},` +
		`{"rule":"D100","message":"missing docstring"},{"rule":"W291","message":"trailing space","file_path":"b.py","line_number":1}]}`,
	`{"actor":"ci","action":"deploy","target":"svc/api","target_type":"service","classification":"restricted","metadata":{"build":{"id":"b-1","attempt":2}},"context":{"empty":{},"list":[[],[{}]],"":"empty key"}}`,
	`{"actor":"ops","action":"restart","target":"svc/db","target_type":"service","timestamp":"1999-12-31T23:59:59.999999999Z","context":{"reason_code":-42,"ratio":0.3333333333333333}}`,
	`{"actor":"git","action":"git_commit","target":"repo","target_type":"git","context":{"message":"Fix \u00e9\u0301 vs \u00e9 and \ufb33","sizes":[1,10,100,1e3,1e6,1e15,1e20,9.007199254740992e15,1e22]}}`,
}

// cli runs one command line in-process with stdin.
func pyCLI(t *testing.T, stdin string, args ...string) (string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(stdin), &stdout, &stderr)
	if code != exitOK {
		t.Fatalf("ami-audit %s: exit %d\n%s%s", strings.Join(args, " "), code, stdout.String(), stderr.String())
	}
	return stdout.String(), stderr.String()
}

// pyVerify runs the script and returns its exit code and output.
func pyVerify(t *testing.T, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command("python3", append([]string{pyScript}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode(), string(out)
		}
		t.Fatalf("python3: %v", err)
	}
	return 0, string(out)
}

func needPython(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 is not installed: the independent Python verifier cannot run here")
	}
}

// pyExportedRecord is what the tamper tests need of an exported line.
type pyExportedRecord struct {
	Sequence uint64 `json:"sequence"`
	RecordID string `json:"record_id"`
	Hash     string `json:"record_hash"`
}

func pyReadLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.SplitAfter(strings.TrimSuffix(string(b), "\n"), "\n")
}

func pyParseExported(t *testing.T, line string) pyExportedRecord {
	t.Helper()
	var r pyExportedRecord
	if err := json.Unmarshal([]byte(strings.TrimSuffix(strings.TrimSpace(line), ",")), &r); err != nil {
		t.Fatalf("export line %q: %v", line, err)
	}
	return r
}

// checkpointRoot reads size and base64 root from a signed checkpoint file.
func pyCheckpointRoot(t *testing.T, path string) (uint64, string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	body, _, ok := strings.Cut(string(b), "\n\n")
	if !ok {
		t.Fatalf("%s is not a signed note:\n%s", path, b)
	}
	cp, err := ledger.ParseCheckpoint(body + "\n")
	if err != nil {
		t.Fatal(err)
	}
	return cp.Size, strings.Split(body, "\n")[2]
}

var pyRootLine = regexp.MustCompile(`(?m)^ok +merkle root +(\d+) (\S+)$`)

func TestPythonVerifierOnCLITrail(t *testing.T) {
	needPython(t)
	tmp := t.TempDir()
	dir := filepath.Join(tmp, ".audit")
	path := func(name string) string { return filepath.Join(tmp, name) }
	a := func(stdin string, args ...string) string {
		out, _ := pyCLI(t, stdin, append([]string{"--audit-dir", dir, "--quiet"}, args...)...)
		return out
	}

	a("", "init", "--difficulty", "1", "--origin", "test.example/trail")
	a("", "keygen", "--name", "alice", "--dir", tmp)
	first := strings.TrimSpace(a("", "record", "--actor", "ci", "--action", "deploy", "--target", "svc/api", "--target-type", "service",
		"--reason", "release 1.4", "--context", "version=1.4", "--context-json", `{"float":2.5e-8,"tags":["a","β"]}`))
	ids := strings.Fields(a(strings.Join(pyTrickyLines, "\n")+"\n", "record", "--from", "-"))
	if len(ids) != len(pyTrickyLines) {
		t.Fatalf("record --from - printed %d ids, want %d", len(ids), len(pyTrickyLines))
	}
	a("", "sign", "--key", path("alice.key"), "--record", ids[1])
	a("", "checkpoint", "--output", path("cp-6.txt"))
	// Two more records after the first checkpoint, then a second one.
	a(pyTrickyLines[0]+"\n"+pyTrickyLines[1]+"\n", "record", "--from", "-")
	a("", "checkpoint", "--output", path("cp-8.txt"))
	a("", "prove", "--record", ids[2], "--checkpoint", path("cp-6.txt"), "--output", path("proof.json"))
	a("", "export", "--format", "jsonl", "--output", path("trail.jsonl"))
	a("", "export", "--format", "json", "--output", path("trail.json"))
	goVerify := a("", "verify")

	size6, root6 := pyCheckpointRoot(t, path("cp-6.txt"))
	size8, root8 := pyCheckpointRoot(t, path("cp-8.txt"))
	if size6 != 6 || size8 != 8 {
		t.Fatalf("checkpoint sizes %d and %d, want 6 and 8", size6, size8)
	}
	if !strings.Contains(goVerify, "Merkle root "+root8) {
		t.Fatalf("ami-audit verify does not report the checkpoint's root %s:\n%s", root8, goVerify)
	}

	t.Run("export passes and gives the checkpoint's root", func(t *testing.T) {
		for _, f := range []string{"trail.jsonl", "trail.json"} {
			code, out := pyVerify(t, path(f), "--difficulty", "1", "--checkpoint", path("cp-6.txt"), "--checkpoint", path("cp-8.txt"))
			if code != 0 {
				t.Fatalf("%s: exit %d:\n%s", f, code, out)
			}
			m := pyRootLine.FindStringSubmatch(out)
			if m == nil || m[1] != "8" || m[2] != root8 {
				t.Errorf("%s: script prints %q, want merkle root 8 %s:\n%s", f, m, root8, out)
			}
			for _, want := range []string{"8 records", "cp-6.txt: test.example/trail size 6", "size 6, root matches", "size 8, root matches", "NOT checked"} {
				if !strings.Contains(out, want) {
					t.Errorf("%s: output lacks %q:\n%s", f, want, out)
				}
			}
		}
		// The script's root over the first 6 records is the first checkpoint's.
		lines := pyReadLines(t, path("trail.jsonl"))
		head := path("head6.jsonl")
		if err := os.WriteFile(head, []byte(strings.Join(lines[:6], "")), 0o644); err != nil {
			t.Fatal(err)
		}
		code, out := pyVerify(t, head)
		if m := pyRootLine.FindStringSubmatch(out); code != 0 || m == nil || m[1] != "6" || m[2] != root6 {
			t.Errorf("first 6 records: exit %d, want root %s:\n%s", code, root6, out)
		}
	})

	t.Run("the record from flags and the signed record are in the export", func(t *testing.T) {
		lines := pyReadLines(t, path("trail.jsonl"))
		if r := pyParseExported(t, lines[0]); r.RecordID != first {
			t.Errorf("first exported record is %s, want %s", r.RecordID, first)
		}
		if !strings.Contains(lines[2], `"signer":"alice"`) {
			t.Errorf("record 2 carries no signature by alice: %s", lines[2])
		}
	})

	t.Run("tampering is caught and the record named", func(t *testing.T) {
		lines := pyReadLines(t, path("trail.jsonl"))
		recs := make([]pyExportedRecord, len(lines))
		for i, l := range lines {
			recs[i] = pyParseExported(t, l)
		}
		name := func(i int) string { return fmt.Sprintf("record %d (%s)", recs[i].Sequence, recs[i].RecordID) }
		replace := func(i int, old, new string) []string {
			out := append([]string(nil), lines...)
			if !strings.Contains(out[i], old) {
				t.Fatalf("line %d lacks %q: %s", i, old, out[i])
			}
			out[i] = strings.Replace(out[i], old, new, 1)
			return out
		}
		swapped := append([]string(nil), lines...)
		swapped[3], swapped[4] = swapped[4], swapped[3]
		deleted := append(append([]string(nil), lines[:4]...), lines[5:]...)
		rewritten := pyRewriteTail(t, lines, 3, func(r *audit.Record) { r.Reason = "rewritten" })
		upperID := pyRewriteTail(t, lines, 3, func(r *audit.Record) { r.RecordID = strings.ToUpper(r.RecordID) })
		urnFinding := pyRewriteTail(t, lines, 2, func(r *audit.Record) { r.Findings[0].FindingID = "urn:uuid:" + r.Findings[0].FindingID })
		twice := pyRewriteTail(t, lines, 3, func(r *audit.Record) { r.RecordID = recs[1].RecordID })
		tests := []struct {
			name   string
			lines  []string
			args   []string
			want   []string
			format string
		}{
			{"changed actor", replace(1, `"actor":"Zoë"`, `"actor":"Zoe"`), nil, []string{name(1), "record_hash mismatch"}, ""},
			{"changed nested float", replace(1, `1e-7`, `1e-8`), nil, []string{name(1), "record_hash mismatch"}, ""},
			{"changed violation line", replace(2, `"line_number":12`, `"line_number":13`), nil, []string{name(2), "record_hash mismatch"}, ""},
			{"changed record_hash", replace(5, recs[5].Hash, strings.Repeat("0", 64)), nil, []string{"record 5", "record_hash mismatch"}, ""},
			{"deleted middle line", deleted, nil, []string{name(5), "sequence is 5 where 4 was expected"}, ""},
			{"swapped lines", swapped, nil, []string{name(4), "sequence is 4 where 3 was expected"}, ""},
			{"swapped lines in the json form", nil, nil, []string{name(4), "sequence is 4 where 3 was expected"}, "json"},
			{"truncated tail", lines[:5], []string{"--checkpoint", path("cp-6.txt")}, []string{"commits to 6 records but the export holds 5"}, ""},
			{"tail rewritten with fresh hashes", rewritten, []string{"--checkpoint", path("cp-6.txt")}, []string{"the root of the first 6 records is", "rewritten"}, ""},
			{"proof of work", lines, []string{"--difficulty", "4"}, []string{"proof of work"}, ""},
			{"record_id in another spelling", upperID, nil, []string{"record 3 (" + strings.ToUpper(recs[3].RecordID) + ")", "is not a UUID in its one spelling"}, ""},
			{"finding_id in another spelling", urnFinding, nil, []string{name(2), "findings[0].finding_id 'urn:uuid:", "one spelling"}, ""},
			{"record_id twice", twice, nil, []string{"record 3 (" + recs[1].RecordID + ")", "occurs twice"}, ""},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				f := filepath.Join(t.TempDir(), "tampered.jsonl")
				content := strings.Join(tt.lines, "")
				if tt.format == "json" {
					arr := pyReadLines(t, path("trail.json")) // "[\n", record lines, "]\n"
					arr[4], arr[5] = arr[5], arr[4]           // records 3 and 4, both followed by a comma
					content, f = strings.Join(arr, ""), filepath.Join(t.TempDir(), "tampered.json")
				}
				if err := os.WriteFile(f, []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
				code, out := pyVerify(t, append([]string{f}, tt.args...)...)
				if code != exitVerifyFails {
					t.Fatalf("exit %d, want %d (verification failed):\n%s", code, exitVerifyFails, out)
				}
				for _, w := range tt.want {
					if !strings.Contains(out, w) {
						t.Errorf("output lacks %q:\n%s", w, out)
					}
				}
			})
		}
		// The rewritten tail is a valid chain on its own: only the checkpoint
		// catches it.
		f := path("rewritten.jsonl")
		if err := os.WriteFile(f, []byte(strings.Join(rewritten, "")), 0o644); err != nil {
			t.Fatal(err)
		}
		if code, out := pyVerify(t, f); code != 0 {
			t.Errorf("rewritten chain without a checkpoint: exit %d, want 0 (it is self-consistent):\n%s", code, out)
		}
	})

	t.Run("inclusion proofs", func(t *testing.T) {
		// Every record against both checkpoints: leaves at every position of
		// trees of 6 and 8 leaves, checked by one run of the script.
		args := []string{}
		var wants []string
		for _, l := range pyReadLines(t, path("trail.jsonl")) {
			r := pyParseExported(t, l)
			for _, cp := range []struct {
				file string
				size uint64
			}{{"cp-6.txt", 6}, {"cp-8.txt", 8}} {
				if r.Sequence >= cp.size {
					continue
				}
				f := path(fmt.Sprintf("proof-%d-%d.json", r.Sequence, cp.size))
				a("", "prove", "--record", r.RecordID, "--checkpoint", path(cp.file), "--output", f)
				args = append(args, "--proof", f)
				wants = append(wants, fmt.Sprintf("%s: record %d is in test.example/trail", f, r.Sequence), fmt.Sprintf("of size %d", cp.size))
			}
		}
		if len(args) != 2*(6+8) {
			t.Fatalf("%d proofs, want 14", len(args)/2)
		}
		code, out := pyVerify(t, args...)
		if code != 0 {
			t.Fatalf("exit %d:\n%s", code, out)
		}
		for _, w := range wants {
			if !strings.Contains(out, w) {
				t.Errorf("output lacks %q:\n%s", w, out)
			}
		}
	})

	t.Run("bad inclusion proofs fail", func(t *testing.T) {
		b, err := os.ReadFile(path("proof.json"))
		if err != nil {
			t.Fatal(err)
		}
		var p map[string]any
		if err := json.Unmarshal(b, &p); err != nil {
			t.Fatal(err)
		}
		hashes := p["inclusion_proof"].([]any)
		cpText := p["checkpoint"].(string)
		mutations := []struct {
			name   string
			mutate func(map[string]any)
			want   string
		}{
			{"proof hash changed", func(q map[string]any) {
				h := append([]any(nil), hashes...)
				h[0] = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
				q["inclusion_proof"] = h
			}, "does not lead to the checkpoint's root"},
			{"proof hash dropped", func(q map[string]any) { q["inclusion_proof"] = hashes[1:] }, "does not lead to the checkpoint's root"},
			{"proof hash added", func(q map[string]any) { q["inclusion_proof"] = append(append([]any(nil), hashes...), hashes[0]) }, "does not lead to the checkpoint's root"},
			{"checkpoint root replaced", func(q map[string]any) {
				q["checkpoint"] = strings.Replace(cpText, root6, root8, 1)
			}, "does not lead to the checkpoint's root"},
			{"tree size differs from the checkpoint", func(q map[string]any) { q["tree_size"] = 7 }, "differs from the checkpoint's size"},
			{"leaf index differs from the record", func(q map[string]any) { q["leaf_index"] = 2 }, "leaf_index 2 differs"},
			{"record changed", func(q map[string]any) { q["record"].(map[string]any)["actor"] = "mallory" }, "record_hash mismatch"},
		}
		for _, m := range mutations {
			t.Run(m.name, func(t *testing.T) {
				t.Parallel()
				var q map[string]any
				if err := json.Unmarshal(b, &q); err != nil {
					t.Fatal(err)
				}
				m.mutate(q)
				nb, _ := json.Marshal(q)
				f := filepath.Join(t.TempDir(), "bad-proof.json")
				if err := os.WriteFile(f, nb, 0o644); err != nil {
					t.Fatal(err)
				}
				if code, out := pyVerify(t, "--proof", f); code != exitVerifyFails || !strings.Contains(out, m.want) {
					t.Errorf("exit %d, want %d and %q:\n%s", code, exitVerifyFails, m.want, out)
				}
				// The same file fails the same way in the CLI.
				var stdout, stderr bytes.Buffer
				if code := run(context.Background(), []string{"--audit-dir", dir, "verify", "--proof", f}, strings.NewReader(""), &stdout, &stderr); code != exitVerifyFails {
					t.Errorf("ami-audit verify --proof: exit %d, want %d:\n%s%s", code, exitVerifyFails, stdout.String(), stderr.String())
				}
			})
		}
	})
}

// pyRewriteTail changes record from and relinks every later record with
// recomputed hashes: the forgery a hash chain alone cannot detect.
// pyRewriteTail changes record from with change and recomputes the hashes
// from there on: a self-consistent chain that only a checkpoint (or a rule
// beyond the hashes) can catch.
func pyRewriteTail(t *testing.T, lines []string, from int, change func(*audit.Record)) []string {
	t.Helper()
	out := append([]string(nil), lines[:from]...)
	prev := pyParseExported(t, lines[from-1]).Hash
	for i := from; i < len(lines); i++ {
		var r audit.Record
		if err := json.Unmarshal([]byte(lines[i]), &r); err != nil {
			t.Fatal(err)
		}
		if i == from {
			change(&r)
		}
		r.PreviousHash = prev
		h, err := r.Hash()
		if err != nil {
			t.Fatal(err)
		}
		r.RecordHash, prev = h, h
		b, err := r.AppendJSON(nil)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(b)+"\n")
	}
	return out
}

func TestPythonVerifierVectors(t *testing.T) {
	needPython(t)
	code, out := pyVerify(t, "--vectors", pyVectorFile)
	if code != 0 || !strings.Contains(out, "ok    vectors") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	// A wrong expected value in any section is reported.
	type sections struct {
		cases, records []map[string]any
		roots          []any
	}
	for _, tc := range []struct {
		name   string
		mutate func(v sections)
		want   string
	}{
		{"case canonical", func(v sections) { v.cases[10]["canonical"] = "1e-07" }, "canonical form"},
		{"case sha256", func(v sections) { v.cases[3]["sha256"] = strings.Repeat("0", 64) }, "sha256 differs"},
		{"refusal accepted", func(v sections) { v.cases[len(v.cases)-1]["input"] = 1 }, "accepted, but must be refused"},
		{"record hash", func(v sections) { v.records[0]["record_hash"] = strings.Repeat("1", 64) }, "record_hash differs"},
		{"record content", func(v sections) { v.records[1]["record"].(map[string]any)["actor"] = "x" }, "canonical form"},
		{"merkle root", func(v sections) { v.roots[1] = v.roots[0] }, "Merkle root of the first 2 records differs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := os.ReadFile(pyVectorFile)
			if err != nil {
				t.Fatal(err)
			}
			var vf map[string]any
			dec := json.NewDecoder(bytes.NewReader(b))
			dec.UseNumber() // the vectors hold numbers a float64 cannot
			if err := dec.Decode(&vf); err != nil {
				t.Fatal(err)
			}
			asMaps := func(v any) []map[string]any {
				var out []map[string]any
				for _, e := range v.([]any) {
					out = append(out, e.(map[string]any))
				}
				return out
			}
			tc.mutate(sections{asMaps(vf["cases"]), asMaps(vf["records"]), vf["merkle_roots"].([]any)})
			nb, _ := json.Marshal(vf)
			f := filepath.Join(t.TempDir(), "vectors.json")
			if err := os.WriteFile(f, nb, 0o644); err != nil {
				t.Fatal(err)
			}
			if code, out := pyVerify(t, "--vectors", f); code != exitVerifyFails || !strings.Contains(out, tc.want) {
				t.Errorf("exit %d, want %d and %q:\n%s", code, exitVerifyFails, tc.want, out)
			}
		})
	}
}

// The script's exit codes are the CLI's table: 1 a file could not be read,
// 2 usage error, 3 verification failed.
func TestPythonVerifierExitCodes(t *testing.T) {
	needPython(t)
	dir := t.TempDir()
	notProof := filepath.Join(dir, "not-a-proof.json")
	if err := os.WriteFile(notProof, []byte(`{"format":"something else"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want int
	}{
		{nil, exitUsage},
		{[]string{"--difficulty", "x", "trail.jsonl"}, exitUsage},
		{[]string{"--checkpoint", "cp.txt"}, exitUsage},
		{[]string{"--proof", notProof}, exitUsage},
		{[]string{filepath.Join(dir, "missing.jsonl")}, exitError},
		{[]string{"--proof", filepath.Join(dir, "missing.json")}, exitError},
	} {
		if code, out := pyVerify(t, tc.args...); code != tc.want {
			t.Errorf("%q: exit %d, want %d:\n%s", tc.args, code, tc.want, out)
		}
	}
	// The CLI answers the same proof files with the same codes.
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"keygen", "--name", "k", "--dir", dir}, strings.NewReader(""), &stdout, &stderr); code != exitOK {
		t.Fatalf("keygen: %s", stderr.String())
	}
	for _, tc := range []struct {
		proof string
		want  int
	}{{notProof, exitUsage}, {filepath.Join(dir, "missing.json"), exitError}} {
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), []string{"--audit-dir", filepath.Join(dir, ".audit"), "verify", "--proof", tc.proof, "--key", filepath.Join(dir, "k.pub")},
			strings.NewReader(""), &stdout, &stderr); code != tc.want {
			t.Errorf("ami-audit verify --proof %s: exit %d, want %d:\n%s", tc.proof, code, tc.want, stderr.String())
		}
	}
}
