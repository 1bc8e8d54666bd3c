// Package osvdb reads a local copy of the OSV vulnerability database and
// tells which advisories affect a package version.
//
// # Layout
//
// The database is the osv.dev export: one all.zip of OSV JSON records per
// ecosystem. Open accepts the directory osv-scanner's offline mode keeps
// (its OSV_SCANNER_LOCAL_DB_CACHE_DIRECTORY) and the plain export:
//
//	DIR/osv-scanner/<Ecosystem>/all.zip   (osv-scanner 1.x)
//	DIR/osv-scalibr/<Ecosystem>/all.zip   (osv-scanner 2.x)
//	DIR/<Ecosystem>/all.zip               (gsutil cp gs://osv-vulnerabilities/<Ecosystem>/all.zip)
//
// with the ecosystem spelled as OSV spells it (PyPI, npm, Go).
//
// # Versions
//
// Versions are compared with each ecosystem's own rules through
// deps.dev/util/semver: PEP 440 for PyPI (epochs, pre-, post- and dev
// releases, local versions), npm's semver, and Go module versions. A
// version is affected when it is listed in an affected entry's versions,
// or falls in one of its SEMVER or ECOSYSTEM ranges (introduced, fixed,
// last_affected and limit events, evaluated as the OSV schema says). GIT
// ranges name commits, not versions, and are not evaluated.
//
// Every record is hostile input: a record that does not parse, or an entry
// larger than MaxEntryBytes, is skipped and counted, never fatal.
package osvdb

import (
	"archive/zip"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"deps.dev/util/semver"
)

// MaxEntryBytes bounds one OSV record in an archive (real ones stay far
// below 1 MiB).
const MaxEntryBytes = 16 << 20

// Ecosystems this package compares versions for, as OSV spells them.
const (
	PyPI = "PyPI"
	NPM  = "npm"
	Go   = "Go"
)

// ErrNoDatabase: the directory holds no database for the ecosystem.
var ErrNoDatabase = errors.New("no OSV database")

// Entry is the part of an OSV record this package reads.
type Entry struct {
	ID               string         `json:"id"`
	Aliases          []string       `json:"aliases"`
	Summary          string         `json:"summary"`
	Details          string         `json:"details"`
	Modified         string         `json:"modified"`
	Withdrawn        string         `json:"withdrawn"`
	Severity         []Severity     `json:"severity"`
	Affected         []Affected     `json:"affected"`
	DatabaseSpecific map[string]any `json:"database_specific"`
}

// Severity is a scored severity, e.g. type CVSS_V3 and a CVSS vector.
type Severity struct {
	Type  string `json:"type"`
	Score string `json:"score"`
}

// Affected is one affected package of a record.
type Affected struct {
	Package  Package    `json:"package"`
	Ranges   []Range    `json:"ranges"`
	Versions []string   `json:"versions"`
	Severity []Severity `json:"severity"`
}

// Is reports whether the entry is about the package (ecosystem, name),
// names compared in their normal form; an ecosystem with a suffix
// ("Debian:12") counts as its base.
func (a *Affected) Is(ecosystem, name string) bool {
	return (a.Package.Ecosystem == ecosystem || strings.HasPrefix(a.Package.Ecosystem, ecosystem+":")) &&
		NormalizeName(ecosystem, a.Package.Name) == NormalizeName(ecosystem, name)
}

// Versioned reports whether the range is of versions (SEMVER or
// ECOSYSTEM), not commits.
func (r *Range) Versioned() bool { return r.Type == "SEMVER" || r.Type == "ECOSYSTEM" }

// Package names a package in an ecosystem.
type Package struct {
	Ecosystem string `json:"ecosystem"`
	Name      string `json:"name"`
}

// Range is a range of affected versions.
type Range struct {
	Type   string  `json:"type"`
	Events []Event `json:"events"`
}

// Event is one event of a range; exactly one field is set.
type Event struct {
	Introduced   string `json:"introduced,omitempty"`
	Fixed        string `json:"fixed,omitempty"`
	LastAffected string `json:"last_affected,omitempty"`
	Limit        string `json:"limit,omitempty"`
}

// DB is a local OSV database.
type DB struct {
	dir string
}

// Open returns the database in dir, which must be a directory.
func Open(dir string) (*DB, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("OSV database %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("OSV database %s: not a directory", dir)
	}
	return &DB{dir: dir}, nil
}

