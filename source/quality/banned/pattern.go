package banned

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/dlclark/regexp2/v2"
)

// Engine says how a pattern is matched.
type Engine string

// Engines.
const (
	EngineLiteral Engine = "literal" // case-insensitive substring
	EngineRE2     Engine = "re2"     // Go's regexp
	EngineRegexp2 Engine = "regexp2" // backtracking, for look-around and back-references
)

// MatchTimeout bounds one regexp2 match on one line; a pattern that takes
// longer on a line is reported as an error for that file, not skipped
// silently.
const MatchTimeout = 2 * time.Second

// Kind says which list of the configuration a pattern comes from.
type Kind string

// Kinds.
const (
	KindGlobal    Kind = "global"
	KindDirectory Kind = "directory"
	KindFilename  Kind = "filename"
)

// Pattern is one compiled entry.
type Pattern struct {
	Entry  string // as written in the configuration
	Kind   Kind
	Dir    string // the directory of a directory-specific entry
	Engine Engine
	// Why says why an entry that looks like a regular expression is
	// matched literally (the parser's error), empty otherwise.
	Why string

	lit  []byte // required literal, ASCII-lower-cased; nil: none
	re   *regexp.Regexp
	re2  *regexp2.Regexp
	norm string // lower-cased entry, for literal matching
}

// compile builds the pattern for one entry.
func compile(entry string, kind Kind, dir string) *Pattern {
	p := &Pattern{Entry: entry, Kind: kind, Dir: dir}
	if kind == KindFilename {
		p.Engine = EngineLiteral
		p.norm = strings.ToLower(entry)
		return p
	}
	re, err := regexp.Compile("(?i)" + entry)
	if err == nil && !unicodeClasses(entry) {
		p.Engine, p.re = EngineRE2, re
	} else if re2, err2 := regexp2.Compile(entry, regexp2.IgnoreCase); err2 == nil {
		re2.MatchTimeout = MatchTimeout
		p.Engine, p.re2 = EngineRegexp2, re2
	} else {
		p.Engine, p.Why = EngineLiteral, err2.Error()
	}
	if p.Engine == EngineLiteral {
		p.norm = strings.ToLower(entry)
		if p.lit = asciiLower([]byte(entry)); !foldSafe(p.lit) {
			p.lit = nil
		}
		return p
	}
	if l := requiredLiteral(entry); l != "" {
		p.lit = asciiLower([]byte(l))
	}
	if !foldSafe(p.lit) {
		p.lit = nil // a non-ASCII letter with case: every line is matched
	}
	return p
}

// foldSafe reports whether searching ASCII-lower-cased text for lit finds
// every case variant: lit holds no non-ASCII character that has one.
func foldSafe(lit []byte) bool {
	s := string(lit)
	if isASCII(s) {
		return true
	}
	return strings.ToLower(s) == s && strings.ToUpper(s) == s
}

// unicodeClasses reports whether expr uses \w, \d, \s or \b (or their
// negations): RE2 gives them their ASCII meaning, Python (and regexp2)
// their Unicode one, so such patterns run on regexp2.
func unicodeClasses(expr string) bool {
	for i := 0; i+1 < len(expr); i++ {
		if expr[i] == '\\' {
			if strings.IndexByte("wWdDsSbB", expr[i+1]) >= 0 {
				return true
			}
			i++
		}
	}
	return false
}

// Required returns the literal every match contains (lower-cased), empty
// when the pattern has none.
func (p *Pattern) Required() string { return string(p.lit) }

// MatchLine reports whether the pattern matches line and, when it does, the
// 1-based column (in characters) where the first match starts.
func (p *Pattern) MatchLine(line string) (col int, ok bool, err error) {
	switch p.Engine {
	case EngineRE2:
		loc := p.re.FindStringIndex(line)
		if loc == nil {
			return 0, false, nil
		}
		return utf8.RuneCountInString(line[:loc[0]]) + 1, true, nil
	case EngineRegexp2:
		m, err := p.re2.FindStringMatch(line)
		if err != nil {
			return 0, false, fmt.Errorf("pattern %q: %w", p.Entry, err)
		}
		if m == nil {
			return 0, false, nil
		}
		return m.RuneIndex + 1, true, nil
	}
	i := indexFold(line, p.norm)
	if i < 0 {
		return 0, false, nil
	}
	return utf8.RuneCountInString(line[:i]) + 1, true, nil
}

