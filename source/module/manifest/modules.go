package manifest

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// ModuleList is a config/modules.yaml: the main and extended module names.
type ModuleList struct {
	Main     []string
	Extended []string
}

type modulesDoc struct {
	Main     []string `yaml:"main_modules"`
	Extended []string `yaml:"extended_modules"`
}

// ParseModulesYAML reads AMI's config/modules.yaml.
func ParseModulesYAML(file string, data []byte) (*ModuleList, error) {
	var doc modulesDoc
	if err := yaml.Unmarshal(data, &doc); err != nil {
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		msg = strings.ReplaceAll(msg, "\n", "; ")
		line := lineInMessage(msg)
		msg = strings.TrimPrefix(strings.TrimSpace(strings.TrimPrefix(msg, "unmarshal errors:;")), fmt.Sprintf("line %d: ", line))
		return nil, &ParseError{File: file, Line: yamlLineToLine(data, line), Msg: clean(msg, 300)}
	}
	l := &ModuleList{}
	for _, n := range doc.Main {
		if n = strings.TrimSpace(n); n != "" {
			l.Main = append(l.Main, clean(n, 300))
		}
	}
	for _, n := range doc.Extended {
		if n = strings.TrimSpace(n); n != "" {
			l.Extended = append(l.Extended, clean(n, 300))
		}
	}
	return l, nil
}

// yamlLineToLine turns a line number of a YAML parser error into a line of
// data as every other error counts them (lines end at '\n'). YAML also ends
// lines at a lone '\r' and at U+0085, U+2028 and U+2029, and reports the end
// of the stream one line past the last: a line outside the file is clamped
// to its last line.
func yamlLineToLine(data []byte, yline int) int {
	if yline <= 1 {
		return yline
	}
	line, y := 1, 1
	for i := 0; i < len(data); i++ {
		brk := 0
		switch {
		case data[i] == '\n':
			brk = 1
		case data[i] == '\r':
			brk = 1
			if i+1 < len(data) && data[i+1] == '\n' {
				brk = 2
			}
		case bytes.HasPrefix(data[i:], []byte("\u0085")):
			brk = 2
		case bytes.HasPrefix(data[i:], []byte("\u2028")), bytes.HasPrefix(data[i:], []byte("\u2029")):
			brk = 3
		}
		if brk == 0 {
			continue
		}
		if bytes.IndexByte(data[i:i+brk], '\n') >= 0 {
			line++
		}
		i += brk - 1
		if y++; y == yline {
			return line
		}
	}
	return line
}

// Submodule is one [submodule "name"] entry of a .gitmodules file.
type Submodule struct {
	Name   string
	Path   string
	URL    string
	Branch string
	Line   int // line of the section header
}

// ParseGitmodules reads a .gitmodules file (git-config syntax). Entries
// without a path are reported as errors naming their line.
func ParseGitmodules(file string, data []byte) ([]Submodule, error) {
	var subs []Submodule
	var cur *Submodule
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	n := 0
	finish := func() error {
		if cur != nil && cur.Path == "" {
			return &ParseError{File: file, Line: cur.Line, Msg: fmt.Sprintf("submodule %q has no path", cur.Name)}
		}
		if cur != nil {
			subs = append(subs, *cur)
		}
		cur = nil
		return nil
	}
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if line[0] == '[' {
			end := strings.IndexByte(line, ']')
			if end < 0 {
				return nil, &ParseError{File: file, Line: n, Msg: "section header without ']'"}
			}
			if err := finish(); err != nil {
				return nil, err
			}
			head := strings.TrimSpace(line[1:end])
			kind, name, _ := strings.Cut(head, " ")
			if !strings.EqualFold(kind, "submodule") {
				continue // another section: not ours
			}
			name = strings.TrimSpace(name)
			if len(name) < 2 || name[0] != '"' || name[len(name)-1] != '"' {
				return nil, &ParseError{File: file, Line: n, Msg: fmt.Sprintf("submodule section %q: name must be quoted", clean(head, 80))}
			}
			cur = &Submodule{Name: clean(name[1:len(name)-1], 300), Line: n}
			continue
		}
		key, val, ok := strings.Cut(line, "=")
		if !ok {
			return nil, &ParseError{File: file, Line: n, Msg: fmt.Sprintf("want \"key = value\", found %q", clean(line, 80))}
		}
		if cur == nil {
			continue
		}
		val = strings.TrimSpace(val)
		if len(val) >= 2 && val[0] == '"' && val[len(val)-1] == '"' {
			val = val[1 : len(val)-1]
		}
		switch strings.ToLower(strings.TrimSpace(key)) {
		case "path":
			cur.Path = clean(strings.Trim(val, "/"), 300)
		case "url":
			cur.URL = clean(RedactURL(val), 500)
		case "branch":
			cur.Branch = clean(val, 200)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, &ParseError{File: file, Line: n + 1, Msg: err.Error()}
	}
	if err := finish(); err != nil {
		return nil, err
	}
	return subs, nil
}

// RedactURL removes a password or token from a URL's user information
// ("https://user:secret@host/x" becomes "https://user:REDACTED@host/x"), so
// that credentials in a .gitmodules never reach a record.
func RedactURL(u string) string {
	scheme := strings.Index(u, "://")
	if scheme < 0 {
		return u
	}
	rest := u[scheme+3:]
	at := strings.IndexByte(rest, '@')
	slash := strings.IndexByte(rest, '/')
	if at < 0 || (slash >= 0 && slash < at) {
		return u
	}
	user := rest[:at]
	if i := strings.IndexByte(user, ':'); i >= 0 {
		user = user[:i] + ":REDACTED"
	} else {
		user = "REDACTED"
	}
	return u[:scheme+3] + user + rest[at:]
}
