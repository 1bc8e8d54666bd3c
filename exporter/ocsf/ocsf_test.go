package ocsf_test

import (
	"encoding/json"
	"testing"

	"github.com/ami-orchestrator/ami-audit/exporter/exportertest"
	"github.com/ami-orchestrator/ami-audit/exporter/ocsf"
)

func TestGolden(t *testing.T) {
	b, err := ocsf.Encoder("log1")(nil, exportertest.Fixed())
	if err != nil {
		t.Fatal(err)
	}
	exportertest.Golden(t, "record.ocsf.json", append(b, '\n'))
	// the attributes OCSF requires of every event are there
	var ev map[string]any
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"category_uid", "class_uid", "activity_id", "type_uid", "severity_id", "time", "metadata"} {
		if _, ok := ev[k]; !ok {
			t.Errorf("no %s", k)
		}
	}
	md := ev["metadata"].(map[string]any)
	if md["version"] == nil || md["product"] == nil {
		t.Errorf("metadata %v lacks version or product", md)
	}
}
