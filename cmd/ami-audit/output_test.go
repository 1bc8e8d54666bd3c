package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ami-orchestrator/ami-audit/report"
)

func TestOutputFormatName(t *testing.T) {
	tests := []struct {
		o    outputFlags
		want string
	}{
		{outputFlags{}, "terminal"},
		{outputFlags{output: "-"}, "terminal"},
		{outputFlags{output: "a.html"}, "html"},
		{outputFlags{output: "dir/a.MD"}, "markdown"},
		{outputFlags{output: "a.yml"}, "yaml"},
		{outputFlags{output: "a.log"}, "terminal"},
		{outputFlags{format: "json", output: "a.html"}, "json"},
		{outputFlags{format: "md"}, "markdown"},
		{outputFlags{format: "HTML"}, "html"},
	}
	for _, tc := range tests {
		got, err := tc.o.formatName()
		if err != nil || got != tc.want {
			t.Errorf("%+v: got %q, %v; want %q", tc.o, got, err, tc.want)
		}
	}
	err := outputFlags{format: "pdf"}.check()
	var u usageError
	if !errors.As(err, &u) || !strings.Contains(err.Error(), "want one of terminal, json, yaml, markdown, csv, html") {
		t.Errorf("check of --format=pdf: %v", err)
	}
}

func TestRenderToFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "r.md")
	if err := os.WriteFile(path, []byte("old report"), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	a := newApp(nil, strings.NewReader(""), &stdout, &stderr)
	r := &report.Report{Title: "T", Summary: []report.Item{{Label: "n", Value: "1"}}}
	if err := a.render(outputFlags{output: path}, r); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(b), "# T\n") {
		t.Errorf("file holds %q, want Markdown", b)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o644 {
		t.Errorf("file mode %v, want 0644", fi.Mode().Perm())
	}
	if stdout.Len() != 0 || !strings.Contains(stderr.String(), "report written to "+path) {
		t.Errorf("stdout %q, stderr %q", stdout.String(), stderr.String())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the report", len(entries))
	}

	// A failing write leaves the previous file in place and no temporary.
	boom := errors.New("boom")
	err = writeAtomic(path, func(f *os.File) error {
		f.WriteString("half a rep")
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("writeAtomic error %v", err)
	}
	if b2, _ := os.ReadFile(path); !bytes.Equal(b, b2) {
		t.Errorf("a failed write changed the file to %q", b2)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("a failed write left %d entries", len(entries))
	}

	// A directory that does not exist is an error naming the file.
	missing := filepath.Join(dir, "no", "r.json")
	if err := a.render(outputFlags{output: missing}, r); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("render to %s: %v", missing, err)
	}
}

func TestRenderToStdoutPlainWhenPiped(t *testing.T) {
	var stdout bytes.Buffer
	a := newApp(nil, strings.NewReader(""), &stdout, &bytes.Buffer{})
	r := &report.Report{Title: "T", Sections: []report.Section{{Title: "S", Columns: []string{"severity"}, Rows: [][]string{{"critical"}}}}}
	if err := a.render(outputFlags{}, r); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(stdout.String(), "\x1b") || !strings.Contains(stdout.String(), "critical") {
		t.Errorf("piped terminal report %q", stdout.String())
	}
}
