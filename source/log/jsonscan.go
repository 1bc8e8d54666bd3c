package log

import (
	"errors"
	"unicode/utf16"
	"unicode/utf8"
)

// jsonFields are the top-level members of a JSON log line that the log
// source reads. Byte slices point into the line or into the scanner's
// scratch buffer, and are valid until the next scan.
type jsonFields struct {
	time, level, msg, logger []byte
	timeNum, levelNum        bool // the value was a number, not a string
	// transcript markers
	sessionID, uuid, typ bool
	members              int
}

// set keeps the first usable value of each field.
func (f *jsonFields) set(kind fieldKind, v []byte, num bool) {
	switch kind {
	case kTime:
		if f.time == nil {
			f.time, f.timeNum = v, num
		}
	case kLevel:
		if f.level == nil {
			f.level, f.levelNum = v, num
		}
	case kMsg:
		if f.msg == nil && !num {
			f.msg = v
		}
	case kLogger:
		if f.logger == nil && !num {
			f.logger = v
		}
	}
}

type fieldKind uint8

const (
	kNone fieldKind = iota
	kTime
	kLevel
	kMsg
	kLogger
	kSession
	kUUID
	kType
)

func classifyKey(k []byte) fieldKind {
	switch string(k) {
	case "timestamp", "time", "ts", "@timestamp", "datetime", "asctime", "date", "t":
		return kTime
	case "level", "lvl", "severity", "levelname", "loglevel", "log.level", "level_name":
		return kLevel
	case "message", "msg", "event", "text", "log", "@message":
		return kMsg
	case "logger", "logger_name", "name", "component":
		return kLogger
	case "sessionId":
		return kSession
	case "uuid", "parentUuid":
		return kUUID
	case "type":
		return kType
	}
	return kNone
}

var (
	errNotObject = errors.New("not a JSON object")
	errTruncJSON = errors.New("JSON object ends early")
	errBadJSON   = errors.New("malformed JSON")
)

// jsonScanner reads the members of one JSON object without decoding the
// rest. It never recurses, so nesting depth costs nothing.
type jsonScanner struct {
	scratch []byte
}

// scan fills f from line. On a malformed or truncated line it returns an
// error and the fields met before the fault.
func (sc *jsonScanner) scan(line []byte, f *jsonFields) error {
	*f = jsonFields{}
	sc.scratch = sc.scratch[:0]
	i := skipWS(line, 0)
	if i >= len(line) || line[i] != '{' {
		return errNotObject
	}
	i++
	for {
		i = skipWS(line, i)
		if i >= len(line) {
			return errTruncJSON
		}
		if line[i] == '}' {
			if f.members > 0 {
				return errBadJSON // trailing comma
			}
			return trailing(line, i+1)
		}
		if line[i] != '"' {
			return errBadJSON
		}
		kStart := i + 1
		kEnd, esc, err := scanString(line, i)
		if err != nil {
			return err
		}
		key := line[kStart:kEnd]
		kind := kNone
		if !esc {
			kind = classifyKey(key)
		}
		i = skipWS(line, kEnd+1)
		if i >= len(line) {
			return errTruncJSON
		}
		if line[i] != ':' {
			return errBadJSON
		}
		i = skipWS(line, i+1)
		if i >= len(line) {
			return errTruncJSON
		}
		start := i
		isString := line[i] == '"'
		var vEnd int
		var vEsc bool
		if isString {
			vEnd, vEsc, err = scanString(line, i)
			if err != nil {
				return err
			}
			i = vEnd + 1
		} else {
			i, err = skipValue(line, i)
			if err != nil {
				return err
			}
		}
		f.members++
		switch kind {
		case kSession:
			f.sessionID = true
		case kUUID:
			f.uuid = true
		case kType:
			f.typ = true
		case kTime, kLevel, kMsg, kLogger:
			var v []byte
			num := false
			switch {
			case isString && vEsc:
				mark := len(sc.scratch)
				var ok bool
				sc.scratch, ok = appendUnescaped(sc.scratch, line[start+1:vEnd])
				if !ok {
					return errBadJSON
				}
				v = sc.scratch[mark:len(sc.scratch):len(sc.scratch)]
			case isString:
				v = line[start+1 : vEnd]
			case line[start] == '-' || isDigit(line[start]):
				v, num = line[start:i], true
			}
			if v != nil {
				f.set(kind, v, num)
			}
		}
		i = skipWS(line, i)
		if i >= len(line) {
			return errTruncJSON
		}
		switch line[i] {
		case ',':
			i++
			i = skipWS(line, i)
			if i < len(line) && line[i] == '}' {
				return errBadJSON
			}
		case '}':
			return trailing(line, i+1)
		default:
			return errBadJSON
		}
	}
}

func trailing(line []byte, i int) error {
	if skipWS(line, i) != len(line) {
		return errBadJSON
	}
	return nil
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
		i++
	}
	return i
}

// scanString reads the string starting at b[i] == '"' and returns the
// index of its closing quote and whether it holds escapes.
func scanString(b []byte, i int) (end int, esc bool, err error) {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '"':
			return j, esc, nil
		case '\\':
			esc = true
			j++
		default:
			if b[j] < 0x20 {
				return 0, false, errBadJSON
			}
		}
	}
	return 0, false, errTruncJSON
}

// skipValue skips a number, literal, object or array at b[i] and returns
// the index after it.
func skipValue(b []byte, i int) (int, error) {
	switch c := b[i]; {
	case c == '{' || c == '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1, nil
				}
			case '"':
				end, _, err := scanString(b, j)
				if err != nil {
					return 0, err
				}
				j = end
			}
		}
		return 0, errTruncJSON
	case c == '-' || isDigit(c):
		j := i + 1
		for j < len(b) && (isDigit(b[j]) || b[j] == '.' || b[j] == 'e' || b[j] == 'E' || b[j] == '+' || b[j] == '-') {
			j++
		}
		return j, nil
	default:
		for _, lit := range []string{"true", "false", "null"} {
			if len(b)-i >= len(lit) && string(b[i:i+len(lit)]) == lit {
				return i + len(lit), nil
			}
			if len(b)-i < len(lit) && string(b[i:]) == lit[:len(b)-i] {
				return 0, errTruncJSON
			}
		}
		return 0, errBadJSON
	}
}

// appendUnescaped appends the JSON string body raw, unescaped, to dst.
func appendUnescaped(dst, raw []byte) ([]byte, bool) {
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c != '\\' {
			dst = append(dst, c)
			continue
		}
		i++
		if i >= len(raw) {
			return dst, false
		}
		switch raw[i] {
		case '"', '\\', '/':
			dst = append(dst, raw[i])
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r, ok := hex4(raw, i+1)
			if !ok {
				return dst, false
			}
			i += 4
			if utf16.IsSurrogate(r) {
				if r2, ok := hex4(raw, i+3); ok && i+2 < len(raw) && raw[i+1] == '\\' && raw[i+2] == 'u' {
					if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
						dst = utf8.AppendRune(dst, d)
						i += 6
						continue
					}
				}
				r = utf8.RuneError
			}
			dst = utf8.AppendRune(dst, r)
		default:
			return dst, false
		}
	}
	return dst, true
}

func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}
