package ledger

import (
	"bytes"
	"errors"
	"strconv"
)

var errBody = errors.New("stored record is not a canonical JSON object")

// chainFields are the members of a stored body the chain check needs.
type chainFields struct {
	previousHash []byte
	recordID     []byte
	sequence     uint64
	hasSequence  bool
	// The members stores index, as JSON string tokens (quotes included),
	// in the order of IndexedFields.
	indexed [numIndexed][]byte
}

// scanChainFields reads previous_hash, record_id and sequence from the top
// level of a canonical record body without decoding the rest. Strings are
// returned without their quotes; the chain's hex hashes and UUIDs contain
// no escapes.
func scanChainFields(b []byte) (chainFields, error) {
	var f chainFields
	if len(b) < 2 || b[0] != '{' {
		return f, errBody
	}
	i := 1
	for i < len(b) {
		if b[i] == '}' {
			return f, nil
		}
		if b[i] != '"' {
			return f, errBody
		}
		end := skipString(b, i)
		if end < 0 || end >= len(b) || b[end] != ':' {
			return f, errBody
		}
		key := b[i+1 : end-1]
		vstart := end + 1
		vend := skipValue(b, vstart)
		if vend < 0 {
			return f, errBody
		}
		val := b[vstart:vend]
		switch string(key) {
		case "previous_hash":
			f.previousHash = unquote(val)
		case "record_id":
			f.recordID = unquote(val)
		case "timestamp":
			f.indexed[idxTimestamp] = val
		case "actor":
			f.indexed[idxActor] = val
		case "action":
			f.indexed[idxAction] = val
		case "target":
			f.indexed[idxTarget] = val
		case "target_type":
			f.indexed[idxTargetType] = val
		case "severity":
			f.indexed[idxSeverity] = val
		case "sequence":
			n, err := strconv.ParseUint(string(val), 10, 64)
			if err != nil {
				return f, errBody
			}
			f.sequence, f.hasSequence = n, true
		}
		i = vend
		if i < len(b) && b[i] == ',' {
			i++
		}
	}
	return f, errBody
}

func unquote(v []byte) []byte {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		return v[1 : len(v)-1]
	}
	return nil
}

// skipString returns the index just past the string starting at b[i] == '"',
// or -1.
func skipString(b []byte, i int) int {
	i++
	for {
		j := bytes.IndexAny(b[i:], "\"\\")
		if j < 0 {
			return -1
		}
		i += j
		if b[i] == '"' {
			return i + 1
		}
		i += 2 // backslash and the escaped byte
		if i > len(b) {
			return -1
		}
	}
}

// skipValue returns the index just past the JSON value starting at b[i], or
// -1 when the value is malformed or unterminated.
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				i = skipString(b, i)
				if i < 0 {
					return -1
				}
				continue
			case '{', '[':
				depth++
				if depth > 10000 {
					return -1
				}
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return -1
	default:
		j := i
		for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' {
			j++
		}
		if j == i {
			return -1
		}
		return j
	}
}
