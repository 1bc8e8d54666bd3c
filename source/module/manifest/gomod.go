package manifest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"

	"golang.org/x/mod/modfile"
)

// GoMod is what a go.mod declares.
type GoMod struct {
	Path         string
	GoVersion    string
	Dependencies []Dependency
	// Replaces lists the replace directives as "old => new".
	Replaces []string
}

// ParseGoMod reads a go.mod. Direct requirements get group "main",
// requirements marked // indirect group "indirect"; the version in go.mod
// is the minimum version the module selects, recorded as both spec and
// version.
func ParseGoMod(file string, data []byte) (*GoMod, error) {
	f, err := modfile.Parse(file, data, nil)
	if err != nil {
		return nil, goModError(file, err)
	}
	g := &GoMod{}
	if f.Module != nil {
		g.Path = clean(f.Module.Mod.Path, 300)
	}
	if f.Go != nil {
		g.GoVersion = clean(f.Go.Version, 50)
	}
	for _, r := range f.Require {
		group := "main"
		if r.Indirect {
			group = "indirect"
		}
		line := 0
		if r.Syntax != nil {
			line = r.Syntax.Start.Line
		}
		v := clean(r.Mod.Version, 100)
		g.Dependencies = append(g.Dependencies, Dependency{Name: clean(r.Mod.Path, 300), Ecosystem: Go, Group: group, Spec: v, Version: v, File: file, Line: line})
	}
	for _, r := range f.Replace {
		old := r.Old.Path
		if r.Old.Version != "" {
			old += "@" + r.Old.Version
		}
		nw := r.New.Path
		if r.New.Version != "" {
			nw += "@" + r.New.Version
		}
		g.Replaces = append(g.Replaces, clean(old+" => "+nw, 400))
	}
	return g, nil
}

func goModError(file string, err error) error {
	var list modfile.ErrorList
	if errors.As(err, &list) && len(list) > 0 {
		e := list[0]
		msg := e.Err.Error()
		if e.Verb != "" {
			msg = e.Verb + " " + e.ModPath + ": " + msg
		}
		return &ParseError{File: file, Line: e.Pos.Line, Col: e.Pos.LineRune, Msg: clean(msg, 300)}
	}
	var one *modfile.Error
	if errors.As(err, &one) {
		return &ParseError{File: file, Line: one.Pos.Line, Col: one.Pos.LineRune, Msg: clean(one.Err.Error(), 300)}
	}
	return &ParseError{File: file, Msg: clean(err.Error(), 300)}
}

// GoSum is the checksums a go.sum holds.
type GoSum struct {
	// Modules holds "path@version" for every module whose content (not
	// only its go.mod) is checksummed.
	Modules map[string]bool
	// Lines is the number of checksum lines.
	Lines int
}

// ParseGoSum reads a go.sum: lines "path version[/go.mod] h1:hash".
func ParseGoSum(file string, r io.Reader) (*GoSum, error) {
	s := &GoSum{Modules: map[string]bool{}}
	sc := bufio.NewScanner(io.LimitReader(r, MaxFileBytes))
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 3 || !strings.Contains(f[2], ":") {
			return nil, &ParseError{File: file, Line: n, Msg: fmt.Sprintf("want \"module version hash\", found %q", clean(line, 80))}
		}
		s.Lines++
		if strings.HasSuffix(f[1], "/go.mod") {
			continue
		}
		s.Modules[f[0]+"@"+f[1]] = true
	}
	if err := sc.Err(); err != nil {
		return nil, &ParseError{File: file, Line: n + 1, Msg: err.Error()}
	}
	return s, nil
}
