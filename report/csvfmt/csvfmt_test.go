package csvfmt

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"io"
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

// Without records, the main file is the summary, and every other table
// is a file of its own: each reads back as one rectangular table (a strict
// encoding/csv reader, fields per record fixed by the header).
func TestOneTablePerFile(t *testing.T) {
	r := reporttest.Sample()
	r.Records = nil
	var main bytes.Buffer
	files := map[string]*bytes.Buffer{}
	var order []string
	err := New().FormatFiles(&main, r, func(name string) (io.Writer, error) {
		if files[name] != nil {
			t.Errorf("table %s written twice", name)
		}
		files[name] = &bytes.Buffer{}
		order = append(order, name)
		return files[name], nil
	})
	if err != nil {
		t.Fatal(err)
	}
	reporttest.Golden(t, "sample-summary.csv", main.Bytes())
	rows := func(name string, b []byte) [][]string {
		got, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return got
	}
	if got := rows("main", main.Bytes()); len(got) != 1+len(r.Summary) || got[0][0] != "measure" {
		t.Errorf("main table: %v", got)
	}
	want := map[string]int{"integrity": 11, "authors": 5, "files": 5, "commits-per-month": 4, "records-per-day": 5, "empty-table": 1, "warnings": 3,
		"compliance-coverage": 4, "controls-present-per-framework": 3, "iso-iec-27001-2022-annex-a": 3, "nist-sp-800-53-rev-5": 3, "evidence": 6, "gaps-in-the-trail": 2, "policy-violations": 2}
	got := map[string]int{}
	for _, name := range order {
		got[name] = len(rows(name, files[name].Bytes()))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rows per table file, header included (-want +got):\n%s", diff)
	}
	var all bytes.Buffer
	for _, name := range order {
		fmt.Fprintf(&all, "== %s.csv\n%s", name, files[name].Bytes())
	}
	reporttest.Golden(t, "sample-tables.txt", all.Bytes())
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
