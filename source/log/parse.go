package log

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Format is a log file format the source reads.
type Format string

// The formats, as named in records and reports.
const (
	// FormatJSON is JSON lines: one object per line with members such as
	// timestamp/time/ts, level/severity/levelname, message/msg/event,
	// logger/name.
	FormatJSON Format = "json"
	// FormatTranscript is agent transcript JSONL (members parentUuid,
	// sessionId, version, gitBranch, type, message, uuid, timestamp).
	FormatTranscript Format = "transcript"
	// FormatLogfmt is key=value pairs (ts=… level=… msg="…").
	FormatLogfmt Format = "logfmt"
	// FormatLoguru is loguru's text form:
	// "2025-12-01 10:00:00.123 | ERROR    | module:function:42 - message".
	FormatLoguru Format = "loguru"
	// FormatPlain is "timestamp level message" text, including Python
	// logging's "timestamp - name - LEVEL - message".
	FormatPlain Format = "timestamp-level"
	// FormatSectioned is AMI's sectioned text: "=== SECTION ===" headers.
	FormatSectioned Format = "sectioned"
	// FormatText is any other text: one entry per line, no timestamps
	// unless a line starts with one, levels from upper-case keywords.
	FormatText Format = "text"
	// FormatBinary is not text; the file is skipped.
	FormatBinary Format = "binary"
	// FormatEmpty is a file with no lines.
	FormatEmpty Format = "empty"
	// FormatExcluded is a file no source reads (a private key); it is
	// skipped unread.
	FormatExcluded Format = "excluded"
)

// lineKind says what a line turned out to be.
type lineKind uint8

const (
	lkEntry        lineKind = iota // a log entry
	lkBlank                        // empty or white space
	lkContinuation                 // part of the previous entry (a traceback line)
	lkHeader                       // a section header
	lkMalformed                    // not in the file's format
)

// parsed is one line's entry. Byte slices are valid until the next parse.
type parsed struct {
	ns           int64
	hasTime      bool
	naive        bool
	lv           level
	hasLevel     bool
	unknownLevel bool
	msg          []byte
	logger       []byte
	section      string
}

// parser reads the lines of one file in one format. It is not safe for
// concurrent use.
type parser struct {
	format Format
	loc    *time.Location
	js     jsonScanner
	f      jsonFields
	buf    []byte

	// sectioned text: the current section and its state
	section     string
	sectionLv   level
	sectionLvOK bool
	lastNS      int64
	lastHasTime bool
}

func newParser(f Format, loc *time.Location) *parser {
	return &parser{format: f, loc: loc}
}

// parse reads one line (without its newline) into out.
func (p *parser) parse(line []byte, out *parsed) lineKind {
	*out = parsed{}
	line = bytes.TrimRight(line, "\r")
	if len(bytes.TrimSpace(line)) == 0 {
		return lkBlank
	}
	switch p.format {
	case FormatJSON:
		return p.parseJSON(line, out)
	case FormatTranscript:
		return p.parseTranscript(line, out)
	case FormatLogfmt:
		return p.parseLogfmt(line, out)
	case FormatLoguru:
		if parseLoguru(line, p.loc, out) {
			return lkEntry
		}
		return lkContinuation
	case FormatPlain:
		if parsePlain(line, p.loc, out) {
			return lkEntry
		}
		return lkContinuation
	case FormatSectioned:
		return p.parseSectioned(line, out)
	}
	return parseText(line, p.loc, out)
}

func (p *parser) parseJSON(line []byte, out *parsed) lineKind {
	err := p.js.scan(line, &p.f)
	if err == errNotObject {
		return lkMalformed
	}
	p.fill(line, out)
	if err != nil {
		if p.f.msg == nil {
			out.msg = nil // nothing worth counting survived
		}
		return lkMalformed
	}
	return lkEntry
}

func (p *parser) parseLogfmt(line []byte, out *parsed) lineKind {
	if p.js.scanLogfmt(line, &p.f) == 0 {
		return lkMalformed
	}
	p.fill(line, out)
	return lkEntry
}

