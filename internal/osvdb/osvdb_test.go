package osvdb

import (
	"archive/zip"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	audit "github.com/ami-orchestrator/ami-audit"
)

// fixture is the database of real advisories in testdata/osv.
func fixture(t testing.TB) *DB {
	t.Helper()
	db, err := Open(filepath.Join("testdata", "osv"))
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func load(t testing.TB, db *DB, eco string, names ...string) *Loaded {
	t.Helper()
	want := map[string]bool{}
	for _, n := range names {
		want[NormalizeName(eco, n)] = true
	}
	l, err := db.Load(eco, want)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestAffects(t *testing.T) {
	db := fixture(t)
	tests := []struct {
		eco, name, version, id string
		affected               bool
		rng                    string
		fixed                  []string
	}{
		// PyPI, PEP 440: CVE-2018-7536 affects 1.8 < 1.8.19, 1.11 < 1.11.11, 2.0 < 2.0.3.
		{PyPI, "django", "2.0.1", "PYSEC-2018-5", true, ">=2.0, <2.0.3", []string{"1.8.19", "1.11.11", "2.0.3"}},
		{PyPI, "Django", "2.0", "PYSEC-2018-5", true, ">=2.0, <2.0.3", nil},
		{PyPI, "django", "2.0.0", "PYSEC-2018-5", true, ">=2.0, <2.0.3", nil},
		{PyPI, "django", "2.0.3", "PYSEC-2018-5", false, "", nil},
		{PyPI, "django", "2.0.10", "PYSEC-2018-5", false, "", nil},      // 10 > 3: numbers, not text
		{PyPI, "django", "2.0.3rc1", "PYSEC-2018-5", true, "", nil},     // a pre-release of the fix is before it
		{PyPI, "django", "2.0.3.dev2", "PYSEC-2018-5", true, "", nil},   // so is a dev release
		{PyPI, "django", "2.0.3.post1", "PYSEC-2018-5", false, "", nil}, // a post-release is after it
		{PyPI, "django", "2.0.2+ubuntu1", "PYSEC-2018-5", true, "", nil},
		{PyPI, "django", "1!2.0.1", "PYSEC-2018-5", false, "", nil}, // epoch 1 is after every epoch-0 version
		{PyPI, "django", "1.11.10", "PYSEC-2018-5", true, ">=1.11, <1.11.11", nil},
		{PyPI, "django", "1.10.8", "PYSEC-2018-5", false, "", nil}, // between two affected ranges
		{PyPI, "django", "1.8", "PYSEC-2018-5", true, ">=1.8, <1.8.19", nil},
		{PyPI, "requests", "2.19.1", "PYSEC-2018-28", true, "<2.20.0", nil},
		{PyPI, "requests", "2.20.0", "PYSEC-2018-28", false, "", nil},
		// npm semver.
		{NPM, "lodash", "4.17.15", "GHSA-35jh-r3h4-6jhm", true, "<4.17.21", []string{"4.17.21"}},
		{NPM, "lodash-es", "4.17.20", "GHSA-35jh-r3h4-6jhm", true, "<4.17.21", nil},
		{NPM, "lodash", "4.17.21", "GHSA-35jh-r3h4-6jhm", false, "", nil},
		{NPM, "lodash", "4.17.21-rc.1", "GHSA-35jh-r3h4-6jhm", true, "", nil},
		{NPM, "lodash", "4.18.0", "GHSA-35jh-r3h4-6jhm", false, "", nil},
		// Go module versions, as go.mod writes them (with v) against OSV's (without).
		{Go, "golang.org/x/crypto", "v0.16.0", "GO-2023-2402", true, "<0.17.0", []string{"0.17.0"}},
		{Go, "golang.org/x/crypto", "v0.0.0-20231218163308-9d2ee975ef9f", "GO-2023-2402", true, "", nil},
		{Go, "golang.org/x/crypto", "v0.17.0", "GO-2023-2402", false, "", nil},
		{Go, "golang.org/x/crypto", "v0.45.0", "GO-2023-2402", false, "", nil},
	}
	for _, tc := range tests {
		l := load(t, db, tc.eco, tc.name)
		es := l.ByName[NormalizeName(tc.eco, tc.name)]
		i := slices.IndexFunc(es, func(e *Entry) bool { return e.ID == tc.id })
		if i < 0 {
			t.Fatalf("%s %s: advisory %s not loaded (have %d)", tc.eco, tc.name, tc.id, len(es))
		}
		m, got, err := es[i].Affects(tc.eco, tc.name, tc.version)
		if err != nil {
			t.Fatalf("%s %s %s: %v", tc.eco, tc.name, tc.version, err)
		}
		if got != tc.affected {
			t.Errorf("%s %s %s: affected %v, want %v (range %q)", tc.eco, tc.name, tc.version, got, tc.affected, m.Range)
			continue
		}
		if tc.rng != "" && m.Range != tc.rng {
			t.Errorf("%s %s %s: range %q, want %q", tc.eco, tc.name, tc.version, m.Range, tc.rng)
		}
		if tc.fixed != nil && !slices.Equal(m.Fixed, tc.fixed) {
			t.Errorf("%s %s %s: fixed %v, want %v", tc.eco, tc.name, tc.version, m.Fixed, tc.fixed)
		}
	}
}

func TestAffectsBadVersion(t *testing.T) {
	es := load(t, fixture(t), PyPI, "django").ByName["django"]
	if _, _, err := es[0].Affects(PyPI, "django", "not a version!"); !errors.Is(err, ErrVersion) {
		t.Errorf("unparsable version gave %v", err)
	}
	if _, ok, _ := es[0].Affects(NPM, "django", "2.0.1"); ok {
		t.Error("a PyPI advisory affected an npm package")
	}
}

func TestSpecOverlap(t *testing.T) {
	db := fixture(t)
	django := load(t, db, PyPI, "django").ByName["django"][0]
	lodash := load(t, db, NPM, "lodash").ByName["lodash"][0]
	for _, tc := range []struct {
		e               *Entry
		eco, name, spec string
		all, some       bool
	}{
		{django, PyPI, "django", ">=2.0.1,<2.0.3", true, true},
		{django, PyPI, "django", "~=2.0.1", false, true}, // allows 2.0.1 … 2.0.x: some affected, some fixed
		{django, PyPI, "django", "==2.0.*", false, true},
		{django, PyPI, "django", "~=2.0.3", false, false},
		{django, PyPI, "django", ">=2.1", false, false},
		{django, PyPI, "django", "==2.0.2", true, true},
		{lodash, NPM, "lodash", "^4.17.15", false, true},
		{lodash, NPM, "lodash", ">=4.17.0 <4.17.20", true, true},
		{lodash, NPM, "lodash", "^4.17.21", false, false},
	} {
		all, some, err := tc.e.SpecOverlap(tc.eco, tc.name, tc.spec)
		if err != nil {
			t.Fatalf("%s %q: %v", tc.name, tc.spec, err)
		}
		if all != tc.all || some != tc.some {
			t.Errorf("%s %q: all %v some %v, want %v %v", tc.name, tc.spec, all, some, tc.all, tc.some)
		}
	}
}

func TestRate(t *testing.T) {
	db := fixture(t)
	lodash := load(t, db, NPM, "lodash").ByName["lodash"][0]
	// CVSS:3.1/AV:N/AC:L/PR:H/UI:N/S:U/C:H/I:H/A:H scores 7.2: high.
	if r := lodash.Rate(NPM, "lodash"); r.Severity != audit.SeverityError || r.Score != 7.2 || r.Source != "CVSS_V3" {
		t.Errorf("lodash rated %+v", r)
	}
	django := load(t, db, PyPI, "django").ByName["django"][0]
	if r := django.Rate(PyPI, "django"); r.Severity != audit.SeverityWarning || r.Source != "none" {
		t.Errorf("django (no severity in the record) rated %+v", r)
	}
	labelled := &Entry{ID: "x", DatabaseSpecific: map[string]any{"severity": "CRITICAL"}}
	if r := labelled.Rate(NPM, "x"); r.Severity != audit.SeverityCritical || r.Source != "database_specific" {
		t.Errorf("labelled record rated %+v", r)
	}
	for score, want := range map[float64]audit.Severity{9.8: audit.SeverityCritical, 7.0: audit.SeverityError, 5.3: audit.SeverityWarning, 3.1: audit.SeverityInfo} {
		if got := FromScore(score); got != want {
			t.Errorf("FromScore(%v) = %s, want %s", score, got, want)
		}
	}
}

func TestLoad(t *testing.T) {
	db := fixture(t)
	l := load(t, db, PyPI, "django", "flask")
	if l.Records != 2 || len(l.ByName["django"]) != 1 || len(l.ByName["flask"]) != 0 || l.Skipped != 0 {
		t.Errorf("loaded %+v", l)
	}
	if _, err := db.Load("crates.io", map[string]bool{"x": true}); !errors.Is(err, ErrNoDatabase) {
		t.Errorf("missing ecosystem gave %v", err)
	}
	// osv-scanner's layouts are found too, and a broken record is skipped.
	dir := t.TempDir()
	p := filepath.Join(dir, "osv-scalibr", "PyPI", "all.zip")
	os.MkdirAll(filepath.Dir(p), 0o755)
	f, _ := os.Create(p)
	zw := zip.NewWriter(f)
	for name, body := range map[string]string{
		"good.json":      `{"id":"X-1","affected":[{"package":{"ecosystem":"PyPI","name":"Flask"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1.0"}]}]}]}`,
		"bad.json":       `{"id": [`,
		"withdrawn.json": `{"id":"X-2","withdrawn":"2020-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"PyPI","name":"flask"}}]}`,
	} {
		w, _ := zw.Create(name)
		w.Write([]byte(body))
	}
	zw.Close()
	f.Close()
	db2, _ := Open(dir)
	l = load(t, db2, PyPI, "flask")
	if len(l.ByName["flask"]) != 1 || l.Skipped != 1 || len(l.Problems) != 1 {
		t.Errorf("loaded %+v", l)
	}
	if _, err := Open(filepath.Join(dir, "nope")); err == nil {
		t.Error("Open accepted a missing directory")
	}
}

func FuzzParseAffects(f *testing.F) {
	for _, eco := range []string{PyPI, NPM, Go} {
		zr, err := zip.OpenReader(filepath.Join("testdata", "osv", eco, "all.zip"))
		if err != nil {
			f.Fatal(err)
		}
		for _, zf := range zr.File {
			rc, _ := zf.Open()
			b := make([]byte, zf.UncompressedSize64)
			if _, err := rc.Read(b); err != nil && len(b) == 0 {
				f.Fatal(err)
			}
			rc.Close()
			f.Add(b, eco, "1.0.0", ">=1.0")
		}
		zr.Close()
	}
	f.Fuzz(func(t *testing.T, data []byte, eco, version, spec string) {
		e, err := Parse(data)
		if err != nil {
			return
		}
		for _, a := range e.Affected {
			e.Affects(eco, a.Package.Name, version)
			e.SpecOverlap(eco, a.Package.Name, spec)
			e.Rate(eco, a.Package.Name)
		}
	})
}

func TestCompare(t *testing.T) {
	tests := []struct {
		eco, a, b string
		want      int
	}{
		{PyPI, "2.0.1", "2.0.10", -1},
		{PyPI, "2.0.3rc1", "2.0.3", -1},
		{PyPI, "2.0.3.post1", "2.0.3", 1},
		{PyPI, "1!1.0", "2.0", 1},
		{PyPI, "1.0", "1.0.0", 0},
		{NPM, "4.17.15", "4.17.21", -1},
		{NPM, "1.0.0-beta.2", "1.0.0-beta.10", -1},
		{Go, "v0.17.0", "0.16.0", 1},
		{Go, "v1.2.3", "v1.2.3", 0},
	}
	for _, tt := range tests {
		got, err := Compare(tt.eco, tt.a, tt.b)
		if err != nil || sign(got) != tt.want {
			t.Errorf("Compare(%s, %s, %s) = %d, %v; want %d", tt.eco, tt.a, tt.b, got, err, tt.want)
		}
	}
	if _, err := Compare(PyPI, "not a version!", "1.0"); !errors.Is(err, ErrVersion) {
		t.Errorf("a bad version: %v", err)
	}
	if _, err := Compare("Maven", "1", "2"); !errors.Is(err, ErrVersion) {
		t.Errorf("an unknown ecosystem: %v", err)
	}
}

func sign(n int) int {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return 1
	}
	return 0
}
