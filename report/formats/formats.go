// Package formats finds a report formatter by name. The table below is the
// one list of formats; commands offer its names in --format.
package formats

import (
	"fmt"
	"strings"

	"github.com/ami-orchestrator/ami-audit/report"
	"github.com/ami-orchestrator/ami-audit/report/csvfmt"
	"github.com/ami-orchestrator/ami-audit/report/html"
	"github.com/ami-orchestrator/ami-audit/report/jsonfmt"
	"github.com/ami-orchestrator/ami-audit/report/markdown"
	"github.com/ami-orchestrator/ami-audit/report/oscal"
	"github.com/ami-orchestrator/ami-audit/report/sarif"
	"github.com/ami-orchestrator/ami-audit/report/terminal"
	"github.com/ami-orchestrator/ami-audit/report/yamlfmt"
)

// Options are what a format may need to know about where it is written.
type Options struct {
	// Colour allows ANSI colour (terminal format only).
	Colour bool
	// Width is the terminal width in columns, 0 when unknown (terminal
	// format only).
	Width int
}

type entry struct {
	name    string
	aliases []string
	ext     string
	build   func(Options) report.Formatter
}

var table = []entry{
	{name: "terminal", aliases: []string{"text", "txt"}, ext: ".txt", build: func(o Options) report.Formatter {
		return terminal.New(terminal.Options{Colour: o.Colour, Width: o.Width})
	}},
	{name: "json", ext: ".json", build: func(Options) report.Formatter { return jsonfmt.New() }},
	{name: "yaml", aliases: []string{"yml"}, ext: ".yaml", build: func(Options) report.Formatter { return yamlfmt.New() }},
	{name: "markdown", aliases: []string{"md"}, ext: ".md", build: func(Options) report.Formatter { return markdown.New() }},
	{name: "csv", ext: ".csv", build: func(Options) report.Formatter { return csvfmt.New() }},
	{name: "html", aliases: []string{"htm"}, ext: ".html", build: func(Options) report.Formatter { return html.New() }},
	// SARIF holds the report's findings only (code-scanning views).
	{name: "sarif", ext: ".sarif", build: func(Options) report.Formatter { return sarif.New() }},
	// OSCAL holds the report's compliance assessment (assessment-results).
	{name: "oscal", ext: ".oscal", build: func(Options) report.Formatter { return oscal.New() }},
}

// Names lists the format names, in the order they are documented. Aliases
// (md, yml, htm, text, txt) are accepted by ByName but not listed.
func Names() []string {
	out := make([]string, len(table))
	for i, e := range table {
		out[i] = e.name
	}
	return out
}

// ByName returns the formatter called name (or one of its aliases), in any
// letter case.
func ByName(name string, opts Options) (report.Formatter, error) {
	e, ok := lookup(name)
	if !ok {
		return nil, fmt.Errorf("unknown report format %q (want one of %s)", name, strings.Join(Names(), ", "))
	}
	return e.build(opts), nil
}

// Canonical returns the format's main name for a name or alias.
func Canonical(name string) (string, bool) {
	e, ok := lookup(name)
	return e.name, ok
}

// ByExtension returns the name of the format whose files end in the
// extension of path (".md", ".html", …), or false.
func ByExtension(path string) (string, bool) {
	i := strings.LastIndexByte(path, '.')
	if i < 0 {
		return "", false
	}
	ext := strings.ToLower(path[i:])
	for _, e := range table {
		if e.ext == ext || (ext == ".yml" && e.name == "yaml") || (ext == ".htm" && e.name == "html") || (ext == ".markdown" && e.name == "markdown") {
			return e.name, true
		}
	}
	return "", false
}

func lookup(name string) (entry, bool) {
	n := strings.ToLower(strings.TrimSpace(name))
	for _, e := range table {
		if e.name == n {
			return e, true
		}
		for _, a := range e.aliases {
			if a == n {
				return e, true
			}
		}
	}
	return entry{}, false
}