// fill turns scanned JSON or logfmt fields into an entry.
func (p *parser) fill(line []byte, out *parsed) {
	f := &p.f
	if f.time != nil {
		if f.timeNum {
			out.ns, out.hasTime = epochString(string(f.time))
		} else {
			out.ns, out.naive, out.hasTime = parseTimeValue(string(f.time), p.loc)
		}
	}
	out.msg = f.msg
	if out.msg == nil {
		out.msg = line
	}
	out.logger = f.logger
	if f.level != nil {
		if f.levelNum {
			if v, ok := parseNumber(string(f.level)); ok {
				out.lv, out.hasLevel = numericLevel(v)
			}
		} else {
			out.lv, out.hasLevel = parseLevel(string(f.level))
		}
		if !out.hasLevel {
			out.unknownLevel = true
			out.lv = lvInfo
		}
		return
	}
	if lv, ok := keywordLevel(string(out.msg)); ok {
		out.lv, out.hasLevel = lv, true
		return
	}
	out.lv = lvInfo
}

// parseLoguru reads "TS | LEVEL | location - message".
func parseLoguru(line []byte, loc *time.Location, out *parsed) bool {
	s := string(line)
	ns, n, naive, ok := parseTimestamp(s, loc)
	if !ok {
		return false
	}
	rest := strings.TrimLeft(s[n:], " ")
	if !strings.HasPrefix(rest, "|") {
		return false
	}
	rest = rest[1:]
	bar := strings.IndexByte(rest, '|')
	if bar < 0 {
		return false
	}
	lv, ok := parseLevel(rest[:bar])
	if !ok {
		return false
	}
	rest = strings.TrimLeft(rest[bar+1:], " ")
	msg := rest
	logger := ""
	if dash := strings.Index(rest, " - "); dash >= 0 {
		logger, msg = rest[:dash], rest[dash+3:]
		if c := strings.IndexByte(logger, ':'); c >= 0 {
			logger = logger[:c]
		}
	}
	out.ns, out.hasTime, out.naive = ns, true, naive
	out.lv, out.hasLevel = lv, true
	out.msg = line[len(line)-len(msg):]
	out.logger = line[len(s)-len(rest) : len(s)-len(rest)+len(logger)]
	return true
}

// parsePlain reads "TS LEVEL message", "TS [LEVEL] message" and
// "TS - name - LEVEL - message". A line starting with a timestamp but with
// no level is an entry at the level its keywords give (else info); a line
// not starting with a timestamp is not an entry.
func parsePlain(line []byte, loc *time.Location, out *parsed) bool {
	s := string(line)
	ns, n, naive, ok := parseTimestamp(s, loc)
	if !ok {
		return false
	}
	out.ns, out.hasTime, out.naive = ns, true, naive
	rest := s[n:]
	// up to four separator-delimited words may come before the level
	for pos := range 5 {
		rest = strings.TrimLeft(rest, " \t|-:,")
		end := strings.IndexAny(rest, " \t|")
		if end < 0 {
			end = len(rest)
		}
		word := rest[:end]
		if lv, ok := parseLevel(word); ok && !isPlainWord(word) && (pos == 0 || isLevelShaped(word)) {
			out.lv, out.hasLevel = lv, true
			rest = strings.TrimLeft(rest[end:], " \t|-:")
			out.msg = line[len(line)-len(rest):]
			return true
		}
		if end == len(rest) || end == 0 {
			break
		}
		rest = rest[end:]
	}
	rest = strings.TrimLeft(s[n:], " \t|-:")
	out.msg = line[len(line)-len(rest):]
	if lv, ok := keywordLevel(rest); ok {
		out.lv, out.hasLevel = lv, true
	} else {
		out.lv = lvInfo
	}
	return true
}

// isPlainWord reports whether a level-like word is a lone lower-case
// letter, which is more likely a word of the message than a level.
func isPlainWord(w string) bool {
	return len(w) == 1 && w[0] >= 'a' && w[0] <= 'z'
}

// isLevelShaped reports whether a word after the first looks like a level
// rather than a word of the message: upper case, or in brackets.
func isLevelShaped(w string) bool {
	if strings.HasPrefix(w, "[") || strings.HasPrefix(w, "(") {
		return true
	}
	return strings.ToUpper(w) == w
}