// indexFold finds needle (lower-cased) in s, comparing lower-cased text.
// ASCII text is compared without allocating.
func indexFold(s, needle string) int {
	if isASCII(s) {
		n := len(needle)
		for i := 0; i+n <= len(s); i++ {
			if asciiEqualFold(s[i:i+n], needle) {
				return i
			}
		}
		return -1
	}
	// Non-ASCII: lower-case rune by rune, keeping a map to byte offsets.
	var b strings.Builder
	offs := make([]int, 0, len(s))
	for i, r := range s {
		l := strings.ToLower(string(r))
		for range len(l) {
			offs = append(offs, i)
		}
		b.WriteString(l)
	}
	j := strings.Index(b.String(), needle)
	if j < 0 {
		return -1
	}
	return offs[j]
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func asciiEqualFold(a, lowerB string) bool {
	for i := 0; i < len(a); i++ {
		c := a[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lowerB[i] {
			return false
		}
	}
	return true
}

func asciiLower(b []byte) []byte {
	out := make([]byte, len(b))
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		out[i] = c
	}
	return out
}

// requiredLiteral returns the longest run of plain characters at the top
// level of a regular expression that every match must contain, or "" when
// it cannot tell (a top-level alternation, or no plain characters). It
// reads both RE2 and .NET/Python syntax conservatively: groups, classes,
// escapes other than escaped punctuation, and quantified characters end a
// run.
func requiredLiteral(expr string) string {
	var best, cur []byte
	flush := func() {
		if len(cur) > len(best) {
			best = append(best[:0], cur...)
		}
		cur = cur[:0]
	}
	depth := 0
	inClass := false
	for i := 0; i < len(expr); i++ {
		c := expr[i]
		switch {
		case inClass:
			if c == '\\' {
				i++
			} else if c == ']' {
				inClass = false
			}
			continue
		case c == '\\':
			if i+1 < len(expr) && isPunct(expr[i+1]) && depth == 0 {
				i++
				if quantified(expr, i+1) {
					flush()
					continue
				}
				cur = append(cur, expr[i])
				continue
			}
			flush()
			i++ // skip the escaped letter (\w, \d, \b …)
			continue
		case c == '[':
			flush()
			inClass = true
			continue
		case c == '(':
			flush()
			depth++
			continue
		case c == ')':
			flush()
			if depth > 0 {
				depth--
			}
			continue
		case depth > 0:
			continue
		case c == '|':
			return "" // a top-level alternative needs none of this side
		case c == '.' || c == '^' || c == '$':
			flush()
			continue
		case c == '*' || c == '+' || c == '?' || c == '{':
			flush()
			if c == '{' {
				for i < len(expr) && expr[i] != '}' {
					i++
				}
			}
			continue
		}
		if c >= utf8.RuneSelf {
			// a multi-byte character: keep it whole unless quantified
			_, n := utf8.DecodeRuneInString(expr[i:])
			if quantified(expr, i+n) {
				flush()
				i += n - 1
				continue
			}
			cur = append(cur, expr[i:i+n]...)
			i += n - 1
			continue
		}
		if quantified(expr, i+1) {
			flush()
			continue
		}
		cur = append(cur, c)
	}
	flush()
	return string(best)
}

// quantified reports whether expr[i] makes the preceding atom optional
// or repeated.
func quantified(expr string, i int) bool {
	return i < len(expr) && (expr[i] == '*' || expr[i] == '?' || expr[i] == '{' || expr[i] == '+')
}

func isPunct(c byte) bool {
	return bytes.IndexByte([]byte(`.^$*+?()[]{}|\/-"'#:@!<>=,;&%~`+"`"), c) >= 0
}
