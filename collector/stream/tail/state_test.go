package tail

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzLoadState: a state file of any content is read or refused with an
// error naming it, never a panic.
func FuzzLoadState(f *testing.F) {
	f.Add([]byte(`{"version":1,"log_id":"L","root":"/r","files":[{"name":"a","path":"a","dev":1,"ino":2,"offset":10,"line":1,"fp":"x","fp_len":10}]}`))
	f.Add([]byte(`{"version":1,"root":"/r","files":[null]}`))
	f.Add([]byte(`{"version":2}`))
	f.Add([]byte(`not json`))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(dir, "state.json")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		files, _, err := loadState(p, "L", "/r")
		if err != nil {
			if !strings.Contains(err.Error(), p) {
				t.Fatalf("error %q does not name the file", err)
			}
			return
		}
		for _, s := range files {
			if s == nil || s.Offset < 0 || s.FPLen > fpMax {
				t.Fatalf("accepted %+v", s)
			}
		}
	})
}