// Dir is the database's directory.
func (db *DB) Dir() string { return db.dir }

// Archive returns the path of the ecosystem's all.zip, or ErrNoDatabase.
func (db *DB) Archive(ecosystem string) (string, error) {
	for _, p := range []string{
		filepath.Join(db.dir, "osv-scalibr", ecosystem, "all.zip"),
		filepath.Join(db.dir, "osv-scanner", ecosystem, "all.zip"),
		filepath.Join(db.dir, ecosystem, "all.zip"),
	} {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p, nil
		}
	}
	return "", fmt.Errorf("%w for %s in %s (want %s/all.zip)", ErrNoDatabase, ecosystem, db.dir, ecosystem)
}

// Loaded is what Load read from an archive.
type Loaded struct {
	// Archive is the file read.
	Archive string
	// ByName holds the records affecting each wanted name, by that name.
	ByName map[string][]*Entry
	// Records counts the records read; Skipped those that did not parse
	// or were too large (Problems says why, for the first few).
	Records, Skipped int
	Problems         []string
}

// maxProblems bounds Loaded.Problems.
const maxProblems = 10

// Load reads the ecosystem's archive and keeps the records that affect a
// package whose normalized name (see NormalizeName) is in names; withdrawn
// records are left out. Memory holds only the records kept.
func (db *DB) Load(ecosystem string, names map[string]bool) (*Loaded, error) {
	path, err := db.Archive(ecosystem)
	if err != nil {
		return nil, err
	}
	zr, err := zip.OpenReader(path)
	if err != nil {
		return nil, fmt.Errorf("OSV database %s: %w", path, err)
	}
	defer zr.Close()
	out := &Loaded{Archive: path, ByName: map[string][]*Entry{}}
	problem := func(format string, args ...any) {
		out.Skipped++
		if len(out.Problems) < maxProblems {
			out.Problems = append(out.Problems, fmt.Sprintf(format, args...))
		}
	}
	for _, f := range zr.File {
		if f.FileInfo().IsDir() || !strings.HasSuffix(f.Name, ".json") {
			continue
		}
		out.Records++
		if f.UncompressedSize64 > MaxEntryBytes {
			problem("%s: %s is larger than %d bytes", path, f.Name, MaxEntryBytes)
			continue
		}
		e, err := readEntry(f)
		if err != nil {
			problem("%s: %s: %v", path, f.Name, err)
			continue
		}
		if e.Withdrawn != "" {
			continue
		}
		seen := map[string]bool{}
		for _, a := range e.Affected {
			if a.Package.Ecosystem != ecosystem && !strings.HasPrefix(a.Package.Ecosystem, ecosystem+":") {
				continue
			}
			n := NormalizeName(ecosystem, a.Package.Name)
			if names[n] && !seen[n] {
				seen[n] = true
				out.ByName[n] = append(out.ByName[n], e)
			}
		}
	}
	for _, es := range out.ByName {
		slices.SortFunc(es, func(a, b *Entry) int { return cmp.Compare(a.ID, b.ID) })
	}
	return out, nil
}

func readEntry(f *zip.File) (*Entry, error) {
	rc, err := f.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, MaxEntryBytes+1))
	if err != nil {
		return nil, err
	}
	return Parse(b)
}

// Parse decodes one OSV record.
func Parse(b []byte) (*Entry, error) {
	if len(b) > MaxEntryBytes {
		return nil, fmt.Errorf("record larger than %d bytes", MaxEntryBytes)
	}
	var e Entry
	if err := json.Unmarshal(b, &e); err != nil {
		return nil, err
	}
	if e.ID == "" {
		return nil, errors.New("record has no id")
	}
	return &e, nil
}

// NormalizeName is the form names are compared in: PEP 503 for PyPI
// ("Django_Rest" is "django-rest"), as written otherwise.
func NormalizeName(ecosystem, name string) string {
	if ecosystem != PyPI {
		return name
	}
	var b strings.Builder
	sep := false
	for _, c := range strings.ToLower(name) {
		if c == '-' || c == '_' || c == '.' {
			sep = true
			continue
		}
		if sep && b.Len() > 0 {
			b.WriteByte('-')
		}
		sep = false
		b.WriteRune(c)
	}
	return b.String()
}

