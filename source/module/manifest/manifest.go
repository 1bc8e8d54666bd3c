// Package manifest reads the files that declare a module's dependencies:
// pyproject.toml (PEP 621 and uv), uv.lock, requirements*.txt,
// package.json, package-lock.json, go.mod and go.sum, and the files that
// list a repository's modules (.gitmodules, config/modules.yaml).
//
// Every parser treats its input as hostile: it never panics, it bounds what
// it reads, and a malformed file gives a *ParseError naming the file, and
// the line and column when the format reports one.
package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxFileBytes bounds how much of one manifest or lock file is read.
// Real lock files stay far below it (a large package-lock.json is ~20 MB).
const MaxFileBytes = 128 << 20

// Ecosystems of dependencies.
const (
	PyPI = "pypi"
	NPM  = "npm"
	Go   = "go"
)

// Dependency is one declared dependency of a module.
type Dependency struct {
	Name      string `json:"name"`              // normalised: PEP 503 for Python, as written otherwise
	Ecosystem string `json:"ecosystem"`         // pypi, npm or go
	Group     string `json:"group"`             // main, dev, optional:<extra>, group:<name>, peer, indirect, …
	Spec      string `json:"spec,omitempty"`    // the constraint as written (">=1.2", "^4.17.0", "v1.2.3")
	Version   string `json:"version,omitempty"` // the resolved version (from a lock file, or an exact pin)
	Markers   string `json:"markers,omitempty"` // PEP 508 environment markers
	File      string `json:"file"`              // the file that declares it
	Line      int    `json:"line,omitempty"`    // its line there, when known
}

// Key identifies a dependency across runs: the same name in the same group
// of the same ecosystem.
func (d Dependency) Key() string { return d.Ecosystem + "|" + d.Group + "|" + d.Name }

// ParseError is a malformed manifest: the file, the position when the
// format gives one (1-based; 0 when unknown) and what is wrong.
type ParseError struct {
	File string
	Line int
	Col  int
	Msg  string
}

func (e *ParseError) Error() string {
	switch {
	case e.Line > 0 && e.Col > 0:
		return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, e.Msg)
	case e.Line > 0:
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// ErrTooLarge is wrapped when a file exceeds MaxFileBytes.
var ErrTooLarge = errors.New("file too large")

// ReadFile reads at most MaxFileBytes of path, failing when it is larger.
func ReadFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readAll(path, f)
}

func readAll(name string, r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(data) > MaxFileBytes {
		return nil, fmt.Errorf("%s: %w (over %d bytes)", name, ErrTooLarge, MaxFileBytes)
	}
	return data, nil
}

// position converts a byte offset in data to a 1-based line and column.
func position(data []byte, off int64) (line, col int) {
	if off < 0 {
		off = 0
	}
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	before := data[:off]
	line = bytes.Count(before, []byte{'\n'}) + 1
	col = int(off) - (bytes.LastIndexByte(before, '\n') + 1) + 1
	return line, col
}

// lineOf returns the 1-based line of the first occurrence of needle in data
// at or after byte from, or 0.
func lineOf(data []byte, needle string, from int) int {
	if from < 0 || from > len(data) {
		from = 0
	}
	i := bytes.Index(data[from:], []byte(needle))
	if i < 0 {
		return 0
	}
	return bytes.Count(data[:from+i], []byte{'\n'}) + 1
}

var yamlLine = regexp.MustCompile(`line (\d+)`)

// lineInMessage extracts "line N" from an error message (yaml.v3 style).
func lineInMessage(msg string) int {
	m := yamlLine.FindStringSubmatch(msg)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// clean makes s safe to put in a record: valid UTF-8, bounded length.
func clean(s string, max int) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

// NormalizePyName is the PEP 503 normal form of a Python project name:
// lower case, runs of "-", "_" and "." replaced by one "-".
func NormalizePyName(name string) string {
	var b strings.Builder
	b.Grow(len(name))
	sep := false
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '-' || c == '_' || c == '.':
			sep = true
			continue
		case c >= 'A' && c <= 'Z':
			c += 'a' - 'A'
		}
		if sep && b.Len() > 0 {
			b.WriteByte('-')
		}
		sep = false
		b.WriteByte(c)
	}
	return b.String()
}

// Requirement is a parsed PEP 508 requirement string.
type Requirement struct {
	Name    string // as written
	Extras  []string
	Spec    string // version specifiers, e.g. ">=1.2,<2"
	URL     string // for "name @ url"
	Markers string
}

// Pinned returns the version of an exact "==X" pin (not a wildcard), or "".
func (r Requirement) Pinned() string {
	s := strings.TrimSpace(r.Spec)
	if strings.HasPrefix(s, "===") {
		return strings.TrimSpace(s[3:])
	}
	if !strings.HasPrefix(s, "==") || strings.ContainsAny(s, ",*") {
		return ""
	}
	return strings.TrimSpace(s[2:])
}

// ErrBadRequirement is wrapped by ParseRequirement failures.
var ErrBadRequirement = errors.New("bad requirement")

// ParseRequirement parses a PEP 508 dependency specification such as
// `requests[socks] >=2.8.1, ==2.8.* ; python_version < "2.7"`.
func ParseRequirement(s string) (Requirement, error) {
	var r Requirement
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, ';'); i >= 0 {
		r.Markers = strings.TrimSpace(s[i+1:])
		s = strings.TrimSpace(s[:i])
	}
	n := 0
	for n < len(s) && isNameByte(s[n]) {
		n++
	}
	if n == 0 {
		return r, fmt.Errorf("%w: %q does not start with a project name", ErrBadRequirement, clean(s, 80))
	}
	first, last := s[0], s[n-1]
	if !isAlnum(first) || !isAlnum(last) {
		return r, fmt.Errorf("%w: %q is not a valid project name", ErrBadRequirement, clean(s[:n], 80))
	}
	r.Name = s[:n]
	rest := strings.TrimSpace(s[n:])
	if strings.HasPrefix(rest, "[") {
		end := strings.IndexByte(rest, ']')
		if end < 0 {
			return r, fmt.Errorf("%w: unclosed extras in %q", ErrBadRequirement, clean(s, 80))
		}
		for e := range strings.SplitSeq(rest[1:end], ",") {
			if e = strings.TrimSpace(e); e != "" {
				r.Extras = append(r.Extras, e)
			}
		}
		rest = strings.TrimSpace(rest[end+1:])
	}
	if strings.HasPrefix(rest, "@") {
		r.URL = strings.TrimSpace(rest[1:])
		if r.URL == "" {
			return r, fmt.Errorf("%w: empty URL in %q", ErrBadRequirement, clean(s, 80))
		}
		return r, nil
	}
	if strings.HasPrefix(rest, "(") && strings.HasSuffix(rest, ")") {
		rest = strings.TrimSpace(rest[1 : len(rest)-1])
	}
	if rest != "" && !strings.ContainsAny(rest[:1], "<>=!~") {
		return r, fmt.Errorf("%w: unexpected %q after the name in %q", ErrBadRequirement, clean(rest, 40), clean(s, 80))
	}
	r.Spec = strings.Join(strings.Fields(rest), "")
	return r, nil
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func isNameByte(c byte) bool { return isAlnum(c) || c == '-' || c == '_' || c == '.' }
