package main

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ami-orchestrator/ami-audit/compliance/compliancetest"
)

func runIn(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(""), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// report renders the stored trail; compliance records its findings once;
// a packet verifies offline and fails, naming the file, when one is
// altered; a tampered trail is reported with exit 3.
func TestReportComplianceAndPacket(t *testing.T) {
	sc := compliancetest.New(t)
	sc.Trail.Close()
	dir := sc.Dir
	out := t.TempDir()

	code, stdout, stderr := runIn(t, "--audit-dir", dir, "report", "--format=json")
	if code != exitOK {
		t.Fatalf("report: exit %d\n%s", code, stderr)
	}
	var rep struct {
		Integrity struct {
			Verified bool   `json:"verified"`
			TreeSize uint64 `json:"tree_size"`
			Root     string `json:"root"`
		} `json:"integrity"`
		Summary []struct {
			Label string `json:"label"`
			Value any    `json:"value"`
		} `json:"summary"`
		Compliance struct {
			Frameworks []struct {
				ID string `json:"id"`
			} `json:"frameworks"`
			Gaps []struct {
				Kind string `json:"kind"`
			} `json:"gaps"`
		} `json:"compliance"`
	}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("report JSON: %v\n%s", err, stdout)
	}
	if !rep.Integrity.Verified || rep.Integrity.TreeSize != sc.Size || rep.Integrity.Root == "" {
		t.Errorf("integrity %+v", rep.Integrity)
	}
	if len(rep.Compliance.Frameworks) < 6 || len(rep.Compliance.Gaps) < 4 {
		t.Errorf("compliance: %d frameworks, %d gaps", len(rep.Compliance.Frameworks), len(rep.Compliance.Gaps))
	}
	if _, isNumber := rep.Summary[0].Value.(float64); !isNumber {
		t.Errorf("summary value %v (%T) is not a JSON number", rep.Summary[0].Value, rep.Summary[0].Value)
	}

	// compliance records its findings, once.
	if code, _, stderr := runIn(t, "--audit-dir", dir, "compliance", "--format=json", "--fail-on=error"); code != exitGate {
		t.Errorf("compliance --fail-on=error with a failed control: exit %d, want %d\n%s", code, exitGate, stderr)
	}
	_, first, _ := runIn(t, "--audit-dir", dir, "query", "--action=compliance_finding", "--limit=1000", "--format=csv")
	runIn(t, "--audit-dir", dir, "compliance", "--format=json")
	_, second, _ := runIn(t, "--audit-dir", dir, "query", "--action=compliance_finding", "--limit=1000", "--format=csv")
	if strings.Count(first, "\n") < 10 || first != second {
		t.Errorf("compliance findings: %d lines after the first run, %d after the second", strings.Count(first, "\n"), strings.Count(second, "\n"))
	}

	// The evidence packet.
	pkt := filepath.Join(out, "evidence.zip")
	if code, _, stderr := runIn(t, "--audit-dir", dir, "report", "--export=packet", "--output", pkt, "--since=2025-06-01", "--until=2025-07-01"); code != exitOK {
		t.Fatalf("report --export packet: exit %d\n%s", code, stderr)
	}
	// Checked elsewhere, with nothing but the packet and the public key.
	elsewhere := t.TempDir()
	pub := filepath.Join(elsewhere, "log.pub")
	b, _ := os.ReadFile(filepath.Join(dir, "log.pub"))
	os.WriteFile(pub, b, 0o644)
	t.Chdir(elsewhere)
	if code, stdout, stderr := runIn(t, "verify", "--packet", pkt, "--key", pub); code != exitOK {
		t.Fatalf("verify --packet: exit %d\n%s%s", code, stdout, stderr)
	}
	alteredZip := filepath.Join(elsewhere, "altered.zip")
	os.WriteFile(alteredZip, alter(t, pkt, "report.html"), 0o644)
	code, stdout, stderr = runIn(t, "verify", "--packet", alteredZip)
	if code != exitVerifyFails || !strings.Contains(stdout+stderr, "report.html") {
		t.Errorf("altered report.html: exit %d\n%s%s", code, stdout, stderr)
	}

	// A tampered trail: the report is written, and says so, with exit 3.
	sc.Tamper(t, sc.FileHashes[1].Sequence).Close()
	html := filepath.Join(out, "tampered.html")
	code, _, stderr = runIn(t, "--audit-dir", dir, "report", "--output", html)
	if code != exitVerifyFails {
		t.Errorf("report of a tampered trail: exit %d, want 3\n%s", code, stderr)
	}
	page, _ := os.ReadFile(html)
	if !bytes.Contains(page, []byte("record_hash mismatch")) || !bytes.Contains(page, []byte("do not verify")) {
		t.Errorf("the report of a tampered trail does not name the failure")
	}
}

// alter returns the packet with one byte of a file flipped.
func alter(t *testing.T, path, name string) []byte {
	t.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range zr.File {
		rc, _ := f.Open()
		c, _ := io.ReadAll(rc)
		rc.Close()
		if f.Name == name {
			c[len(c)/2] ^= 1
		}
		w, _ := zw.Create(f.Name)
		w.Write(c)
	}
	zw.Close()
	return buf.Bytes()
}

// scripts/verify_export.py checks a packet with Python's standard library
// alone (its own Ed25519): it passes, signatures included, and altering
// any file fails with exit 3 naming the file.
func TestPythonVerifiesPacket(t *testing.T) {
	needPython(t)
	sc := compliancetest.New(t)
	sc.Trail.Close()
	pkt := filepath.Join(t.TempDir(), "evidence.zip")
	if code, _, stderr := runIn(t, "--audit-dir", sc.Dir, "report", "--export=packet", "--output", pkt); code != exitOK {
		t.Fatalf("report --export packet: exit %d\n%s", code, stderr)
	}
	code, out := pyVerify(t, "--packet", pkt, "--key", filepath.Join(sc.Dir, "log.pub"))
	if code != 0 || !strings.Contains(out, "2 signatures") {
		t.Fatalf("python3 verify_export.py --packet: exit %d\n%s", code, out)
	}
	zr, err := zip.OpenReader(pkt)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
	}
	zr.Close()
	for _, name := range names {
		altered := filepath.Join(t.TempDir(), "altered.zip")
		os.WriteFile(altered, alter(t, pkt, name), 0o644)
		code, out := pyVerify(t, "--packet", altered)
		if code != exitVerifyFails || !strings.Contains(out, name) {
			t.Errorf("python, %s altered: exit %d, want 3 naming it\n%s", name, code, out)
		}
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), []string{"verify", "--packet", altered}, strings.NewReader(""), &stdout, &stderr); code != exitVerifyFails || !strings.Contains(stdout.String()+stderr.String(), name) {
			t.Errorf("ami-audit, %s altered: exit %d, want 3 naming it\n%s%s", name, code, stdout.String(), stderr.String())
		}
	}
}
