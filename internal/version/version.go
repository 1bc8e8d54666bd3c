// Package version says which ami-audit is running: the module version and
// the version-control revision it was built from, as the Go toolchain
// stamped them into the binary (runtime/debug.ReadBuildInfo).
package version

import (
	"runtime/debug"
	"strings"
)

// Info is what a binary knows about its own build.
type Info struct {
	// Version is the module version ("v1.4.0", or a pseudo-version such
	// as "v0.0.0-20261130053228-d31e990105a8+dirty"), or "devel" when
	// the binary was built from a checkout without one.
	Version string
	// Revision is the commit it was built from (vcs.revision), empty when
	// the build recorded none (go install of a module version, or
	// -buildvcs=false).
	Revision string
	// Time is the commit time (vcs.time), RFC 3339.
	Time string
	// Modified says the checkout had uncommitted changes (vcs.modified).
	Modified bool
	// Go is the toolchain that built it.
	Go string
}

// Read returns the running binary's Info.
func Read() Info {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return Info{Version: "devel"}
	}
	return From(bi)
}

// From extracts Info from build information.
func From(bi *debug.BuildInfo) Info {
	in := Info{Version: bi.Main.Version, Go: bi.GoVersion}
	if in.Version == "" || in.Version == "(devel)" {
		in.Version = "devel"
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			in.Revision = s.Value
		case "vcs.time":
			in.Time = s.Value
		case "vcs.modified":
			in.Modified = s.Value == "true"
		}
	}
	return in
}

// String is the one-line form --version prints, e.g.
//
//	v1.4.0 (go1.26.8)
//	devel (revision d31e990105a8, 2026-11-30T05:32:28Z, modified; go1.26.8)
//	devel (no revision recorded; go1.26.8)
func (in Info) String() string {
	var details []string
	switch {
	case in.Revision != "":
		rev := "revision " + short(in.Revision)
		if in.Time != "" {
			rev += ", " + in.Time
		}
		if in.Modified {
			rev += ", modified"
		}
		details = append(details, rev)
	case in.Version == "devel":
		details = append(details, "no revision recorded")
	}
	if in.Go != "" {
		details = append(details, in.Go)
	}
	if len(details) == 0 {
		return in.Version
	}
	return in.Version + " (" + strings.Join(details, "; ") + ")"
}

// short is the first 12 hex digits of a commit id, as Go's pseudo-versions
// write it.
func short(rev string) string {
	if len(rev) > 12 {
		return rev[:12]
	}
	return rev
}
