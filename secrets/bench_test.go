package secrets

import (
	"strings"
	"testing"
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
