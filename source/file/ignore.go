package file

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strings"
)

// This file implements git's ignore rules (gitignore(5)):
//
//   - blank lines and lines starting with "#" match nothing; "\#" and "\!"
//     start a pattern with a literal "#" or "!";
//   - trailing spaces are dropped unless escaped with a backslash;
//   - "!" negates: a later negated pattern re-includes what an earlier one
//     excluded (but never inside a directory that is itself excluded: the
//     walk does not enter excluded directories);
//   - a trailing "/" matches directories only;
//   - a pattern with a "/" at the start or in the middle is anchored to the
//     directory of the file it comes from; otherwise it matches the name at
//     any depth below that directory;
//   - "*" and "?" do not cross "/", "[...]" is a character class ("!" or
//     "^" negates it, "[:alpha:]" and friends are accepted), a backslash
//     escapes the next character;
//   - "**/" at the start matches in every directory, "/**" at the end
//     matches everything inside, "/**/" matches zero or more directories,
//     and any other "**" is an ordinary "*".
//
// Patterns compile to the matcher in glob.go, whose cost is bounded by the
// pattern's length times the path's, without backtracking: a hostile
// .gitignore cannot make the walk hang. Simple patterns (a literal name,
// "*.ext") are compared directly. As in git, matching is on bytes: "?"
// matches one byte, and names that are not valid UTF-8 match like any
// other.

// ignoreRule is one compiled line of an ignore file.
type ignoreRule struct {
	negate  bool
	dirOnly bool
	// base: the pattern has no slash and is matched against the last
	// path element only.
	base bool
	// fast paths; glob is nil when one of them applies.
	literal string // exact match
	suffix  string // "*" + suffix with no other metacharacter
	glob    *glob
	never   bool // malformed (a trailing lone backslash): git ignores it
	text    string
	line    int
}

// ignoreFile is the rules of one .gitignore (or info/exclude), matched
// against paths relative to its directory.
type ignoreFile struct {
	rules []ignoreRule
}

// maxIgnoreLine bounds one line of an ignore file; longer lines are
// dropped with an error, as are files with more rules than maxIgnoreRules.
const (
	maxIgnoreLine  = 4096
	maxIgnoreRules = 100_000
)

// parseIgnore reads ignore rules from r. name is used in errors. A line
// that cannot be compiled is skipped and reported in the returned warnings;
// reading stops with an error only when r fails.
func parseIgnore(name string, r io.Reader) (*ignoreFile, []string, error) {
	f := &ignoreFile{}
	var warns []string
	br := bufio.NewReaderSize(r, 64<<10)
	for lineNo := 1; ; lineNo++ {
		line, err := readLine(br, maxIgnoreLine)
		if lineNo == 1 {
			line = strings.TrimPrefix(line, "\ufeff") // a UTF-8 byte order mark
		}
		if err != nil && err != io.EOF && err != errLineTooLong {
			return f, warns, fmt.Errorf("%s: %w", name, err)
		}
		if err == errLineTooLong {
			warns = append(warns, fmt.Sprintf("%s:%d: line longer than %d bytes ignored", name, lineNo, maxIgnoreLine))
		} else if len(f.rules) >= maxIgnoreRules {
			warns = append(warns, fmt.Sprintf("%s:%d: more than %d rules; the rest are ignored", name, lineNo, maxIgnoreRules))
			return f, warns, nil
		} else if rule, ok, cerr := compileIgnore(line); cerr != nil {
			warns = append(warns, fmt.Sprintf("%s:%d: %v", name, lineNo, cerr))
		} else if ok {
			rule.line = lineNo
			f.rules = append(f.rules, rule)
		}
		if err == io.EOF {
			return f, warns, nil
		}
	}
}

var errLineTooLong = fmt.Errorf("line too long")

