package coverage

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func parseFile(t *testing.T, name string) (*Report, error) {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return Parse(name, f)
}

func TestParseKnownAnswers(t *testing.T) {
	tests := []struct {
		file   string
		format string
		files  []File
	}{
		{"coverage.json", CoveragePy, []File{
			{"base/__init__.py", 0, 0},
			{"base/backend/dataops.py", 6, 8},
			{"base/util.py", 3, 4},
		}},
		{"coverage.xml", Cobertura, []File{
			// Two classes share dataops.py; line 5 is listed by both.
			{"backend/dataops.py", 4, 6},
			{"util.py", 1, 3},
		}},
		{"lcov.info", LCOV, []File{
			// app.js has two records, merged: lines 1,2,3,5,6, line 6 missed.
			{"src/app.js", 4, 5},
			{"src/summary-only.js", 7, 10},
			{"src/util.js", 0, 2},
		}},
		// Written by "go test -coverprofile" on a small package; "go tool
		// cover -func" reports 28.6% of statements (2 of 7).
		{"cover.out", GoProfile, []File{
			{"example.com/gocov/p/p.go", 2, 7},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			r, err := parseFile(t, tc.file)
			if err != nil {
				t.Fatal(err)
			}
			if r.Format != tc.format {
				t.Errorf("format = %q, want %q", r.Format, tc.format)
			}
			if diff := cmp.Diff(tc.files, r.Files); diff != "" {
				t.Errorf("files (-want +got):\n%s", diff)
			}
			var c, tot int64
			for _, f := range tc.files {
				c += f.Covered
				tot += f.Total
			}
			if r.Covered != c || r.Total != tot {
				t.Errorf("totals %d/%d, want %d/%d", r.Covered, r.Total, c, tot)
			}
		})
	}
	r, _ := parseFile(t, "cover.out")
	if got := int(r.Rate()*1000 + 0.5); got != 286 {
		t.Errorf("go rate = %.4f, want 0.286", r.Rate())
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, content, want string
	}{
		{"trunc.json", "{\"files\": {\n \"a.py\": {\"summary\": {\"covered_lines\": 1,\n", "trunc.json:3: unexpected end of JSON input"},
		{"syntax.json", "{\"files\": {\n \"a.py\": {\"summary\": {\"covered_lines\": 1 \"num_statements\": 2}}}}", "syntax.json:2: invalid character"},
		{"type.json", "{\"files\": {\n\n \"a.py\": {\"summary\": {\"covered_lines\": \"1\", \"num_statements\": 2}}}}", `type.json:3: file "a.py": summary.covered_lines holds a JSON string`},
		{"nosummary.json", "{\"files\": {\"a.py\": {}}}", `nosummary.json:1: file "a.py" has no summary`},
		{"impossible.json", "{\"files\": {\"a.py\": {\"summary\": {\"covered_lines\": 3, \"num_statements\": 2}}}}", "impossible.json:1: file \"a.py\": covered_lines 3 of num_statements 2 is impossible"},
		{"nofiles.json", "{\"meta\": {}}", "nofiles.json: no \"files\" object"},
		{"bad.xml", "<?xml version=\"1.0\"?>\n<coverage>\n<packages>\n<class filename=\"a.py\">\n<line number=\"1\" hits=\"1\">\n</coverage>", "bad.xml:6: element <line> closed by </coverage>"},
		{"badline.xml", "<coverage>\n<class filename=\"a.py\">\n<line number=\"x\" hits=\"1\"/>\n</class></coverage>", `badline.xml:3: <line number="x" hits="1">`},
		{"notcob.xml", "<?xml version=\"1.0\"?><report/>", "notcob.xml: no <coverage> element"},
		{"trunc.info", "TN:\nSF:a.js\nDA:1,1\n", `trunc.info:3: record for "a.js" has no end_of_record`},
		{"bad.info", "SF:a.js\nDA:x,1\nend_of_record\n", "bad.info:2: DA:x,1: line and hits must be integers"},
		{"bad.out", "mode: set\na.go:1.1,2.2 1 1\na.go 1 1\n", `bad.out:3: want "file:line.col,line.col statements count"`},
		{"mode.out", "mode: fast\n", `mode.out:1: unknown mode "fast"`},
		{"garbage", "\x00\x01\x02", "garbage: not a coverage report"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.name, strings.NewReader(tc.content))
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("error = %q, want prefix %q", err, tc.want)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, name := range []string{"coverage.json", "coverage.xml", "lcov.info", "cover.out"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("{\"files\": {\"a\": {\"summary\": {\"covered_lines\": 1, \"num_statements\": 1}}}}"))
	f.Add([]byte("SF:x\nLF:3\nLH:9\nend_of_record\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Parse("fuzz", strings.NewReader(string(data)))
		if err != nil {
			return
		}
		var c, tot int64
		for _, f := range r.Files {
			if f.Covered < 0 || f.Covered > f.Total {
				t.Fatalf("file %q: covered %d of %d", f.Path, f.Covered, f.Total)
			}
			c += f.Covered
			tot += f.Total
		}
		if c != r.Covered || tot != r.Total {
			t.Fatalf("totals %d/%d do not add up to %d/%d", r.Covered, r.Total, c, tot)
		}
	})
}
