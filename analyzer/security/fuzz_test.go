package security

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzBaseline feeds hostile baseline files to the parser: it must never
// panic, and what it accepts are fingerprints of three or four parts.
func FuzzBaseline(f *testing.F) {
	f.Add([]byte("# accepted\nconfig/aws.env:aws-access-token:3\n0123abc:a/b.txt:jwt:1\n"))
	f.Add([]byte(`[{"RuleID":"jwt","File":"a","Commit":"c","StartLine":2,"Secret":"REDACTED"}]`))
	f.Add([]byte("[{\"RuleID\": 1}]"))
	f.Add([]byte("a:b\n"))
	f.Add([]byte("win\\path\\x.txt:rule:1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(t.TempDir(), "baseline")
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		fps := map[string]bool{}
		if err := loadBaseline(p, fps); err != nil {
			if !strings.Contains(err.Error(), p) && !strings.Contains(err.Error(), "baseline") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		for fp := range fps {
			if n := strings.Count(fp, ":"); n < 2 {
				t.Fatalf("accepted %q, not a fingerprint", fp)
			}
		}
	})
}
