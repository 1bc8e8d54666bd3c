package secrets

import (
	"encoding/json"
	"strings"
	"testing"

	audit "github.com/ami-orchestrator/ami-audit"
)

func TestMaskRecord(t *testing.T) {
	d := testDetector(t)
	type pair struct{ Name, Value string }
	r := audit.New("deploy AKIAZ3MSJV4WRUWMW4YJ", "deploy", "postgres://admin:S3cret@db/app", audit.TargetService)
	r.Reason = "Authorization: Bearer abcdef0123456789abcdefXYZ"
	r.Context = map[string]any{
		"password": "hunter2x",
		"message":  "token ghp_1A2b3C4d5E6f7G8h9I0j1K2l3M4n5O6p7Q8r",
		"nested":   map[string]any{"list": []any{"ok", "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"}},
		"strings":  []string{"fine", "https://hooks.slack.com/services/T0AB1CD2E/B0FG3HI4J/aBcDeFgHiJkLmNoPqRsTuVwX"},
		"typed":    map[string]string{"api_key": "Zx9kQ2mP7vL4nR8tY3"},
		"struct":   pair{"dsn", "redis://:hunter22@cache:6379"},
		"files":    map[string]any{"conf/postgres://u:Pw0rd99@h": 1},
		"count":    3,
		"safe":     "src/main.go",
	}
	r.Metadata = map[string]any{"author": "bob"}
	r.Findings = []audit.Finding{{Description: "leaked PRIVATE+KEY+x+1a2b3c4d+AYH0E7p7sGdrZf9sIbbPw5Eq9UXbqB0HWc8HX2y8WuQS"}}
	r.Violations = []audit.Violation{{Message: "password=Tr0ub4dor&3 in config", FilePath: "a?token=abcdef123456"}}
	if !d.MaskRecord(r) {
		t.Fatal("nothing masked")
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	out := string(b)
	for _, sec := range []string{"AKIAZ3MSJV4WRUWMW4YJ", "S3cret", "abcdef0123456789abcdefXYZ", "hunter2x",
		"ghp_1A2b3C4d5E6f7G8h9I0j1K2l3M4n5O6p7Q8r", "AbCdEfGhIjKlMnOpQrStUvWx", "aBcDeFgHiJkLmNoPqRsTuVwX",
		"Zx9kQ2mP7vL4nR8tY3", "hunter22", "Pw0rd99", "AYH0E7p7sGdrZf9sIbbPw5Eq9UXbqB0HWc8HX2y8WuQS", "Tr0ub4dor", "abcdef123456"} {
		if strings.Contains(out, sec) {
			t.Errorf("record still holds %q:\n%s", sec, out)
		}
	}
	for _, keep := range []string{`"safe":"src/main.go"`, `"count":3`, `"author":"bob"`, `"action":"deploy"`} {
		if !strings.Contains(out, keep) {
			t.Errorf("record lost %s:\n%s", keep, out)
		}
	}
	if d.MaskRecord(r) {
		t.Error("masking a masked record changed it")
	}
	clean := audit.New("ci", "deploy", "svc/api", audit.TargetService)
	clean.Context = map[string]any{"version": "1.4", "typed": map[string]string{"a": "b"}}
	if d.MaskRecord(clean) {
		t.Error("a record without secrets changed")
	}
	if _, ok := clean.Context["typed"].(map[string]string); !ok {
		t.Error("a typed value without secrets was converted")
	}
}
