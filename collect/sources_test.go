package collect

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSelectSources(t *testing.T) {
	reg := map[string]SourceFactory{"file": fileRepoSource, "git": gitRepoSource, "custom": fileRepoSource}
	tests := []struct {
		spec string
		want []string
	}{
		{"", []string{"git", "file", "custom"}},
		{"  ", []string{"git", "file", "custom"}},
		{"file", []string{"file"}},
		{"FILE, git,file", []string{"file", "git"}},
		{"custom", []string{"custom"}},
	}
	for _, tc := range tests {
		got, err := SelectSources(tc.spec, reg)
		if err != nil {
			t.Errorf("SelectSources(%q): %v", tc.spec, err)
			continue
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("SelectSources(%q) (-want +got):\n%s", tc.spec, diff)
		}
	}
	if _, err := SelectSources("", map[string]SourceFactory{}); err == nil || !strings.Contains(err.Error(), "no source is available") {
		t.Errorf("empty registry: %v", err)
	}
}
