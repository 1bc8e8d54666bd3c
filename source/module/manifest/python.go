package manifest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/pelletier/go-toml/v2"
)

// Pyproject is what a pyproject.toml declares.
type Pyproject struct {
	Name           string
	Version        string
	RequiresPython string
	Dependencies   []Dependency
	// Workspace lists the uv workspace members ([tool.uv.workspace]).
	Workspace []string
	// Problems are entries that could not be understood; the rest of the
	// file was still read. Each names the file and line.
	Problems []string
}

type pyprojectDoc struct {
	Project struct {
		Name                 string              `toml:"name"`
		Version              string              `toml:"version"`
		RequiresPython       string              `toml:"requires-python"`
		Dependencies         []string            `toml:"dependencies"`
		OptionalDependencies map[string][]string `toml:"optional-dependencies"`
	} `toml:"project"`
	DependencyGroups map[string][]any `toml:"dependency-groups"`
	Tool             struct {
		UV struct {
			DevDependencies []string `toml:"dev-dependencies"`
			Workspace       struct {
				Members []string `toml:"members"`
			} `toml:"workspace"`
		} `toml:"uv"`
		Poetry struct {
			Name         string                    `toml:"name"`
			Version      string                    `toml:"version"`
			Dependencies map[string]any            `toml:"dependencies"`
			DevDeps      map[string]any            `toml:"dev-dependencies"`
			Group        map[string]poetryGroupDef `toml:"group"`
		} `toml:"poetry"`
	} `toml:"tool"`
}

type poetryGroupDef struct {
	Dependencies map[string]any `toml:"dependencies"`
}

// tomlError turns a go-toml error into a *ParseError with its position.
func tomlError(file string, err error) error {
	var de *toml.DecodeError
	if errors.As(err, &de) {
		line, col := de.Position()
		msg := strings.TrimPrefix(de.Error(), "toml: ")
		if k := de.Key(); len(k) > 0 {
			msg += " (key " + strings.Join(k, ".") + ")"
		}
		return &ParseError{File: file, Line: line, Col: col, Msg: clean(msg, 300)}
	}
	return &ParseError{File: file, Msg: clean(err.Error(), 300)}
}

// ParsePyproject reads a pyproject.toml: PEP 621 [project] dependencies and
// optional-dependencies, PEP 735 [dependency-groups] (with include-group),
// uv's [tool.uv] dev-dependencies and workspace members, and Poetry's
// [tool.poetry] dependency tables. file names the file in errors and in
// the dependencies.
func ParsePyproject(file string, data []byte) (*Pyproject, error) {
	var doc pyprojectDoc
	if err := toml.Unmarshal(data, &doc); err != nil {
		return nil, tomlError(file, err)
	}
	p := &Pyproject{
		Name:           clean(doc.Project.Name, 200),
		Version:        clean(doc.Project.Version, 100),
		RequiresPython: clean(doc.Project.RequiresPython, 100),
		Workspace:      doc.Tool.UV.Workspace.Members,
	}
	if p.Name == "" {
		p.Name = clean(doc.Tool.Poetry.Name, 200)
		p.Version = clean(doc.Tool.Poetry.Version, 100)
	}
	add := func(group string, specs []string, from int) {
		for _, s := range specs {
			line := lineOf(data, `"`+s+`"`, from)
			if line == 0 {
				line = lineOf(data, `'`+s+`'`, from)
			}
			req, err := ParseRequirement(s)
			if err != nil {
				p.Problems = append(p.Problems, (&ParseError{File: file, Line: line, Msg: err.Error()}).Error())
				continue
			}
			p.Dependencies = append(p.Dependencies, pyDep(req, group, file, line))
		}
	}
	add("main", doc.Project.Dependencies, sectionOffset(data, "project"))
	for _, extra := range sortedKeys(doc.Project.OptionalDependencies) {
		add("optional:"+extra, doc.Project.OptionalDependencies[extra], sectionOffset(data, "project.optional-dependencies"))
	}
	groupsAt := sectionOffset(data, "dependency-groups")
	for _, g := range sortedKeys(doc.DependencyGroups) {
		specs, problems := resolveGroup(doc.DependencyGroups, g, nil)
		for _, pr := range problems {
			p.Problems = append(p.Problems, (&ParseError{File: file, Line: lineOf(data, g, groupsAt), Msg: pr}).Error())
		}
		add("group:"+g, specs, groupsAt)
	}
	add("dev", doc.Tool.UV.DevDependencies, sectionOffset(data, "tool.uv"))
	poetry := func(group string, m map[string]any) {
		for _, name := range sortedKeys(m) {
			if group == "main" && strings.EqualFold(name, "python") {
				continue
			}
			spec := ""
			switch v := m[name].(type) {
			case string:
				spec = v
			case map[string]any:
				if s, ok := v["version"].(string); ok {
					spec = s
				}
			}
			d := Dependency{Name: NormalizePyName(name), Ecosystem: PyPI, Group: group, Spec: clean(spec, 200), File: file, Line: lineOf(data, name, 0)}
			if isExactPoetry(spec) {
				d.Version = strings.TrimPrefix(spec, "==")
			}
			p.Dependencies = append(p.Dependencies, d)
		}
	}
	poetry("main", doc.Tool.Poetry.Dependencies)
	poetry("dev", doc.Tool.Poetry.DevDeps)
	for _, g := range sortedKeys(doc.Tool.Poetry.Group) {
		poetry("group:"+g, doc.Tool.Poetry.Group[g].Dependencies)
	}
	return p, nil
}

