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

// BenchmarkAppendCanonical measures the canonical form of a file record
// (what every append hashes) against encoding/json's encoding of the same
// record, the baseline; it reports allocations.
//
//	go test -run '^$' -bench AppendCanonical -benchmem -count 5 .
func BenchmarkAppendCanonical(b *testing.B) {
	r := audit.New("root", "file_hash", "source/module/coverage/coverage_test.go", audit.TargetFile)
	r.Source = "file_source"
	r.Context = map[string]any{"sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "size": 5123,
		"mode": "0644", "permissions": "-rw-r--r--", "uid": 0, "gid": 0, "owner": "root", "group": "root",
		"mtime": "2024-05-01T10:00:00.000000000Z", "ctime": "2024-05-01T10:00:00.000000000Z", "inode": "1234", "device": "65024",
		"binary": false, "file_type": "file", "change": "new", "scanned_at": "2024-05-01T10:00:00.000000000Z"}
	r.Metadata = map[string]any{"content_digest": "4f1c0a8b2e7d9f3a6c5b1e0d8f7a9c2b4e6d8f0a1c3e5b7d9f2a4c6e8b0d1f3a", "content_id": "0d8f7a9c2b4e6d8f0a1c3e5b7d9f2a4c"}
	r.Normalize()
	b.Run("canonical", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, 2048)
		for b.Loop() {
			var err error
			if buf, err = r.AppendCanonical(buf[:0]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json-baseline", func(b *testing.B) {
		type plain audit.Record // the fields, without the record's own MarshalJSON
		p := (*plain)(r)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(p); err != nil {
				b.Fatal(err)
			}
		}
	})
}
