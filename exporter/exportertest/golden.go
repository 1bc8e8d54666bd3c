package exportertest

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	audit "github.com/ami-orchestrator/ami-audit"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// Fixed is a record with every field set and text that needs escaping,
// the same in every run.
func Fixed() *audit.Record {
	return &audit.Record{
		RecordID: "01900000-0000-7000-8000-000000000001", RecordHash: "ab12cd",
		PreviousHash: "0", Sequence: 41,
		Timestamp: time.Date(2025, 11, 1, 9, 24, 2, 867343000, time.UTC),
		Actor:     "alice|ops", Action: "deploy", Target: `svc/api=1 \ "x"`, TargetType: audit.TargetService,
		Source: "record", Reason: "release 1.4\nhotfix", Severity: audit.SeverityError, Classification: audit.ClassConfidential,
		Context:  map[string]any{"version": "1.4", "n": 3},
		Metadata: map[string]any{"ticket": "OPS-1"},
		Findings: []audit.Finding{{FindingID: "f1", FindingType: "secret", Severity: audit.SeverityError, Description: "token"}},
	}
}

// Golden compares got with testdata/NAME, or writes it with -update.
func Golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("%s differs:\n got: %s\nwant: %s", name, got, want)
	}
}
