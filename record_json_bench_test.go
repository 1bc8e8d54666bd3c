package audit_test

import (
	"encoding/json"
	"testing"

	audit "github.com/ami-orchestrator/ami-audit"
)

// BenchmarkDecodeRecord measures reading a stored record (what every Query
// and Get does) strictly, against encoding/json's case-insensitive decoding
// of the same bytes into the same fields, the baseline: strictness must not
// cost reading speed.
//
//	go test -run '^$' -bench DecodeRecord -count 5 .
func BenchmarkDecodeRecord(b *testing.B) {
	r := audit.New("alice", "file_hash", "src/main.go", audit.TargetFile)
	r.Source = "file_source"
	r.Context = map[string]any{"sha256": "4f1c0a8b2e7d9f3a6c5b1e0d8f7a9c2b4e6d8f0a1c3e5b7d9f2a4c6e8b0d1f3a", "size": 12345,
		"mode": "0644", "owner": "alice", "mtime": "2025-01-01T00:00:00Z", "binary": false}
	r.Findings = []audit.Finding{{FindingType: "secret", Severity: "error", Description: "aws key", Metadata: map[string]any{"rule": "aws"}}}
	r.Normalize()
	body, err := r.AppendJSON(nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("strict", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			var r audit.Record
			if err := r.UnmarshalJSON(body); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json-baseline", func(b *testing.B) {
		type plain audit.Record // the fields, without the strict UnmarshalJSON
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			var r plain
			if err := json.Unmarshal(body, &r); err != nil {
				b.Fatal(err)
			}
		}
	})
}
