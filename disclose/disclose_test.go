package disclose

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	audit "github.com/ami-orchestrator/ami-audit"
)

func TestParseAccess(t *testing.T) {
	tests := []struct {
		in   string
		want Access
		err  bool
	}{
		{"", None, false},
		{"none", None, false},
		{"all", Everything, false},
		{"*", Everything, false},
		{"confidential", Access{Classes: []string{"confidential"}}, false},
		{"confidential, restricted", Access{Classes: []string{"confidential", "restricted"}}, false},
		{"confidential,,restricted", Access{}, true},
	}
	for _, tt := range tests {
		got, err := ParseAccess(tt.in)
		if (err != nil) != tt.err || (!tt.err && !cmp.Equal(got, tt.want)) {
			t.Errorf("ParseAccess(%q) = %+v, %v", tt.in, got, err)
		}
	}
}

func TestViewAndFields(t *testing.T) {
	r := audit.New("a", "login", "svc/api", audit.TargetService)
	r.Classification = audit.ClassConfidential
	r.Context = map[string]any{"user": "ana", "ip": "10.0.0.1"}
	r.Metadata = map[string]any{"kept": "in the clear"}
	r.Normalize()
	if err := r.CommitValues([]string{audit.ClassConfidential}); err != nil {
		t.Fatal(err)
	}
	r.Metadata = map[string]any{}
	if v := View(r, None); len(v.Disclosures) != 0 || len(r.Disclosures) != 3 {
		t.Errorf("None sees %v (the record itself keeps %d)", v.Disclosures, len(r.Disclosures))
	}
	if v := View(r, Access{Classes: []string{audit.ClassRestricted}}); len(v.Disclosures) != 0 {
		t.Errorf("restricted access sees confidential values %v", v.Disclosures)
	}
	if v := View(r, Access{Classes: []string{audit.ClassConfidential}}); v != r {
		t.Error("confidential access does not see the record as it is")
	}
	// As a person reads it: disclosed values in place, the others masked.
	delete(r.Disclosures, "context.user")
	ctx, meta := Fields(r)
	if ctx["ip"] != "10.0.0.1" || meta["kept"] != "in the clear" {
		t.Errorf("fields: %v %v", ctx, meta)
	}
	if s, _ := ctx["user"].(string); !strings.HasPrefix(s, "[committed sha256:"+r.Commitments["context.user"][:16]) {
		t.Errorf("a value not disclosed shows as %v", ctx["user"])
	}
	if len(r.Context) != 0 {
		t.Error("Fields changed the record")
	}
}
