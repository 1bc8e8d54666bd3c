package sarif

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/report"
	"github.com/ami-orchestrator/ami-audit/report/internal/reporttest"
)

// schema compiles the official SARIF 2.1.0 schema (OASIS, errata 01),
// shipped in testdata.
func schema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join("testdata", "sarif-schema-2.1.0.json"))
	if err != nil {
		t.Fatal(err)
	}
	return reporttest.Schema(t, "sarif-schema-2.1.0.json", doc)
}

// validate checks a SARIF document against the official schema.
func validate(t *testing.T, sch *jsonschema.Schema, b []byte) {
	t.Helper()
	if err := reporttest.Validate(sch, b); err != nil {
		t.Fatalf("output does not validate against the SARIF 2.1.0 schema: %v", err)
	}
}

func TestGoldenAndSchema(t *testing.T) {
	var buf bytes.Buffer
	if err := New().Format(&buf, reporttest.Sample()); err != nil {
		t.Fatal(err)
	}
	reporttest.Golden(t, "sample.sarif", buf.Bytes())
	validate(t, schema(t), buf.Bytes())
}

func TestEmptyReportIsValid(t *testing.T) {
	var buf bytes.Buffer
	if err := New().Format(&buf, &report.Report{Title: "nothing"}); err != nil {
		t.Fatal(err)
	}
	validate(t, schema(t), buf.Bytes())
	if !strings.Contains(buf.String(), `"results": []`) {
		t.Errorf("an empty report has no empty results list:\n%s", buf.String())
	}
}

// The schema check is real: a document that breaks the schema fails it.
func TestSchemaRejectsBrokenDocument(t *testing.T) {
	var buf bytes.Buffer
	if err := New().Format(&buf, reporttest.Sample()); err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	res := doc["runs"].([]any)[0].(map[string]any)["results"].([]any)[0].(map[string]any)
	res["level"] = "catastrophic"
	b, _ := json.Marshal(doc)
	inst, _ := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err := schema(t).Validate(inst); err == nil {
		t.Error("a result with level \"catastrophic\" validated")
	}
}

func TestMapping(t *testing.T) {
	doc, err := Build(reporttest.Sample().Findings)
	if err != nil {
		t.Fatal(err)
	}
	run := doc.Runs[0]
	if len(run.Results) != 2 || len(run.Tool.Driver.Rules) != 2 {
		t.Fatalf("%d results, %d rules; want 2 and 2", len(run.Results), len(run.Tool.Driver.Rules))
	}
	r := run.Results[0]
	loc := r.Locations[0].PhysicalLocation
	if *r.RuleID != "aws-access-token" || r.Level != "error" || *loc.ArtifactLocation.URI != "src/config.py" || *loc.Region.StartLine != 12 {
		t.Errorf("first result: rule %s level %s at %s:%d", *r.RuleID, r.Level, *loc.ArtifactLocation.URI, *loc.Region.StartLine)
	}
	if r.PartialFingerprints[FingerprintKey] == "" {
		t.Error("no partial fingerprint")
	}
	if got := run.Results[1]; got.Level != "warning" || got.Locations[0].PhysicalLocation.Region != nil {
		t.Errorf("second result: level %s, region %+v", got.Level, got.Locations[0].PhysicalLocation.Region)
	}
	for _, tc := range []struct {
		s    audit.Severity
		want string
	}{{audit.SeverityCritical, "error"}, {audit.SeverityError, "error"}, {audit.SeverityWarning, "warning"}, {audit.SeverityInfo, "note"}, {audit.SeverityDebug, "note"}} {
		if got := Level(tc.s); got != tc.want {
			t.Errorf("Level(%s) = %s, want %s", tc.s, got, tc.want)
		}
	}
	if _, err := Build([]*audit.Record{{RecordID: "x"}}); err == nil {
		t.Error("a record without a finding was accepted")
	}
}