func isExactPoetry(spec string) bool {
	if spec == "" || strings.ContainsAny(spec, "^~<>*,| !") {
		return false
	}
	return !strings.HasPrefix(spec, ">") && spec != "*"
}

// resolveGroup expands a PEP 735 dependency group, following
// {include-group = "…"} entries and refusing cycles.
func resolveGroup(groups map[string][]any, name string, seen []string) (specs []string, problems []string) {
	if slices.Contains(seen, name) {
		return nil, []string{fmt.Sprintf("dependency group %q includes itself (%s)", name, strings.Join(append(seen, name), " -> "))}
	}
	entries, ok := groups[name]
	if !ok {
		return nil, []string{fmt.Sprintf("dependency group %q is included but not defined", name)}
	}
	seen = append(seen, name)
	for _, e := range entries {
		switch v := e.(type) {
		case string:
			specs = append(specs, v)
		case map[string]any:
			inc, ok := v["include-group"].(string)
			if !ok {
				problems = append(problems, fmt.Sprintf("dependency group %q: table entry without include-group", name))
				continue
			}
			s, p := resolveGroup(groups, inc, seen)
			specs = append(specs, s...)
			problems = append(problems, p...)
		default:
			problems = append(problems, fmt.Sprintf("dependency group %q: entry of type %T is neither a string nor an include-group table", name, e))
		}
	}
	return specs, problems
}

func pyDep(req Requirement, group, file string, line int) Dependency {
	spec := req.Spec
	if req.URL != "" {
		spec = "@ " + req.URL
	}
	return Dependency{
		Name:      NormalizePyName(req.Name),
		Ecosystem: PyPI,
		Group:     group,
		Spec:      clean(spec, 300),
		Version:   clean(req.Pinned(), 100),
		Markers:   clean(req.Markers, 300),
		File:      file,
		Line:      line,
	}
}

