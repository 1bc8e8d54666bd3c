package secrets

import (
	"strings"
	"testing"

	audit "github.com/ami-orchestrator/ami-audit"
)

// BenchmarkMask measures masking of typical values against a baseline
// that only lower-cases them (the least a keyword pass costs).
func BenchmarkMask(b *testing.B) {
	d := testDetector(b)
	cases := map[string]string{
		"path":    "source/module/coverage/coverage_test.go",
		"log":     "2024-05-01T10:00:00Z INFO request handled path=/api/v1/users status=200 duration=12ms",
		"secret":  "connect postgres://admin:S3cret@db.example.com/app failed: timeout after 30s",
		"message": "Merge pull request #42 from feature/refresh-tokens: rotate keys nightly",
	}
	for name, text := range cases {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(text)))
			for b.Loop() {
				d.Mask(text)
			}
		})
		b.Run(name+"/baseline-lower", func(b *testing.B) {
			b.SetBytes(int64(len(text)))
			for b.Loop() {
				_ = strings.ToLower(text)
			}
		})
	}
}

// BenchmarkMaskRecord measures masking a typical record of each source
// against encoding it canonically, which every record costs anyway (its
// hash covers that form).
func BenchmarkMaskRecord(b *testing.B) {
	d := testDetector(b)
	fileRec := func() *audit.Record {
		r := audit.New("root", "file_hash", "source/module/coverage/coverage_test.go", audit.TargetFile)
		r.Context = map[string]any{"sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "size": 5123,
			"mode": "0644", "permissions": "-rw-r--r--", "uid": 0, "gid": 0, "owner": "root", "group": "root",
			"mtime": "2024-05-01T10:00:00.000000000Z", "ctime": "2024-05-01T10:00:00.000000000Z", "inode": "1234", "device": "65024",
			"binary": false, "file_type": "file", "change": "new", "scanned_at": "2024-05-01T10:00:00.000000000Z"}
		r.Normalize()
		return r
	}
	logRec := func() *audit.Record {
		r := audit.New("api", "log_entry", "logs/app.log", audit.TargetLog)
		r.Context = map[string]any{"file": "logs/app.log", "line": 1234, "level": "error", "pattern_id": 12,
			"message": "request failed path=/api/v1/users status=500 duration=12ms token expired for session 42"}
		r.Normalize()
		return r
	}
	for name, mk := range map[string]func() *audit.Record{"file": fileRec, "log": logRec} {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				r := mk()
				b.StartTimer()
				d.MaskRecord(r)
			}
		})
		b.Run(name+"/baseline-canonical", func(b *testing.B) {
			r := mk()
			for b.Loop() {
				r.AppendCanonical(nil)
			}
		})
	}
}