// parseText reads a line of unstructured text.
func parseText(line []byte, loc *time.Location, out *parsed) lineKind {
	s := string(line)
	if ns, n, naive, ok := parseTimestamp(s, loc); ok {
		out.ns, out.hasTime, out.naive = ns, true, naive
		s = strings.TrimLeft(s[n:], " \t")
	}
	out.msg = line[len(line)-len(s):]
	if lv, ok := keywordLevel(s); ok {
		out.lv, out.hasLevel = lv, true
	} else {
		out.lv = lvInfo
	}
	return lkEntry
}

// sectionHeader returns NAME for a "=== NAME ===" line.
func sectionHeader(line []byte) (string, bool) {
	s := strings.TrimSpace(string(line))
	if len(s) < 7 || !strings.HasPrefix(s, "===") || !strings.HasSuffix(s, "===") {
		return "", false
	}
	name := strings.TrimSpace(strings.Trim(s, "="))
	return name, name != ""
}

// sectionLevel is the level of the lines of a section named for errors
// (ERROR, ERRORS, STDERR, EXCEPTION, TRACEBACK, FAILURE) or warnings.
func sectionLevel(name string) (level, bool) {
	u := strings.ToUpper(name)
	for _, w := range []string{"ERROR", "STDERR", "EXCEPTION", "TRACEBACK", "FAIL"} {
		if strings.Contains(u, w) {
			return lvError, true
		}
	}
	if strings.Contains(u, "WARN") {
		return lvWarning, true
	}
	return 0, false
}

// timeKeys are the "Key: value" lines of a sectioned file that give the
// section's time.
var timeKeys = []string{"timestamp", "time", "date", "started", "start time", "started at", "finished", "end time", "ended at", "completed"}

func (p *parser) parseSectioned(line []byte, out *parsed) lineKind {
	if name, ok := sectionHeader(line); ok {
		p.section = name
		p.sectionLv, p.sectionLvOK = sectionLevel(name)
		return lkHeader
	}
	out.section = p.section
	switch {
	case parseLoguru(line, p.loc, out), parsePlain(line, p.loc, out):
		// own timestamp
	default:
		parseText(line, p.loc, out)
		if k, v, ok := strings.Cut(string(line), ":"); ok && !out.hasTime {
			k = strings.ToLower(strings.TrimSpace(k))
			for _, tk := range timeKeys {
				if k == tk {
					if ns, naive, ok := parseTimeValue(v, p.loc); ok {
						out.ns, out.naive, out.hasTime = ns, naive, true
					}
					break
				}
			}
		}
	}
	if out.hasTime {
		p.lastNS, p.lastHasTime = out.ns, true
	} else if p.lastHasTime {
		out.ns, out.hasTime = p.lastNS, true // the section's latest time
	}
	if !out.hasLevel && p.sectionLvOK {
		out.lv, out.hasLevel = p.sectionLv, true
	}
	return lkEntry
}

// transcriptLine is the part of an agent transcript line the source reads.
type transcriptLine struct {
	Type       string          `json:"type"`
	Timestamp  string          `json:"timestamp"`
	SessionID  string          `json:"sessionId"`
	Level      string          `json:"level"`
	IsAPIError bool            `json:"isApiErrorMessage"`
	Content    json.RawMessage `json:"content"`
	Summary    string          `json:"summary"`
	Message    struct {
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
	} `json:"message"`
}

type transcriptBlock struct {
	Type    string          `json:"type"`
	Text    string          `json:"text"`
	Name    string          `json:"name"`
	IsError bool            `json:"is_error"`
	Content json.RawMessage `json:"content"`
}

func (p *parser) parseTranscript(line []byte, out *parsed) lineKind {
	var t transcriptLine
	if err := json.Unmarshal(line, &t); err != nil {
		// a cut or broken line: keep what the scanner can read
		if p.js.scan(line, &p.f) == errNotObject {
			return lkMalformed
		}
		p.fill(line, out)
		out.msg = []byte("transcript line unreadable")
		return lkMalformed
	}
	if t.Timestamp != "" {
		out.ns, out.naive, out.hasTime = parseTimeValue(t.Timestamp, p.loc)
	}
	out.logger = []byte(t.SessionID)
	out.lv = lvInfo
	if t.Level != "" {
		if lv, ok := parseLevel(t.Level); ok {
			out.lv, out.hasLevel = lv, true
		}
	}
	summary := t.Type
	switch {
	case t.Summary != "":
		summary += ": " + firstLine(t.Summary)
	case len(t.Message.Content) > 0:
		summary, out.lv = p.transcriptMessage(t.Type, t.Message.Content, out.lv)
	case len(t.Content) > 0:
		summary, out.lv = p.transcriptMessage(t.Type, t.Content, out.lv)
	}
	if t.IsAPIError {
		out.lv = max(out.lv, lvError)
		out.hasLevel = true
	}
	out.msg = []byte(summary)
	return lkEntry
}