// sectionOffset is the byte offset of the [name] table header in data, or 0.
func sectionOffset(data []byte, name string) int {
	i := bytes.Index(data, []byte("["+name+"]"))
	if i < 0 {
		return 0
	}
	return i
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Lock is the resolved versions of a lock file.
type Lock struct {
	// Versions maps a package name (normalised for Python) to its resolved
	// version. A package locked at several versions lists them joined by
	// " | ", in file order.
	Versions map[string]string
	// Packages is the number of package entries in the file.
	Packages int
}

type uvLockDoc struct {
	Version int `toml:"version"`
	Package []struct {
		Name    string `toml:"name"`
		Version string `toml:"version"`
	} `toml:"package"`
}

// ParseUVLock reads a uv.lock file.
func ParseUVLock(file string, data []byte) (*Lock, error) {
	var doc uvLockDoc
	if err := toml.Unmarshal(data, &doc); err != nil {
		return nil, tomlError(file, err)
	}
	l := &Lock{Versions: make(map[string]string, len(doc.Package)), Packages: len(doc.Package)}
	for _, p := range doc.Package {
		if p.Name == "" {
			continue
		}
		l.add(NormalizePyName(p.Name), clean(p.Version, 100))
	}
	return l, nil
}

func (l *Lock) add(name, version string) {
	if version == "" {
		if _, ok := l.Versions[name]; !ok {
			l.Versions[name] = ""
		}
		return
	}
	old, ok := l.Versions[name]
	switch {
	case !ok || old == "":
		l.Versions[name] = version
	case !slices.Contains(strings.Split(old, " | "), version):
		l.Versions[name] = old + " | " + version
	}
}

// Requirements is what a requirements file and the files it includes declare.
type Requirements struct {
	Dependencies []Dependency
	// Files lists every file read, the top one first.
	Files []string
	// Problems are lines that could not be understood, each with file and
	// line; the rest was still read.
	Problems []string
}

// ReadFunc reads a file named relative to the repository; requirement
// includes go through it so that the caller decides what may be read.
type ReadFunc func(name string) ([]byte, error)

// maxIncludeDepth bounds -r nesting.
const maxIncludeDepth = 16

// ParseRequirements reads a pip requirements file and the files it
// includes with -r/--requirement (paths relative to the including file).
// Comments, blank lines, line continuations, global options (--index-url,
// --hash, …) and environment markers are handled; -c constraint files are
// noted but not counted as dependencies; -e/--editable entries are kept
// with their path or URL as spec. The group of each dependency is the stem
// of the top file ("requirements-dev"), so that includes count where they
// are used.
func ParseRequirements(file string, read ReadFunc) (*Requirements, error) {
	r := &Requirements{}
	group := strings.TrimSuffix(filepath.Base(file), filepath.Ext(file))
	if err := r.parse(file, group, read, nil); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *Requirements) parse(file, group string, read ReadFunc, stack []string) error {
	data, err := read(file)
	if err != nil {
		return err
	}
	r.Files = append(r.Files, file)
	stack = append(stack, file)
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	lineNo, start := 0, 0
	var logical strings.Builder
	for sc.Scan() {
		lineNo++
		line := sc.Text()
		if logical.Len() == 0 {
			start = lineNo
		}
		if strings.HasSuffix(line, `\`) {
			logical.WriteString(strings.TrimSuffix(line, `\`))
			logical.WriteByte(' ')
			continue
		}
		logical.WriteString(line)
		r.line(file, group, start, logical.String(), read, stack)
		logical.Reset()
	}
	if err := sc.Err(); err != nil {
		return &ParseError{File: file, Line: lineNo + 1, Msg: err.Error()}
	}
	if logical.Len() > 0 {
		r.line(file, group, start, logical.String(), read, stack)
	}
	return nil
}

func (r *Requirements) line(file, group string, lineNo int, text string, read ReadFunc, stack []string) {
	text = stripComment(text)
	text = strings.TrimSpace(text)
	if text == "" {
		return
	}
	problem := func(format string, args ...any) {
		r.Problems = append(r.Problems, (&ParseError{File: file, Line: lineNo, Msg: fmt.Sprintf(format, args...)}).Error())
	}
	if strings.HasPrefix(text, "-") {
		opt, arg := splitOption(text)
		switch opt {
		case "-r", "--requirement":
			if arg == "" {
				problem("%s without a file name", opt)
				return
			}
			inc := arg
			if !filepath.IsAbs(inc) {
				inc = filepath.Join(filepath.Dir(file), inc)
			}
			inc = filepath.Clean(inc)
			switch {
			case slices.Contains(stack, inc):
				problem("%s %s: include cycle %s", opt, arg, strings.Join(append(stack, inc), " -> "))
			case len(stack) >= maxIncludeDepth:
				problem("%s %s: includes nested deeper than %d", opt, arg, maxIncludeDepth)
			default:
				if err := r.parse(inc, group, read, stack); err != nil {
					problem("%s %s: %v", opt, arg, err)
				}
			}
		case "-c", "--constraint":
			// Constraints pin versions without adding dependencies.
		case "-e", "--editable":
			if arg == "" {
				problem("%s without a path or URL", opt)
				return
			}
			name := arg
			if i := strings.Index(arg, "#egg="); i >= 0 {
				name = arg[i+5:]
			} else {
				name = filepath.Base(strings.TrimRight(arg, "/"))
			}
			r.Dependencies = append(r.Dependencies, Dependency{Name: NormalizePyName(clean(name, 200)), Ecosystem: PyPI, Group: group, Spec: "editable " + clean(arg, 300), File: file, Line: lineNo})
		default:
			// Global options: --index-url, --extra-index-url, --find-links,
			// --no-binary, --pre, --trusted-host, …
		}
		return
	}
	// Per-requirement options (--hash=…, --config-settings) follow the spec.
	if i := strings.Index(text, " --"); i >= 0 {
		text = strings.TrimSpace(text[:i])
	} else if i := strings.Index(text, "\t--"); i >= 0 {
		text = strings.TrimSpace(text[:i])
	}
	if strings.Contains(text, "://") && !strings.Contains(text, "@") {
		// A bare URL or path to an archive: no name to record.
		problem("requirement %q has no project name (bare URL)", clean(text, 80))
		return
	}
	if strings.HasPrefix(text, ".") || strings.HasPrefix(text, "/") {
		problem("requirement %q is a local path without a project name", clean(text, 80))
		return
	}
	req, err := ParseRequirement(text)
	if err != nil {
		problem("%v", err)
		return
	}
	r.Dependencies = append(r.Dependencies, pyDep(req, group, file, lineNo))
}

// stripComment cuts s at a "#" that starts the line or follows whitespace
// (pip's rule; "#egg=" in a URL is not a comment).
func stripComment(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] == '#' && (i == 0 || s[i-1] == ' ' || s[i-1] == '\t') {
			return s[:i]
		}
	}
	return s
}

// splitOption splits "-r file", "-rfile", "--requirement=file" and
// "--requirement file" into the option and its argument.
func splitOption(text string) (opt, arg string) {
	if strings.HasPrefix(text, "--") {
		if i := strings.IndexAny(text, "= \t"); i >= 0 {
			return text[:i], strings.TrimSpace(strings.TrimLeft(text[i:], "= \t"))
		}
		return text, ""
	}
	if len(text) > 2 {
		return text[:2], strings.TrimSpace(text[2:])
	}
	return text, ""
}
