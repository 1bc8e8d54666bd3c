package csvfmt

import (
	"bytes"
	"encoding/csv"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ami-orchestrator/ami-audit/report/internal/reporttest"
)

func TestGolden(t *testing.T) {
	var buf bytes.Buffer
	if err := New().Format(&buf, reporttest.Sample()); err != nil {
		t.Fatal(err)
	}
	reporttest.Golden(t, "sample.csv", buf.Bytes())
}

// Without records, the report's tables are written one after another, each
// with a "section" first column; encoding/csv reads them back.
func TestGoldenSections(t *testing.T) {
	r := reporttest.Sample()
	r.Records = nil
	var buf bytes.Buffer
	if err := New().Format(&buf, r); err != nil {
		t.Fatal(err)
	}
	reporttest.Golden(t, "sample-sections.csv", buf.Bytes())

	cr := csv.NewReader(bytes.NewReader(buf.Bytes()))
	cr.FieldsPerRecord = -1
	rows, err := cr.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, row := range rows {
		if row[0] != "section" {
			got[row[0]]++
		}
	}
	want := map[string]int{"Summary": 4, "Authors": 4, "Files": 4, "Commits per month": 3, "Records per day": 4, "Warnings": 2}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rows per section (-want +got):\n%s", diff)
	}
}

func TestFormulaCellsNeutralised(t *testing.T) {
	tests := map[string]string{
		"=1+2": "'=1+2", "+cmd": "'+cmd", "-x": "'-x", "@SUM(A1)": "'@SUM(A1)", "\tx": "'\tx",
		"-12": "-12", "+3.5": "+3.5", "-": "-", "=": "'=", "plain": "plain", "a=b": "a=b", "": "",
	}
	for in, want := range tests {
		if got := safe([]string{in})[0]; got != want {
			t.Errorf("safe(%q) = %q, want %q", in, got, want)
		}
	}
}

// A records report is one rectangular table that reads back field for field.
func TestRecordsReadBack(t *testing.T) {
	r := reporttest.Sample()
	var buf bytes.Buffer
	if err := New().Format(&buf, r); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1+len(r.Records) {
		t.Fatalf("got %d rows, want %d", len(rows), 1+len(r.Records))
	}
	if diff := cmp.Diff(Columns, rows[0]); diff != "" {
		t.Errorf("header (-want +got):\n%s", diff)
	}
	if got := rows[2][5]; got != "docs/a|b.md" {
		t.Errorf("target = %q", got)
	}
	if got := rows[1][12]; got != `{"lines_added":12,"message":"fix | <b>bold</b>"}` {
		t.Errorf("context = %q", got)
	}
}