// transcriptMessage summarises a message's content: its first text line,
// the tools it calls, or the tool results it carries (an error result makes
// the entry an error).
func (p *parser) transcriptMessage(typ string, content json.RawMessage, lv level) (string, level) {
	var text string
	if json.Unmarshal(content, &text) == nil {
		return typ + ": " + firstLine(text), lv
	}
	var blocks []transcriptBlock
	if json.Unmarshal(content, &blocks) != nil {
		return typ, lv
	}
	var parts []string
	for _, b := range blocks {
		switch b.Type {
		case "text":
			parts = append(parts, firstLine(b.Text))
		case "tool_use":
			parts = append(parts, "tool_use "+b.Name)
		case "tool_result":
			if b.IsError {
				lv = max(lv, lvError)
				var s string
				if json.Unmarshal(b.Content, &s) != nil {
					var inner []transcriptBlock
					if json.Unmarshal(b.Content, &inner) == nil && len(inner) > 0 {
						s = inner[0].Text
					}
				}
				parts = append(parts, "tool_result error: "+firstLine(s))
			} else {
				parts = append(parts, "tool_result")
			}
		case "":
		default:
			parts = append(parts, b.Type)
		}
	}
	return typ + ": " + strings.Join(parts, "; "), lv
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 200 {
		cut := 200
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

// detectSample is how many non-blank lines detection reads.
const detectSample = 32

// detect chooses a file's format from its first lines and says why.
func detect(sample [][]byte, loc *time.Location) (Format, string) {
	var sc jsonScanner
	var f jsonFields
	var out parsed
	n, js, tr, lg, lf, pl, hdr := 0, 0, 0, 0, 0, 0, 0
	for _, line := range sample {
		line = bytes.TrimRight(line, "\r")
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		n++
		if _, ok := sectionHeader(line); ok {
			hdr++
			continue
		}
		if err := sc.scan(line, &f); err == nil || (err == errTruncJSON && f.members > 0) {
			js++
			if f.sessionID && f.uuid && f.typ {
				tr++
			}
			continue
		}
		if parseLoguru(line, loc, &out) {
			lg++
			continue
		}
		if parsePlain(line, loc, &out) && out.hasLevel {
			pl++
			continue
		}
		if sc.scanLogfmt(line, &f) >= 2 && (f.level != nil || f.msg != nil || f.time != nil) {
			lf++
		}
	}
	why := func(k int, what string) string {
		if n == 1 {
			return fmt.Sprintf("the only line is %s", what)
		}
		return fmt.Sprintf("%d of the first %d lines are %s", k, n, what)
	}
	switch {
	case n == 0:
		return FormatEmpty, "no lines"
	case tr*2 >= n:
		return FormatTranscript, why(tr, "agent transcript objects (sessionId, uuid, type)")
	case js*2 >= n:
		return FormatJSON, why(js, "JSON objects")
	case hdr > 0:
		return FormatSectioned, why(hdr, `"=== SECTION ===" headers`)
	}
	best, bestN := FormatText, 0
	for _, c := range []struct {
		f    Format
		k    int
		what string
	}{{FormatLoguru, lg, "loguru lines"}, {FormatLogfmt, lf, "logfmt lines"}, {FormatPlain, pl, "timestamp-level lines"}} {
		if c.k > bestN {
			best, bestN = c.f, c.k
		}
	}
	switch best {
	case FormatLoguru:
		return best, why(lg, `loguru lines ("time | LEVEL | where - message")`)
	case FormatLogfmt:
		return best, why(lf, "logfmt key=value lines")
	case FormatPlain:
		return best, why(pl, `"timestamp level message" lines`)
	}
	return FormatText, fmt.Sprintf("none of the first %d lines has a known structure", n)
}
