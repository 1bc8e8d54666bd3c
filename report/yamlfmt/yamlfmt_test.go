package yamlfmt

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"

	"github.com/ami-orchestrator/ami-audit/report/internal/reporttest"
)

func TestGolden(t *testing.T) {
	var buf bytes.Buffer
	if err := New().Format(&buf, reporttest.Sample()); err != nil {
		t.Fatal(err)
	}
	reporttest.Golden(t, "sample.yaml", buf.Bytes())
}

// The YAML document holds the same tree as the JSON one: same keys, same
// order-insensitive values, strings staying strings ("1234", "-", "1,300").
func TestSameTreeAsJSON(t *testing.T) {
	r := reporttest.Sample()
	var y bytes.Buffer
	if err := New().Format(&y, r); err != nil {
		t.Fatal(err)
	}
	var fromYAML any
	if err := yaml.Unmarshal(y.Bytes(), &fromYAML); err != nil {
		t.Fatalf("output is not YAML: %v", err)
	}
	j, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var fromJSON any
	if err := json.Unmarshal(j, &fromJSON); err != nil {
		t.Fatal(err)
	}
	// Normalise both through JSON so number types agree.
	norm := func(v any) any {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		var out any
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	if diff := cmp.Diff(norm(fromJSON), norm(fromYAML)); diff != "" {
		t.Errorf("YAML and JSON trees differ (-json +yaml):\n%s", diff)
	}
}