// system is the version system of an ecosystem.
func system(ecosystem string) (semver.System, bool) {
	switch ecosystem {
	case PyPI:
		return semver.PyPI, true
	case NPM:
		return semver.NPM, true
	case Go:
		return semver.Go, true
	}
	return 0, false
}

// Canonical returns a version in the form its system parses: Go versions
// carry one leading "v" (OSV writes them without, go.mod with).
func Canonical(ecosystem, v string) string {
	v = strings.TrimSpace(v)
	if ecosystem == Go && v != "" && !strings.HasPrefix(v, "v") {
		return "v" + v
	}
	return v
}

// ErrVersion is wrapped when a version does not parse in its ecosystem.
var ErrVersion = errors.New("unparsable version")

// Match says how a record affects a version.
type Match struct {
	// Range is the affected range the version falls in, e.g.
	// ">=2.0, <2.0.3", or "listed" when it is only among the record's
	// versions.
	Range string
	// Fixed lists the versions that fix it (the fixed events of the
	// package's ranges), in order.
	Fixed []string
}

// Affects reports whether version of the package (ecosystem, name) is
// affected by e. The error wraps ErrVersion when the version does not
// parse.
func (e *Entry) Affects(ecosystem, name, version string) (Match, bool, error) {
	sys, ok := system(ecosystem)
	if !ok {
		return Match{}, false, fmt.Errorf("ecosystem %s is not supported", ecosystem)
	}
	v, err := sys.Parse(Canonical(ecosystem, version))
	if err != nil {
		return Match{}, false, fmt.Errorf("%w: %s %q", ErrVersion, ecosystem, version)
	}
	var m Match
	hit := false
	for _, a := range e.Affected {
		if !a.Is(ecosystem, name) {
			continue
		}
		for _, r := range a.Ranges {
			if !r.Versioned() {
				continue
			}
			for _, ev := range r.Events {
				if ev.Fixed != "" && !slices.Contains(m.Fixed, ev.Fixed) {
					m.Fixed = append(m.Fixed, ev.Fixed)
				}
			}
			if desc, in := inRange(sys, ecosystem, r.Events, v); in && !hit {
				hit, m.Range = true, desc
			}
		}
		if !hit {
			for _, lv := range a.Versions {
				if p, err := sys.Parse(Canonical(ecosystem, lv)); err == nil && p.Compare(v) == 0 {
					hit, m.Range = true, "listed"
					break
				}
			}
		}
	}
	return m, hit, nil
}

// inRange evaluates one range's events for v as the OSV schema says: the
// events sorted by version, v is affected after an introduced event at or
// below it and no longer after a fixed or limit event at or below it or a
// last_affected event below it. It returns the interval v falls in.
func inRange(sys semver.System, ecosystem string, events []Event, v *semver.Version) (string, bool) {
	pts := sortedPoints(sys, ecosystem, events)
	affected := false
	lower := ""
	for _, p := range pts {
		switch {
		case p.ev.Introduced != "":
			if p.ver == nil || p.ver.Compare(v) <= 0 {
				affected, lower = true, p.ev.Introduced
			}
		case p.ev.Fixed != "", p.ev.Limit != "":
			if p.ver.Compare(v) <= 0 {
				affected = false
			} else if affected {
				return describe(lower, "<"+cmp.Or(p.ev.Fixed, p.ev.Limit)), true
			}
		case p.ev.LastAffected != "":
			if p.ver.Compare(v) < 0 {
				affected = false
			} else if affected {
				return describe(lower, "<="+p.ev.LastAffected), true
			}
		}
	}
	if affected {
		return describe(lower, ""), true
	}
	return "", false
}

func describe(lower, upper string) string {
	var parts []string
	if lower != "" && lower != "0" {
		parts = append(parts, ">="+lower)
	}
	if upper != "" {
		parts = append(parts, upper)
	}
	if len(parts) == 0 {
		return "all versions"
	}
	return strings.Join(parts, ", ")
}

