// Package cef encodes records as ArcSight Common Event Format (CEF)
// version 0 lines, the format many SIEMs read from syslog:
//
//	CEF:0|AMI|ami-audit|1|ACTION|ACTION TARGET|SEVERITY|EXTENSION
//
// Severity is 1 (debug), 3 (info), 5 (warning), 8 (error) or 10
// (critical). The extension carries rt (the record's time, ms since the
// epoch), externalId (record_id), act (action), suser (actor), cat (target
// type), msg (reason), cn1 (sequence), cs1 (target), cs2 (record_hash),
// cs3 (source), cs4 (classification), each custom field with its label.
// Header fields escape "\" and "|"; extension values escape "\", "=" and
// line breaks, as the CEF specification says.
package cef

import (
	"strconv"
	"strings"

	audit "github.com/ami-orchestrator/ami-audit"
)

// Version is the device version in the header.
const Version = "1"

// Encode appends r's CEF line to dst (without a newline).
func Encode(dst []byte, r *audit.Record) ([]byte, error) {
	dst = append(dst, "CEF:0|AMI|ami-audit|"+Version+"|"...)
	dst = header(dst, r.Action)
	dst = append(dst, '|')
	dst = header(dst, strings.TrimSpace(r.Action+" "+r.Target))
	dst = append(dst, '|')
	dst = strconv.AppendInt(dst, int64(severity(r.Severity)), 10)
	dst = append(dst, '|')
	ext := func(k, v string) {
		if v == "" {
			return
		}
		if dst[len(dst)-1] != '|' {
			dst = append(dst, ' ')
		}
		dst = append(dst, k...)
		dst = append(dst, '=')
		dst = value(dst, v)
	}
	ext("rt", strconv.FormatInt(r.Timestamp.UnixMilli(), 10))
	ext("externalId", r.RecordID)
	ext("act", r.Action)
	ext("suser", r.Actor)
	ext("cat", string(r.TargetType))
	ext("msg", r.Reason)
	ext("cn1Label", "sequence")
	ext("cn1", strconv.FormatUint(r.Sequence, 10))
	ext("cs1Label", "target")
	ext("cs1", r.Target)
	ext("cs2Label", "record_hash")
	ext("cs2", r.RecordHash)
	ext("cs3Label", "source")
	ext("cs3", r.Source)
	ext("cs4Label", "classification")
	ext("cs4", string(r.Classification))
	return dst, nil
}

func severity(s audit.Severity) int {
	switch s {
	case audit.SeverityDebug:
		return 1
	case audit.SeverityWarning:
		return 5
	case audit.SeverityError:
		return 8
	case audit.SeverityCritical:
		return 10
	}
	return 3
}

func header(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\', '|':
			dst = append(dst, '\\', c)
		case '\n', '\r':
			dst = append(dst, ' ')
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

func value(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\', '=':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		default:
			dst = append(dst, c)
		}
	}
	return dst
}
