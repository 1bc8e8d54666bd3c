package log

import (
	"bytes"
	"cmp"
	"time"
	"unicode/utf8"

	audit "github.com/ami-orchestrator/ami-audit"
)

// Lines parses the lines of one log file that its caller reads itself, as
// they arrive (the stream collector tails files with it): the same format
// detection, parsing, level filter and "log_entry" records as Collect with
// Config.Each, one line at a time. Since and Until do not apply. A Lines
// is not safe for concurrent use.
type Lines struct {
	cfg    *Config
	agg    *aggregator
	p      *parser
	file   string
	format Format
	reason string
	minLv  level
	out    parsed
	// keyLines counts the lines of a private key block being read
	keyLines int
}

// Detect chooses the format of a file from its first bytes; whole says
// that sample is the whole file. Binary data is FormatBinary, an empty
// sample FormatEmpty.
func Detect(sample []byte, whole bool, loc *time.Location) (Format, string) {
	if loc == nil {
		loc = time.UTC
	}
	if looksBinary(sample) {
		return FormatBinary, "the first bytes are not text"
	}
	return detect(sampleLines(sample, whole), loc)
}

// Lines returns a parser for the lines of file (the name records give it)
// in format (see Detect).
func (s *Source) Lines(file string, format Format) *Lines {
	cfg := s.cfg
	actor := cmp.Or(cfg.Actor, cfg.Service, "log")
	a := &aggregator{cfg: &cfg, target: file, actor: actor, now: time.Now().UTC()}
	return &Lines{cfg: &cfg, agg: a, p: newParser(format, cfg.Location), file: file, format: format, minLv: levelOf(cfg.Level)}
}

// Format is the format the lines are parsed in.
func (l *Lines) Format() Format { return l.format }

// Entry parses one line (without its newline), the lineNo-th of the
// file, and returns its "log_entry" record, or nil when the line is not
// an entry at or above the level (a blank line, a section header, a
// traceback's continuation, a line of another format). now is the
// record's timestamp when the line has none. The record's context holds
// the file, line, message, level and, when the line had one, logger and
// section, as Collect's entry records do.
func (l *Lines) Entry(line []byte, lineNo int64, now time.Time) *audit.Record {
	if len(line) > l.cfg.MaxLineBytes {
		line = line[:l.cfg.MaxLineBytes]
	}
	line = stripANSI(line)
	// the lines of a private key block are no entries (as in Collect)
	if l.keyLines > 0 {
		if l.keyLines++; bytes.Contains(line, pemEnd) || l.keyLines > maxKeyLines {
			l.keyLines = 0
		}
		return nil
	}
	if i := bytes.Index(line, pemBegin); i >= 0 && bytes.Contains(line[i:], []byte("PRIVATE KEY")) && !bytes.Contains(line[i:], pemEnd) {
		l.keyLines = 1
	}
	out := &l.out
	switch l.p.parse(line, out) {
	case lkBlank, lkHeader, lkContinuation:
		return nil
	case lkMalformed:
		if l.format != FormatTranscript && l.format != FormatJSON || len(out.msg) == 0 {
			return nil
		}
	}
	if out.lv < l.minLv {
		return nil
	}
	msg := out.msg
	if !utf8.Valid(msg) {
		msg = []byte(clip(msg, len(msg)))
	}
	e := entry{
		ns: out.ns, hasTime: out.hasTime, lv: out.lv, line: lineNo,
		msg:     clip(msg, l.cfg.MaxMessageBytes),
		logger:  clip(out.logger, 200),
		section: out.section,
	}
	l.agg.now = now.UTC()
	return l.agg.entryRecord(l.file, &e, 0)
}
