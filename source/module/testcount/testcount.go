// Package testcount recognises test files and counts the tests in them.
// The rules are heuristics on file names and lines, documented here so a
// reader knows exactly what a count means:
//
// Python (pytest's default collection rules): a file named test_*.py or
// *_test.py is a test file; every line that starts, after indentation,
// with "def test" or "async def test" is one test (module-level functions
// and methods of Test classes alike). Parametrised tests count once.
// Lines inside triple-quoted strings are not counted.
//
// Go: a file named *_test.go is a test file; every top-level
// "func TestX(" and "func FuzzX(" is one test, where X is empty or does
// not start with a lower-case letter (the go test rule). TestMain is not
// a test. Benchmarks and examples are not counted.
//
// JavaScript and TypeScript (Jest, Vitest, Mocha, node:test): a file named
// *.test.* or *.spec.* with a js, jsx, ts, tsx, mjs, cjs, mts or cts
// extension, or any such file under a __tests__ directory, is a test file;
// every call it(…), test(…), xit, fit, xtest, and their .only, .skip,
// .todo, .concurrent and .failing forms is one test; a table
// test.each(…)(…) counts once. A call preceded by "." or an identifier
// character (regex.test(s)) is not a test. Lines starting with // are
// skipped.
package testcount

import (
	"bytes"
	"path"
	"regexp"
	"strings"
)

// Languages a test file may be in.
const (
	Python = "Python"
	Go     = "Go"
	JS     = "JavaScript/TypeScript"
)

var jsExt = map[string]bool{".js": true, ".jsx": true, ".ts": true, ".tsx": true, ".mjs": true, ".cjs": true, ".mts": true, ".cts": true}

// Classify reports whether the file at the slash-separated path rel is a
// test file and in which language.
func Classify(rel string) (lang string, ok bool) {
	base := path.Base(rel)
	ext := path.Ext(base)
	switch {
	case ext == ".py":
		if strings.HasPrefix(base, "test_") || strings.HasSuffix(base, "_test.py") {
			return Python, true
		}
	case ext == ".go":
		if strings.HasSuffix(base, "_test.go") {
			return Go, true
		}
	case jsExt[ext]:
		stem := strings.TrimSuffix(base, ext)
		if strings.HasSuffix(stem, ".test") || strings.HasSuffix(stem, ".spec") {
			return JS, true
		}
		if strings.Contains("/"+rel, "/__tests__/") {
			return JS, true
		}
	}
	return "", false
}

var (
	pyTest = regexp.MustCompile(`^[ \t]*(?:async[ \t]+)?def[ \t]+test`)
	goTest = regexp.MustCompile(`^func[ \t]+(Test|Fuzz)([^a-z(\s][\w]*)?[ \t]*\(`)
	jsTest = regexp.MustCompile(`(?:^|[^\w$.])(?:it|test|xit|fit|xtest)(?:\.(?:only|skip|todo|concurrent|failing))*(?:\.each\b|[ \t]*\()`)
)

// Count returns the number of tests in the source of a test file in lang.
func Count(lang string, src []byte) int {
	n := 0
	inTriple := ""
	for len(src) > 0 {
		var line []byte
		if i := bytes.IndexByte(src, '\n'); i >= 0 {
			line, src = src[:i], src[i+1:]
		} else {
			line, src = src, nil
		}
		switch lang {
		case Python:
			if inTriple != "" {
				if bytes.Contains(line, []byte(inTriple)) {
					inTriple = ""
				}
				continue
			}
			if bytes.Contains(line, []byte("def")) && pyTest.Match(line) {
				n++
				continue
			}
			inTriple = opensTriple(line)
		case Go:
			if !bytes.HasPrefix(line, []byte("func")) {
				continue
			}
			if m := goTest.FindSubmatch(line); m != nil && !(string(m[1]) == "Test" && string(m[2]) == "Main") {
				n++
			}
		case JS:
			t := bytes.TrimLeft(line, " \t")
			if bytes.HasPrefix(t, []byte("//")) || bytes.HasPrefix(t, []byte("*")) {
				continue
			}
			if bytes.Contains(line, []byte("it")) || bytes.Contains(line, []byte("test")) {
				n += len(jsTest.FindAllIndex(line, -1))
			}
		}
	}
	return n
}

// opensTriple returns the delimiter of a triple-quoted string left open
// at the end of line, or "".
func opensTriple(line []byte) string {
	open := ""
	for i := 0; i+3 <= len(line); i++ {
		q := string(line[i : i+3])
		if q != `"""` && q != `'''` {
			continue
		}
		switch open {
		case "":
			open = q
		case q:
			open = ""
		default:
			continue
		}
		i += 2
	}
	return open
}