// readLine returns the next line without its terminator (LF or CRLF). A line
// longer than max is consumed and reported as errLineTooLong.
func readLine(br *bufio.Reader, max int) (string, error) {
	var buf []byte
	tooLong := false
	for {
		chunk, err := br.ReadSlice('\n')
		if !tooLong {
			buf = append(buf, chunk...)
			if len(buf) > max+2 {
				tooLong, buf = true, nil
			}
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if tooLong {
			if err == nil {
				err = errLineTooLong
			} else if err == io.EOF {
				// report the long line now; the next call sees EOF
				err = errLineTooLong
			}
			return "", err
		}
		buf = bytes.TrimSuffix(buf, []byte("\n"))
		buf = bytes.TrimSuffix(buf, []byte("\r"))
		if err == io.EOF && len(buf) > 0 {
			return string(buf), nil
		}
		return string(buf), err
	}
}

// compileIgnore turns one line into a rule; ok is false for blank lines and
// comments.
func compileIgnore(line string) (rule ignoreRule, ok bool, err error) {
	rule.text = line
	if line == "" || line[0] == '#' {
		return rule, false, nil
	}
	line = trimTrailingSpaces(line)
	if line == "" {
		return rule, false, nil
	}
	if line[0] == '!' {
		rule.negate = true
		line = line[1:]
	}
	if strings.HasSuffix(line, "/") {
		// git removes one slash; "x//" keeps one and matches nothing
		rule.dirOnly = true
		line = line[:len(line)-1]
	}
	if line == "" {
		return rule, false, nil
	}
	if hasTrailingBackslash(line) {
		rule.never = true
		return rule, true, nil
	}
	if strings.HasPrefix(line, "/") {
		line = line[1:]
	} else if !strings.Contains(line, "/") {
		rule.base = true
	}
	if line == "" {
		return rule, false, nil
	}
	if !strings.ContainsAny(line, `*?[\`) {
		rule.literal = line
		return rule, true, nil
	}
	if rest, found := strings.CutPrefix(line, "*"); found && rule.base && !strings.ContainsAny(rest, `*?[\`) {
		rule.suffix = rest
		return rule, true, nil
	}
	g, ok := compileGlob(line)
	if !ok {
		rule.never = true
		return rule, true, nil
	}
	rule.glob = g
	return rule, true, nil
}

// trimTrailingSpaces drops unescaped trailing spaces.
func trimTrailingSpaces(s string) string {
	for len(s) > 0 && s[len(s)-1] == ' ' {
		// count the backslashes before the space
		n := 0
		for i := len(s) - 2; i >= 0 && s[i] == '\\'; i-- {
			n++
		}
		if n%2 == 1 {
			return s
		}
		s = s[:len(s)-1]
	}
	return s
}

// hasTrailingBackslash reports whether s ends in a backslash that escapes
// nothing.
func hasTrailingBackslash(s string) bool {
	n := 0
	for i := len(s) - 1; i >= 0 && s[i] == '\\'; i-- {
		n++
	}
	return n%2 == 1
}

// match reports whether the rule matches rel (a slash path relative to the
// rule's directory) whose last element is name.
func (r *ignoreRule) match(rel, name string, isDir bool) bool {
	if r.never || (r.dirOnly && !isDir) {
		return false
	}
	subject := rel
	if r.base {
		subject = name
	}
	switch {
	case r.literal != "":
		return subject == r.literal
	case r.glob == nil:
		return strings.HasSuffix(subject, r.suffix) && !strings.Contains(subject, "/")
	}
	return r.glob.match(subject)
}

// decide returns whether the last rule of f matching rel excludes it
// (excluded=true), re-includes it (excluded=false), or none matched
// (matched=false).
func (f *ignoreFile) decide(rel, name string, isDir bool) (excluded, matched bool) {
	if i := f.last(rel, name, isDir); i >= 0 {
		return !f.rules[i].negate, true
	}
	return false, false
}

// last returns the index of the last rule matching rel, or -1.
func (f *ignoreFile) last(rel, name string, isDir bool) int {
	for i := len(f.rules) - 1; i >= 0; i-- {
		if f.rules[i].match(rel, name, isDir) {
			return i
		}
	}
	return -1
}

// ignoreLevel is an ignore file in force in a directory of the walk.
type ignoreLevel struct {
	dir   string // slash path of its directory relative to the walk root ("" for the root)
	rules *ignoreFile
}

// ignoreStack is the ignore files in force at a point of the walk, outermost
// first. Deeper files take precedence; exclude (.git/info/exclude) comes
// last of all.
type ignoreStack struct {
	levels  []ignoreLevel
	exclude *ignoreFile // relative to the repository root
	repoDir string      // slash path of the repository root relative to the walk root
}

// push returns a stack with one more level. The receiver is not changed.
func (s *ignoreStack) push(l ignoreLevel) *ignoreStack {
	n := &ignoreStack{exclude: s.exclude, repoDir: s.repoDir}
	n.levels = append(make([]ignoreLevel, 0, len(s.levels)+1), s.levels...)
	n.levels = append(n.levels, l)
	return n
}

// ignored reports whether the slash path rel (relative to the walk root)
// is excluded.
func (s *ignoreStack) ignored(rel string, isDir bool) bool {
	name := rel[strings.LastIndexByte(rel, '/')+1:]
	for i := len(s.levels) - 1; i >= 0; i-- {
		l := s.levels[i]
		sub, ok := relTo(l.dir, rel)
		if !ok {
			continue
		}
		if excluded, matched := l.rules.decide(sub, name, isDir); matched {
			return excluded
		}
	}
	if s.exclude != nil {
		if sub, ok := relTo(s.repoDir, rel); ok {
			excluded, _ := s.exclude.decide(sub, name, isDir)
			return excluded
		}
	}
	return false
}

// relTo returns rel relative to dir, when rel is inside dir.
func relTo(dir, rel string) (string, bool) {
	if dir == "" {
		return rel, true
	}
	if len(rel) > len(dir) && rel[len(dir)] == '/' && rel[:len(dir)] == dir {
		return rel[len(dir)+1:], true
	}
	return "", false
}
