// Package coverage reads test coverage reports: coverage.py JSON
// ("coverage json"), Cobertura XML, lcov tracefiles and Go cover profiles.
// Each is read as a stream and reduced to covered and total lines (Go:
// statements) per file.
//
// What "line" means differs by format, and the numbers say so:
// coverage.py counts statements it can execute (num_statements and
// covered_lines); Cobertura and lcov count instrumented lines (a line hit at
// least once is covered); a Go profile counts statements of basic blocks (a
// block executed at least once covers its statements), which is what
// "go tool cover -func" reports.
package coverage

import (
	"bufio"
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Formats.
const (
	CoveragePy = "coverage.py"
	Cobertura  = "cobertura"
	LCOV       = "lcov"
	GoProfile  = "go"
)

// maxBytes bounds how much of one report is read.
const maxBytes = 1 << 30

// File is the coverage of one source file.
type File struct {
	Path    string `json:"path"`
	Covered int64  `json:"covered"`
	Total   int64  `json:"total"`
}

// Rate is Covered/Total, or 0 when there is nothing to cover.
func (f File) Rate() float64 { return rate(f.Covered, f.Total) }

// Report is one coverage report.
type Report struct {
	Format  string
	Files   []File // sorted by path
	Covered int64
	Total   int64
}

// Rate is the report's overall line (Go: statement) rate.
func (r *Report) Rate() float64 { return rate(r.Covered, r.Total) }

func rate(c, t int64) float64 {
	if t <= 0 {
		return 0
	}
	return float64(c) / float64(t)
}

// Error is a malformed report: the file, the line when known and what is
// wrong.
type Error struct {
	File string
	Line int
	Msg  string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return e.File + ": " + e.Msg
}

// ErrUnknownFormat is returned by Parse for content it does not recognise.
var ErrUnknownFormat = errors.New("not a coverage report this tool reads (coverage.py JSON, Cobertura XML, lcov, Go cover profile)")

// Detect names the format of a report from its first bytes, or "".
func Detect(head []byte) string {
	h := bytes.TrimLeft(head, " \t\r\n\ufeff")
	h = bytes.TrimPrefix(h, []byte("\xef\xbb\xbf"))
	switch {
	case bytes.HasPrefix(h, []byte("{")):
		return CoveragePy
	case bytes.HasPrefix(h, []byte("<")):
		if bytes.Contains(head, []byte("<coverage")) || bytes.HasPrefix(h, []byte("<?xml")) {
			return Cobertura
		}
	case bytes.HasPrefix(h, []byte("mode:")):
		return GoProfile
	case bytes.HasPrefix(h, []byte("TN:")), bytes.HasPrefix(h, []byte("SF:")):
		return LCOV
	}
	return ""
}

// Parse detects the format of r and reads it. name is used in errors. r
// is read again from the start to locate a JSON syntax error's line.
func Parse(name string, r io.ReadSeeker) (*Report, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, _ := br.Peek(512)
	format := Detect(head)
	var rep *Report
	var err error
	switch format {
	case CoveragePy:
		rep, err = parseCoveragePy(name, br)
		if e, ok := errors.AsType[*jsonAt](err); ok {
			line := 0
			if _, serr := r.Seek(0, io.SeekStart); serr == nil {
				line = lineAt(r, e.off)
			}
			return nil, &Error{File: name, Line: line, Msg: e.msg}
		}
	case Cobertura:
		rep, err = ParseCobertura(name, br)
	case GoProfile:
		rep, err = ParseGoProfile(name, br)
	case LCOV:
		rep, err = ParseLCOV(name, br)
	default:
		return nil, &Error{File: name, Msg: ErrUnknownFormat.Error()}
	}
	return rep, err
}

// builder accumulates per-file counts, merging repeated files.
type builder struct {
	format string
	files  map[string]*File
}

func newBuilder(format string) *builder { return &builder{format: format, files: map[string]*File{}} }

func (b *builder) add(path string, covered, total int64) {
	path = cleanPath(path)
	f, ok := b.files[path]
	if !ok {
		f = &File{Path: path}
		b.files[path] = f
	}
	f.Covered += covered
	f.Total += total
}

func (b *builder) report() *Report {
	r := &Report{Format: b.format, Files: make([]File, 0, len(b.files))}
	for _, f := range b.files {
		r.Files = append(r.Files, *f)
		r.Covered += f.Covered
		r.Total += f.Total
	}
	slices.SortFunc(r.Files, func(a, b File) int { return strings.Compare(a.Path, b.Path) })
	return r
}

func cleanPath(p string) string {
	p = strings.TrimSpace(p)
	if !utf8.ValidString(p) {
		p = strings.ToValidUTF8(p, "\uFFFD")
	}
	if len(p) > 1024 {
		p = p[:1024]
	}
	return strings.ReplaceAll(p, `\`, "/")
}

// --- coverage.py JSON ----------------------------------------------------

type jsonAt struct {
	off int64
	msg string
}

func (e *jsonAt) Error() string { return e.msg }

func parseCoveragePy(name string, r io.Reader) (*Report, error) {
	dec := json.NewDecoder(io.LimitReader(r, maxBytes))
	b := newBuilder(CoveragePy)
	fail := func(err error) error {
		off := dec.InputOffset()
		if se, ok := errors.AsType[*json.SyntaxError](err); ok {
			off = max(se.Offset-1, 0)
		}
		msg := err.Error()
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			msg = "unexpected end of JSON input"
			off = math.MaxInt64 // the end of the file
		}
		return &jsonAt{off: off, msg: msg}
	}
	if err := delim(dec, '{'); err != nil {
		return nil, fail(err)
	}
	sawFiles := false
	for dec.More() {
		k, err := objKey(dec)
		if err != nil {
			return nil, fail(err)
		}
		if k != "files" {
			if err := skip(dec); err != nil {
				return nil, fail(err)
			}
			continue
		}
		sawFiles = true
		if err := delim(dec, '{'); err != nil {
			return nil, fail(err)
		}
		for dec.More() {
			path, err := objKey(dec)
			if err != nil {
				return nil, fail(err)
			}
			var e struct {
				Summary *struct {
					CoveredLines  *int64 `json:"covered_lines"`
					NumStatements *int64 `json:"num_statements"`
				} `json:"summary"`
			}
			start := dec.InputOffset()
			if err := dec.Decode(&e); err != nil {
				if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
					return nil, &jsonAt{off: start + te.Offset, msg: fmt.Sprintf("file %q: %s holds a JSON %s where %s was expected", cleanPath(path), te.Field, te.Value, te.Type)}
				}
				return nil, fail(err)
			}
			if e.Summary == nil || e.Summary.CoveredLines == nil || e.Summary.NumStatements == nil {
				return nil, &jsonAt{off: start, msg: fmt.Sprintf("file %q has no summary.covered_lines and summary.num_statements", cleanPath(path))}
			}
			c, t := *e.Summary.CoveredLines, *e.Summary.NumStatements
			if c < 0 || t < 0 || c > t {
				return nil, &jsonAt{off: start, msg: fmt.Sprintf("file %q: covered_lines %d of num_statements %d is impossible", cleanPath(path), c, t)}
			}
			b.add(path, c, t)
		}
		if _, err := dec.Token(); err != nil {
			return nil, fail(err)
		}
	}
	if _, err := dec.Token(); err != nil {
		return nil, fail(err)
	}
	if !sawFiles {
		return nil, &Error{File: name, Msg: `no "files" object: not a coverage.py JSON report`}
	}
	return b.report(), nil
}

func delim(dec *json.Decoder, d json.Delim) error {
	t, err := dec.Token()
	if err != nil {
		return err
	}
	if t != d {
		return fmt.Errorf("expected %q, found %v", string(d), t)
	}
	return nil
}

func objKey(dec *json.Decoder) (string, error) {
	t, err := dec.Token()
	if err != nil {
		return "", err
	}
	k, ok := t.(string)
	if !ok {
		return "", fmt.Errorf("expected an object key, found %v", t)
	}
	return k, nil
}

func skip(dec *json.Decoder) error {
	level := 0
	for {
		t, err := dec.Token()
		if err != nil {
			return err
		}
		if d, ok := t.(json.Delim); ok {
			if d == '{' || d == '[' {
				level++
			} else {
				level--
			}
		}
		if level == 0 {
			return nil
		}
	}
}

func lineAt(r io.Reader, off int64) int {
	line := 1
	buf := make([]byte, 64<<10)
	var done int64
	for done < off {
		n, err := r.Read(buf[:min(int64(len(buf)), off-done)])
		line += bytes.Count(buf[:n], []byte{'\n'})
		done += int64(n)
		if err != nil {
			break
		}
	}
	return line
}

// --- Cobertura -----------------------------------------------------------

// ParseCobertura reads a Cobertura XML report (coverage.py's "coverage
// xml", JaCoCo converters, istanbul's cobertura reporter): every <line
// number hits> of every <class filename>, a line counted once per file.
func ParseCobertura(name string, r io.Reader) (*Report, error) {
	dec := xml.NewDecoder(io.LimitReader(r, maxBytes))
	dec.Strict = true
	lines := map[string]map[int64]bool{} // file -> line -> hit
	file := ""
	sawRoot := false
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			line := 0
			if se, ok := errors.AsType[*xml.SyntaxError](err); ok {
				line = se.Line
				return nil, &Error{File: name, Line: line, Msg: se.Msg}
			}
			return nil, &Error{File: name, Msg: err.Error()}
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			if ee, ok := tok.(xml.EndElement); ok && ee.Name.Local == "class" {
				file = ""
			}
			continue
		}
		switch se.Name.Local {
		case "coverage":
			sawRoot = true
		case "class":
			file = attr(se, "filename")
			if file == "" {
				return nil, &Error{File: name, Line: xmlLine(dec), Msg: "<class> without a filename"}
			}
			if lines[file] == nil {
				lines[file] = map[int64]bool{}
			}
		case "line":
			if file == "" {
				continue // a method's own <lines> outside a class, or malformed nesting
			}
			n, err1 := strconv.ParseInt(attr(se, "number"), 10, 64)
			h, err2 := strconv.ParseInt(attr(se, "hits"), 10, 64)
			if err1 != nil || err2 != nil || n < 0 || h < 0 {
				return nil, &Error{File: name, Line: xmlLine(dec), Msg: fmt.Sprintf("<line number=%q hits=%q> is not a pair of non-negative integers", attr(se, "number"), attr(se, "hits"))}
			}
			lines[file][n] = lines[file][n] || h > 0
		}
	}
	if !sawRoot {
		return nil, &Error{File: name, Msg: "no <coverage> element: not a Cobertura report"}
	}
	b := newBuilder(Cobertura)
	for f, ls := range lines {
		var c int64
		for _, hit := range ls {
			if hit {
				c++
			}
		}
		b.add(f, c, int64(len(ls)))
	}
	return b.report(), nil
}

func attr(se xml.StartElement, name string) string {
	for _, a := range se.Attr {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

func xmlLine(dec *xml.Decoder) int {
	line, _ := dec.InputPos()
	return line
}

// --- lcov ----------------------------------------------------------------

// ParseLCOV reads an lcov tracefile: SF: starts a file, DA:line,hits
// records a line, end_of_record ends it. A file without DA records uses
// its LF/LH totals. Records for the same file are merged.
func ParseLCOV(name string, r io.Reader) (*Report, error) {
	sc := bufio.NewScanner(io.LimitReader(r, maxBytes))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	lines := map[string]map[int64]bool{}
	totals := map[string][2]int64{} // LH, LF for files without DA
	file := ""
	n := 0
	var lf, lh int64
	sawDA := false
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		tag, val, _ := strings.Cut(line, ":")
		bad := func(format string, args ...any) error {
			return &Error{File: name, Line: n, Msg: fmt.Sprintf(format, args...)}
		}
		switch tag {
		case "SF":
			if file != "" {
				return nil, bad("SF: before the end_of_record of %q", file)
			}
			file = val
			if file == "" {
				return nil, bad("SF: without a file name")
			}
			if lines[file] == nil {
				lines[file] = map[int64]bool{}
			}
			lf, lh, sawDA = 0, 0, false
		case "DA":
			if file == "" {
				return nil, bad("DA: outside a record (no SF: before it)")
			}
			parts := strings.Split(val, ",")
			if len(parts) < 2 {
				return nil, bad("DA:%s: want line,hits", val)
			}
			ln, err1 := strconv.ParseInt(parts[0], 10, 64)
			h, err2 := strconv.ParseInt(parts[1], 10, 64)
			if err1 != nil || err2 != nil || ln < 0 {
				return nil, bad("DA:%s: line and hits must be integers", val)
			}
			lines[file][ln] = lines[file][ln] || h > 0
			sawDA = true
		case "LF", "LH":
			v, err := strconv.ParseInt(val, 10, 64)
			if err != nil || v < 0 {
				return nil, bad("%s:%s is not a count", tag, val)
			}
			if tag == "LF" {
				lf = v
			} else {
				lh = v
			}
		case "end_of_record":
			if file == "" {
				return nil, bad("end_of_record without SF:")
			}
			if !sawDA && lf > 0 {
				t := totals[file]
				totals[file] = [2]int64{t[0] + min(lh, lf), t[1] + lf}
			}
			file = ""
		}
	}
	if err := sc.Err(); err != nil {
		return nil, &Error{File: name, Line: n + 1, Msg: err.Error()}
	}
	if file != "" {
		return nil, &Error{File: name, Line: n, Msg: fmt.Sprintf("record for %q has no end_of_record (truncated file?)", cleanPath(file))}
	}
	if n == 0 {
		return nil, &Error{File: name, Msg: "empty lcov file"}
	}
	b := newBuilder(LCOV)
	for f, ls := range lines {
		var c int64
		for _, hit := range ls {
			if hit {
				c++
			}
		}
		t := totals[f]
		b.add(f, c+t[0], int64(len(ls))+t[1])
	}
	return b.report(), nil
}

// --- Go cover profile ----------------------------------------------------

// ParseGoProfile reads a Go cover profile ("go test -coverprofile"):
// a "mode:" line then "file:l.c,l.c numStmt count" blocks. A block listed
// more than once (merged profiles) counts once, covered if any count is
// positive.
func ParseGoProfile(name string, r io.Reader) (*Report, error) {
	sc := bufio.NewScanner(io.LimitReader(r, maxBytes))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	type block struct {
		stmts   int64
		covered bool
	}
	blocks := map[string]map[string]*block{} // file -> "l.c,l.c" -> block
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		if n == 1 || strings.HasPrefix(line, "mode:") {
			if !strings.HasPrefix(line, "mode:") {
				return nil, &Error{File: name, Line: n, Msg: "a Go cover profile starts with a mode: line"}
			}
			mode := strings.TrimSpace(strings.TrimPrefix(line, "mode:"))
			if mode != "set" && mode != "count" && mode != "atomic" {
				return nil, &Error{File: name, Line: n, Msg: fmt.Sprintf("unknown mode %q (want set, count or atomic)", mode)}
			}
			continue
		}
		colon := strings.LastIndexByte(line, ':')
		fields := strings.Fields(line[colon+1:])
		if colon <= 0 || len(fields) != 3 || !strings.Contains(fields[0], ",") {
			return nil, &Error{File: name, Line: n, Msg: fmt.Sprintf("want \"file:line.col,line.col statements count\", found %q", clip(line))}
		}
		stmts, err1 := strconv.ParseInt(fields[1], 10, 64)
		count, err2 := strconv.ParseInt(fields[2], 10, 64)
		if err1 != nil || err2 != nil || stmts < 0 || count < 0 {
			return nil, &Error{File: name, Line: n, Msg: fmt.Sprintf("statements and count must be non-negative integers in %q", clip(line))}
		}
		file := line[:colon]
		m := blocks[file]
		if m == nil {
			m = map[string]*block{}
			blocks[file] = m
		}
		bl := m[fields[0]]
		if bl == nil {
			bl = &block{stmts: stmts}
			m[fields[0]] = bl
		}
		bl.covered = bl.covered || count > 0
	}
	if err := sc.Err(); err != nil {
		return nil, &Error{File: name, Line: n + 1, Msg: err.Error()}
	}
	if n == 0 {
		return nil, &Error{File: name, Msg: "empty Go cover profile"}
	}
	b := newBuilder(GoProfile)
	for f, m := range blocks {
		var c, t int64
		for _, bl := range m {
			t += bl.stmts
			if bl.covered {
				c += bl.stmts
			}
		}
		b.add(f, c, t)
	}
	return b.report(), nil
}

func clip(s string) string {
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}
