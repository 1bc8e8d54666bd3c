package formats

import (
	"bytes"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ami-orchestrator/ami-audit/report"
	"github.com/ami-orchestrator/ami-audit/report/csvfmt"
	"github.com/ami-orchestrator/ami-audit/report/html"
	"github.com/ami-orchestrator/ami-audit/report/jsonfmt"
	"github.com/ami-orchestrator/ami-audit/report/markdown"
	"github.com/ami-orchestrator/ami-audit/report/terminal"
	"github.com/ami-orchestrator/ami-audit/report/yamlfmt"
)

func TestNames(t *testing.T) {
	want := []string{"terminal", "json", "yaml", "markdown", "csv", "html", "sarif", "oscal"}
	if diff := cmp.Diff(want, Names()); diff != "" {
		t.Errorf("Names() (-want +got):\n%s", diff)
	}
}

func TestByName(t *testing.T) {
	tests := []struct {
		name string
		want report.Formatter
	}{
		{"terminal", terminal.New(terminal.Options{Colour: true, Width: 80})},
		{"text", terminal.New(terminal.Options{Colour: true, Width: 80})},
		{"json", jsonfmt.New()},
		{"JSON", jsonfmt.New()},
		{"yaml", yamlfmt.New()},
		{"yml", yamlfmt.New()},
		{"markdown", markdown.New()},
		{"md", markdown.New()},
		{" csv ", csvfmt.New()},
		{"html", html.New()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ByName(tc.name, Options{Colour: true, Width: 80})
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("ByName(%q) = %#v, want %#v", tc.name, got, tc.want)
			}
		})
	}
}

func TestByNameUnknown(t *testing.T) {
	for _, name := range []string{"", "pdf", "htmlx", "termina"} {
		_, err := ByName(name, Options{})
		if err == nil {
			t.Fatalf("ByName(%q) succeeded", name)
		}
		for _, want := range append(Names(), `"`+name+`"`) {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not name %s", err, want)
			}
		}
	}
}

func TestByExtension(t *testing.T) {
	tests := map[string]string{
		"a.md": "markdown", "x/REPORT.HTML": "html", "a.htm": "html", "a.json": "json", "code.sarif": "sarif",
		"a.yml": "yaml", "a.yaml": "yaml", "a.csv": "csv", "a.txt": "terminal", "a.markdown": "markdown",
		"a.pdf": "", "noext": "", "dir.d/file": "",
	}
	for path, want := range tests {
		got, ok := ByExtension(path)
		if got != want || ok != (want != "") {
			t.Errorf("ByExtension(%q) = %q, %v; want %q", path, got, ok, want)
		}
	}
}

// Every format renders an empty report without error, and the colour option
// reaches the terminal format.
func TestEveryFormatRenders(t *testing.T) {
	r := &report.Report{Title: "t", Summary: []report.Item{{Label: "severity", Value: "x"}},
		Sections: []report.Section{{Title: "s", Columns: []string{"severity"}, Rows: [][]string{{"error"}}}}}
	for _, name := range Names() {
		for _, colour := range []bool{false, true} {
			f, err := ByName(name, Options{Colour: colour})
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if err := f.Format(&buf, r); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if buf.Len() == 0 {
				t.Errorf("%s wrote nothing", name)
			}
			hasEsc := bytes.Contains(buf.Bytes(), []byte("\x1b["))
			if hasEsc != (colour && name == "terminal") {
				t.Errorf("%s colour=%v: ANSI escapes present = %v", name, colour, hasEsc)
			}
			if err := f.Format(&bytes.Buffer{}, &report.Report{}); err != nil {
				t.Errorf("%s: empty report: %v", name, err)
			}
		}
	}
}
