// Package imports extracts the import statements of Go and Python source
// files, the raw material of a repository's import graph.
//
// Go files are read with go/parser in ImportsOnly mode, so only the file
// header is parsed. Python files are read by a line scanner that knows just
// enough of Python's lexical rules to be right on real code: comments,
// single- and triple-quoted strings (an "import" inside a docstring is not
// an import), backslash continuations and parenthesised import lists that
// span lines, several statements joined by ";", relative imports, and
// imports nested in functions or conditionals (they are imports too).
// It does not execute anything, so dynamic imports (importlib,
// __import__) are not seen.
package imports

import (
	"bytes"
	"go/parser"
	"go/token"
	"strconv"
	"strings"
)

// Go returns the import paths of a Go source file, in order. filename is
// used in errors only.
func Go(filename string, src []byte) ([]string, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, filename, src, parser.ImportsOnly|parser.SkipObjectResolution)
	if f == nil {
		return nil, err
	}
	out := make([]string, 0, len(f.Imports))
	for _, spec := range f.Imports {
		p, uerr := strconv.Unquote(spec.Path.Value)
		if uerr == nil && p != "" {
			out = append(out, p)
		}
	}
	// A file whose body is malformed may still have a good import block;
	// keep what was read and report the error.
	return out, err
}

// PyImport is one imported name of a Python file.
type PyImport struct {
	// Module is the dotted module named by the statement: "a.b" for
	// "import a.b" and "from a.b import c"; empty for "from . import c".
	Module string
	// Name is the imported name of a from-import ("c"), empty otherwise;
	// "*" for a star import.
	Name string
	// Level is the number of leading dots of a relative import.
	Level int
	// Line is the 1-based line of the statement.
	Line int
}

// maxLogical bounds a joined logical line, so a file of unbalanced
// brackets cannot make the scanner hold it all.
const maxLogical = 64 << 10

// Python returns the imports of a Python source file, in order.
func Python(src []byte) []PyImport {
	var out []PyImport
	s := pyScanner{}
	var logical strings.Builder
	start, depth, cont := 0, 0, false
	atStart, keepStmt := true, false
	lineNo := 0
	for len(src) > 0 {
		lineNo++
		i := bytes.IndexByte(src, '\n')
		var line []byte
		if i < 0 {
			line, src = src, nil
		} else {
			line, src = src[:i], src[i+1:]
		}
		// No import statement is a megabyte long; a longer line (minified
		// or generated) is only scanned for its start.
		line = line[:min(len(line), 1<<20)]
		if atStart {
			start = lineNo
			t := bytes.TrimLeft(line, " \t")
			keepStmt = s.inTriple == "" && (bytes.HasPrefix(t, []byte("import")) || bytes.HasPrefix(t, []byte("from")))
		}
		// Only statements that may be imports are kept; the others are
		// scanned for strings and brackets alone.
		keep := keepStmt || bytes.Contains(line, []byte("import"))
		code, opens, backslash := s.strip(line, keep)
		if keep && logical.Len() < maxLogical {
			logical.WriteString(code)
			logical.WriteByte(' ')
		}
		depth += opens
		if depth < 0 {
			depth = 0
		}
		cont = backslash
		if depth > 0 || cont || s.inTriple != "" {
			atStart = false
			continue
		}
		if logical.Len() > 0 {
			out = appendStatements(out, logical.String(), start)
			logical.Reset()
		}
		atStart = true
	}
	if logical.Len() > 0 {
		out = appendStatements(out, logical.String(), start)
	}
	return out
}

// pyScanner carries string state across lines.
type pyScanner struct {
	inTriple string // `"""` or `'''` while inside a triple-quoted string
}

// strip returns the code of one physical line with strings replaced by a
// placeholder and comments removed, the change in bracket depth, and
// whether the line ends with a backslash continuation.
func (s *pyScanner) strip(line []byte, keep bool) (code string, opens int, backslash bool) {
	var b strings.Builder
	if keep {
		b.Grow(len(line))
	}
	for i := 0; i < len(line); {
		if s.inTriple != "" {
			j := bytes.Index(line[i:], []byte(s.inTriple))
			if j < 0 {
				return b.String(), opens, false
			}
			i += j + 3
			s.inTriple = ""
			if keep {
				b.WriteString(`""`)
			}
			continue
		}
		c := line[i]
		switch {
		case c == '#':
			return b.String(), opens, false
		case c == '"' || c == '\'':
			q := string(line[i:min(i+3, len(line))])
			if q == `"""` || q == `'''` {
				s.inTriple = q
				i += 3
				continue
			}
			// A one-line string: skip to its closing quote.
			j := i + 1
			for j < len(line) && line[j] != c {
				if line[j] == '\\' {
					j++
				}
				j++
			}
			if keep {
				b.WriteString(`""`)
			}
			i = j + 1
			continue
		case c == '(' || c == '[' || c == '{':
			opens++
		case c == ')' || c == ']' || c == '}':
			opens--
		case c == '\\' && i == len(line)-1:
			return b.String(), opens, true
		}
		if keep {
			b.WriteByte(c)
		}
		i++
	}
	return b.String(), opens, false
}

func appendStatements(out []PyImport, logical string, line int) []PyImport {
	for stmt := range strings.SplitSeq(logical, ";") {
		out = appendStatement(out, strings.TrimSpace(stmt), line)
	}
	return out
}

func appendStatement(out []PyImport, stmt string, line int) []PyImport {
	switch {
	case strings.HasPrefix(stmt, "import ") || strings.HasPrefix(stmt, "import\t"):
		for part := range strings.SplitSeq(stmt[len("import"):], ",") {
			name := firstWord(part)
			if isDotted(name) {
				out = append(out, PyImport{Module: name, Line: line})
			}
		}
	case strings.HasPrefix(stmt, "from ") || strings.HasPrefix(stmt, "from\t"):
		rest := strings.TrimSpace(stmt[len("from"):])
		mod, names, ok := strings.Cut(rest, " import ")
		if !ok {
			mod, names, ok = strings.Cut(rest, "\timport")
			if !ok {
				// "from .import x" is legal.
				if k := strings.Index(rest, "import"); k > 0 && strings.Trim(rest[:k], ".") == "" {
					mod, names, ok = rest[:k], rest[k+len("import"):], true
				}
			}
		}
		if !ok {
			return out
		}
		mod = strings.Join(strings.Fields(mod), "")
		level := len(mod) - len(strings.TrimLeft(mod, "."))
		mod = mod[level:]
		if mod != "" && !isDotted(mod) {
			return out
		}
		if level == 0 && mod == "" {
			return out
		}
		if mod == "__future__" {
			return out
		}
		names = strings.Trim(strings.TrimSpace(names), "()")
		for part := range strings.SplitSeq(names, ",") {
			name := firstWord(part)
			if name == "*" || isIdent(name) {
				out = append(out, PyImport{Module: mod, Name: name, Level: level, Line: line})
			}
		}
	}
	return out
}

func firstWord(s string) string {
	f := strings.Fields(s)
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

func isDotted(s string) bool {
	if s == "" {
		return false
	}
	for part := range strings.SplitSeq(s, ".") {
		if !isIdent(part) {
			return false
		}
	}
	return true
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z':
		case r >= '0' && r <= '9' && i > 0:
		case r > 127:
			// Python identifiers may be non-ASCII letters.
		default:
			return false
		}
	}
	return true
}
