package jsonfmt

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ami-orchestrator/ami-audit/report"

	"github.com/ami-orchestrator/ami-audit/report/internal/reporttest"
)

func TestGolden(t *testing.T) {
	var buf bytes.Buffer
	if err := New().Format(&buf, reporttest.Sample()); err != nil {
		t.Fatal(err)
	}
	reporttest.Golden(t, "sample.json", buf.Bytes())
}

// The output decodes back into the report it was made from.
func TestRoundTrip(t *testing.T) {
	r := reporttest.Sample()
	var buf bytes.Buffer
	if err := New().Format(&buf, r); err != nil {
		t.Fatal(err)
	}
	var back report.Report
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	back.Records, r.Records = nil, nil // records have their own round-trip tests
	back.Findings, r.Findings = nil, nil
	if diff := cmp.Diff(r, &back); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
}

// The JSON validates against the published schema, and numbers are
// numbers.
func TestSchema(t *testing.T) {
	sch := reporttest.Schema(t, "report.schema.json", Schema)
	var buf bytes.Buffer
	if err := New().Format(&buf, reporttest.Sample()); err != nil {
		t.Fatal(err)
	}
	if err := reporttest.Validate(sch, buf.Bytes()); err != nil {
		t.Errorf("the sample report does not validate:\n%v", err)
	}
	if !bytes.Contains(buf.Bytes(), []byte(`"value": 1234`)) || !bytes.Contains(buf.Bytes(), []byte(`"tree_size": 1234`)) {
		t.Error("numbers are not written as numbers")
	}
	// A report with a string where the schema wants a number fails: the
	// schema checks something.
	bad := bytes.Replace(buf.Bytes(), []byte(`"tree_size": 1234`), []byte(`"tree_size": "1234"`), 1)
	if reporttest.Validate(sch, bad) == nil {
		t.Error("a tree_size given as a string validates")
	}
}
