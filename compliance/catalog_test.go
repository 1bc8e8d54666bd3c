package compliance_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ami-orchestrator/ami-audit/compliance"
)

// The specification's mapping table (SPEC §12), exactly as written:
// feature → framework catalog → control.
var specTable = map[string]map[string]string{
	"audit trail":  {"eu-ai-act": "Art. 12", "iso42001": "8.3", "iso27001-2013": "A.12.4.1", "nist-ai-rmf": "GOVERN 1.2"},
	"provenance":   {"eu-ai-act": "Art. 13", "iso42001": "8.4", "iso27001-2013": "A.12.4.2", "nist-ai-rmf": "MAP 1.1"},
	"verification": {"eu-ai-act": "Art. 14", "iso42001": "9.1", "iso27001-2013": "A.12.4.3", "nist-ai-rmf": "MEASURE 1.1"},
	"retention":    {"eu-ai-act": "Art. 12", "iso42001": "10.2", "iso27001-2013": "A.12.3.1", "nist-ai-rmf": "GOVERN 1.4"},
}

func builtin(t *testing.T) []*compliance.Catalog {
	t.Helper()
	cats, err := compliance.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	return cats
}

func control(cats []*compliance.Catalog, catalog, id string) *compliance.Control {
	for _, c := range cats {
		if c.ID != catalog {
			continue
		}
		for i := range c.Controls {
			if c.Controls[i].ID == id {
				return &c.Controls[i]
			}
		}
	}
	return nil
}

func TestSpecMappingExactlyAsWritten(t *testing.T) {
	cats := builtin(t)
	for feature, row := range specTable {
		for catalog, id := range row {
			c := control(cats, catalog, id)
			if c == nil {
				t.Errorf("%s: catalog %s has no control %s", feature, catalog, id)
				continue
			}
			if !slices.Contains(c.Features, feature) {
				t.Errorf("%s %s: features %v lack %q", catalog, id, c.Features, feature)
			}
		}
	}
	// And no control claims a feature the table does not give it (the
	// 2022 edition aside, which carries the 2013 rows it replaces).
	for _, c := range cats {
		if c.ID == "iso27001" {
			continue
		}
		for _, ctl := range c.Controls {
			for _, f := range ctl.Features {
				if specTable[f][c.ID] != ctl.ID {
					t.Errorf("%s %s claims feature %q, which the specification maps to %q", c.ID, ctl.ID, f, specTable[f][c.ID])
				}
			}
		}
	}
}

func TestCurrentEditions(t *testing.T) {
	cats := builtin(t)
	want := map[string][]string{
		"iso27001":    {"A.8.15", "A.8.16", "A.8.17", "A.5.28", "A.5.33", "A.8.8", "A.8.9", "A.8.32"},
		"eu-ai-act":   {"Art. 19", "Art. 26(6)"},
		"nist-800-53": {"AU-2", "AU-3", "AU-8", "AU-9", "AU-10", "AU-11", "AU-12"},
	}
	for catalog, ids := range want {
		for _, id := range ids {
			if control(cats, catalog, id) == nil {
				t.Errorf("catalog %s lacks %s", catalog, id)
			}
		}
	}
	// The 2013 → 2022 correspondence, both ways.
	for old, cur := range map[string]string{"A.12.4.1": "A.8.15", "A.12.4.2": "A.8.15", "A.12.4.3": "A.8.15", "A.12.3.1": "A.8.13",
		"A.12.4.4": "A.8.17", "A.16.1.7": "A.5.28", "A.18.1.3": "A.5.33", "A.12.6.1": "A.8.8", "A.12.1.2": "A.8.32", "A.14.2.2": "A.8.32"} {
		o, n := control(cats, "iso27001-2013", old), control(cats, "iso27001", cur)
		if o == nil || n == nil {
			t.Errorf("%s → %s: a control is missing", old, cur)
			continue
		}
		if !slices.Contains(o.ReplacedBy, cur) || !slices.Contains(n.Replaces, old) {
			t.Errorf("%s → %s: replaced_by %v, replaces %v", old, cur, o.ReplacedBy, n.Replaces)
		}
	}
	// Every control says what evidence satisfies it, in words.
	for _, c := range cats {
		for _, ctl := range c.Controls {
			if strings.TrimSpace(ctl.Description) == "" {
				t.Errorf("%s %s has no description", c.ID, ctl.ID)
			}
		}
	}
}

func TestLoadOverrides(t *testing.T) {
	dir := t.TempDir()
	own := `id: iso27001
framework: ISO/IEC 27001
edition: "2022"
title: Our reading of ISO/IEC 27001:2022
controls:
  - id: A.8.15
    title: Logging
    description: ours
    evidence:
      - text: deploys are recorded
        records: {actions: [deploy], min: 3}
`
	extra := strings.Replace(strings.Replace(own, "id: iso27001\n", "id: internal-policy\n", 1), "Our reading", "Internal", 1)
	os.WriteFile(filepath.Join(dir, "a.yaml"), []byte(own), 0o644)
	os.WriteFile(filepath.Join(dir, "b.yaml"), []byte(extra), 0o644)
	cats, err := compliance.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	sel, err := compliance.Select(cats, []string{"iso27001", "internal-policy"})
	if err != nil {
		t.Fatal(err)
	}
	if sel[0].Title != "Our reading of ISO/IEC 27001:2022" || len(sel[0].Controls) != 1 || sel[1].ID != "internal-policy" {
		t.Errorf("overrides not applied: %+v", sel)
	}
	if len(cats) != len(builtin(t))+1 {
		t.Errorf("%d catalogs, want the built-in ones and one more", len(cats))
	}
	if _, err := compliance.Select(cats, []string{"sox"}); err == nil || !strings.Contains(err.Error(), "iso27001") {
		t.Errorf("unknown framework: %v", err)
	}
}

func TestParseRefuses(t *testing.T) {
	base := "id: x\nframework: X\ntitle: X\ncontrols:\n  - id: C-1\n    title: T\n    description: d\n    evidence:\n"
	for name, ev := range map[string]string{
		"misspelt field":       "      - text: t\n        integrty: verified\n",
		"two kinds":            "      - text: t\n        integrity: verified\n        records: {}\n",
		"no kind":              "      - text: t\n",
		"unknown integrity":    "      - text: t\n        integrity: trusted\n",
		"bad freshness":        "      - text: t\n        integrity: verified\n        freshness: 7 days\n",
		"bad severity":         "      - text: t\n        analyzer: {name: security, fail_on: urgent}\n",
		"no text":              "      - integrity: verified\n",
		"min_keep misapplied":  "      - text: t\n        integrity: verified\n        min_keep: 6mo\n",
		"select misapplied":    "      - text: t\n        integrity: verified\n        select: {}\n",
		"unknown record field": "      - text: t\n        records: {action: [deploy]}\n",
	} {
		if _, err := compliance.Parse([]byte(base + ev)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := compliance.Parse([]byte(base + "      - text: t\n        integrity: verified\n")); err != nil {
		t.Errorf("a valid catalog: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	entries, _ := os.ReadDir("catalogs")
	for _, e := range entries {
		if b, err := os.ReadFile(filepath.Join("catalogs", e.Name())); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("id: x\ncontrols: [{id: a, evidence: [{text: t, records: {min: -1}}]}]"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := compliance.Parse(b)
		if err != nil {
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("Parse accepted what Validate refuses: %v", err)
		}
	})
}