// SpecOverlap says how the versions a constraint allows (a requirement's
// spec such as "~=2.0.1" or "^4.17.0", in the ecosystem's own syntax) meet
// the versions e affects for the package: all reports that every allowed
// version is affected, some that at least one is. Only ranges count here
// (a record that lists versions without ranges gives neither).
func (e *Entry) SpecOverlap(ecosystem, name, spec string) (all, some bool, err error) {
	sys, ok := system(ecosystem)
	if !ok || ecosystem == Go {
		return false, false, fmt.Errorf("ecosystem %s has no version constraints to compare", ecosystem)
	}
	c, err := sys.ParseConstraint(spec)
	if err != nil {
		return false, false, fmt.Errorf("%w: %s constraint %q", ErrVersion, ecosystem, spec)
	}
	allowed := c.Set()
	if allowed.Empty() {
		return false, false, nil
	}
	var affected *semver.Set
	for _, a := range e.Affected {
		if !a.Is(ecosystem, name) {
			continue
		}
		for _, r := range a.Ranges {
			if !r.Versioned() {
				continue
			}
			for _, iv := range intervals(sys, ecosystem, r.Events) {
				k, err := sys.ParseConstraint(iv)
				if err != nil {
					continue
				}
				s := k.Set()
				if affected == nil {
					affected = &s
				} else if err := affected.Union(s); err != nil {
					return false, false, err
				}
			}
		}
	}
	if affected == nil {
		return false, false, nil
	}
	both := c.Set()
	if err := both.Intersect(*affected); err != nil {
		return false, false, err
	}
	if both.Empty() {
		return false, false, nil
	}
	return both.String() == allowed.String(), true, nil
}

// intervals turns a range's events into constraints in the system's
// syntax, one per affected interval.
func intervals(sys semver.System, ecosystem string, events []Event) []string {
	and := ","
	if sys == semver.NPM {
		and = " "
	}
	pts := sortedPoints(sys, ecosystem, events)
	var out []string
	lower := ""
	open := false
	for _, p := range pts {
		switch {
		case p.ev.Introduced != "":
			if !open {
				open, lower = true, ">="+p.ev.Introduced
				if p.ev.Introduced == "0" {
					lower = ">=0"
				}
			}
		case p.ev.Fixed != "" || p.ev.Limit != "":
			if open {
				out = append(out, lower+and+"<"+cmp.Or(p.ev.Fixed, p.ev.Limit))
				open = false
			}
		case p.ev.LastAffected != "":
			if open {
				out = append(out, lower+and+"<="+p.ev.LastAffected)
				open = false
			}
		}
	}
	if open {
		out = append(out, lower)
	}
	return out
}

// point is a range event with its parsed version; nil for introduced "0",
// which is below every version.
type point struct {
	ev  Event
	ver *semver.Version
}

// sortedPoints parses a range's events and sorts them by version. An
// event whose version does not parse bounds nothing and is left out.
func sortedPoints(sys semver.System, ecosystem string, events []Event) []point {
	var pts []point
	for _, ev := range events {
		s := cmp.Or(ev.Introduced, ev.Fixed, ev.LastAffected, ev.Limit)
		if s == "" {
			continue
		}
		if ev.Introduced == "0" {
			pts = append(pts, point{ev: ev})
			continue
		}
		if p, err := sys.Parse(Canonical(ecosystem, s)); err == nil {
			pts = append(pts, point{ev, p})
		}
	}
	slices.SortStableFunc(pts, func(a, b point) int {
		switch {
		case a.ver == nil && b.ver == nil:
			return 0
		case a.ver == nil:
			return -1
		case b.ver == nil:
			return 1
		}
		return a.ver.Compare(b.ver)
	})
	return pts
}

// Compare orders two versions of a package of ecosystem (OSV's name) by
// that ecosystem's rules, as a comparison function does: negative when a
// is older, positive when newer, 0 when they are the same version. The
// error wraps ErrVersion when either does not parse or the ecosystem has
// no version order here.
func Compare(ecosystem, a, b string) (int, error) {
	sys, ok := system(ecosystem)
	if !ok {
		return 0, fmt.Errorf("%w: no version order for ecosystem %q", ErrVersion, ecosystem)
	}
	va, err := sys.Parse(Canonical(ecosystem, a))
	if err != nil {
		return 0, fmt.Errorf("%w: %s %q: %v", ErrVersion, ecosystem, a, err)
	}
	vb, err := sys.Parse(Canonical(ecosystem, b))
	if err != nil {
		return 0, fmt.Errorf("%w: %s %q: %v", ErrVersion, ecosystem, b, err)
	}
	return va.Compare(vb), nil
}
