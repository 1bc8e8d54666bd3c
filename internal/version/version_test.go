package version

import (
	"runtime/debug"
	"testing"
)

func TestString(t *testing.T) {
	vcs := func(rev, tm, modified string) []debug.BuildSetting {
		return []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: rev}, {Key: "vcs.time", Value: tm}, {Key: "vcs.modified", Value: modified}}
	}
	for _, tc := range []struct {
		name string
		bi   debug.BuildInfo
		want string
	}{
		{"release", debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.4.0"}}, "v1.4.0 (go1.26.8)"},
		{"checkout with changes",
			debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"},
				Settings: vcs("d31e990105a847226f76079d357619de0fdd99ee", "2026-11-30T05:32:28Z", "true")},
			"devel (revision d31e990105a8, 2026-11-30T05:32:28Z, modified; go1.26.8)"},
		{"pseudo-version of a clean checkout",
			debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.0.0-20261130053228-d31e990105a8"},
				Settings: vcs("d31e990105a847226f76079d357619de0fdd99ee", "2026-11-30T05:32:28Z", "false")},
			"v0.0.0-20261130053228-d31e990105a8 (revision d31e990105a8, 2026-11-30T05:32:28Z; go1.26.8)"},
		{"no version control", debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}}, "devel (no revision recorded; go1.26.8)"},
		{"test binary", debug.BuildInfo{}, "devel (no revision recorded)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := From(&tc.bi).String(); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}
