package log

import (
	"strings"

	audit "github.com/ami-orchestrator/ami-audit"
)

// level is a severity as an index into audit.Severities: 0 debug, 1 info,
// 2 warning, 3 error, 4 critical.
type level uint8

const (
	lvDebug level = iota
	lvInfo
	lvWarning
	lvError
	lvCritical
	numLevels
)

func (l level) severity() audit.Severity { return audit.Severities[l] }

func levelOf(s audit.Severity) level {
	if r := s.Rank(); r >= 0 {
		return level(r)
	}
	return lvInfo
}

// parseLevel maps the level names of the formats read onto audit
// severities, in any letter case, with surrounding brackets or colons:
//
//	trace, debug, dbg, verbose          debug
//	info, information, notice, success  info
//	warn, warning                       warning
//	error, err, exception, severe       error
//	critical, crit, fatal, panic,
//	alert, emerg, emergency             critical
//
// and single letters D I W E F C (glog, Android).
func parseLevel(s string) (level, bool) {
	s = strings.Trim(s, " \t[]():<>")
	if s == "" {
		return 0, false
	}
	eq := func(names ...string) bool {
		for _, n := range names {
			if strings.EqualFold(s, n) {
				return true
			}
		}
		return false
	}
	switch s[0] | 0x20 {
	case 't':
		if eq("trace") {
			return lvDebug, true
		}
	case 'd':
		if len(s) == 1 || eq("debug", "dbg") {
			return lvDebug, true
		}
	case 'v':
		if eq("verbose") {
			return lvDebug, true
		}
	case 'i':
		if len(s) == 1 || eq("info", "information", "informational") {
			return lvInfo, true
		}
	case 'n':
		if eq("notice") {
			return lvInfo, true
		}
	case 's':
		if eq("success") {
			return lvInfo, true
		}
		if eq("severe") {
			return lvError, true
		}
	case 'w':
		if len(s) == 1 || eq("warn", "warning") {
			return lvWarning, true
		}
	case 'e':
		if len(s) == 1 || eq("error", "err", "exception") {
			return lvError, true
		}
		if eq("emerg", "emergency") {
			return lvCritical, true
		}
	case 'c':
		if len(s) == 1 || eq("critical", "crit") {
			return lvCritical, true
		}
	case 'f':
		if len(s) == 1 || eq("fatal") {
			return lvCritical, true
		}
	case 'p':
		if eq("panic") {
			return lvCritical, true
		}
	case 'a':
		if eq("alert") {
			return lvCritical, true
		}
	}
	return 0, false
}

// numericLevel maps pino/bunyan numeric levels (10 trace, 20 debug,
// 30 info, 40 warn, 50 error, 60 fatal).
func numericLevel(n float64) (level, bool) {
	switch {
	case n < 10 || n > 100:
		return 0, false
	case n < 30:
		return lvDebug, true
	case n < 40:
		return lvInfo, true
	case n < 50:
		return lvWarning, true
	case n < 60:
		return lvError, true
	}
	return lvCritical, true
}

// keywordLevel finds a level in free text: an upper-case level word
// (ERROR, WARN, …) standing alone or in brackets among the first 80 bytes,
// or a line starting with "Traceback", "Exception" or "Error:". It says
// nothing (false) when there is no such clue; lower-case words in a
// sentence ("no error found") are not clues.
func keywordLevel(s string) (level, bool) {
	if strings.HasPrefix(s, "Traceback ") || strings.HasPrefix(s, "Exception") || strings.HasPrefix(s, "Error:") || strings.HasPrefix(s, "panic: ") {
		return lvError, true
	}
	if len(s) > 80 {
		s = s[:80]
	}
	for i := 0; i < len(s); {
		for i < len(s) && !isUpper(s[i]) {
			i++
		}
		j := i
		for j < len(s) && isUpper(s[j]) {
			j++
		}
		if j-i >= 4 && (i == 0 || !isWordByte(s[i-1])) && (j == len(s) || !isWordByte(s[j])) {
			switch s[i:j] {
			case "TRACE", "DEBUG":
				return lvDebug, true
			case "INFO", "NOTICE":
				return lvInfo, true
			case "WARN", "WARNING":
				return lvWarning, true
			case "ERROR", "SEVERE":
				return lvError, true
			case "CRITICAL", "FATAL", "PANIC", "ALERT", "EMERG":
				return lvCritical, true
			}
		}
		if j == i {
			i++
		} else {
			i = j
		}
	}
	return 0, false
}

func isUpper(b byte) bool { return b >= 'A' && b <= 'Z' }

func isWordByte(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '_'
}
