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
	// commitments and version are the raw commitments object and
	// canonical_version number, nil when absent.
	commitments, version []byte
}

// Members calls fn with each member of the JSON object b, in order: the
// member name (without quotes, escapes kept) and the raw value. It does not
// decode values, so reading a few fields of a stored body costs one pass
// over it. Stores use it to check or derive their query columns.
func Members(b []byte, fn func(key, raw []byte)) error {
	if len(b) < 2 || b[0] != '{' {
		return errBody
	}
	i := 1
	for i < len(b) {
		if b[i] == '}' {
			return nil
		}
		if b[i] != '"' {
			return errBody
		}
		end := skipString(b, i)
		if end < 0 || end >= len(b) || b[end] != ':' {
			return errBody
		}
		vend := skipValue(b, end+1)
		if vend < 0 {
			return errBody
		}
		fn(b[i+1:end-1], b[end+1:vend])
		i = vend
		if i < len(b) && b[i] == ',' {
			i++
		}
	}
	return errBody
}

// scanChainFields reads previous_hash, record_id, sequence and the indexed
// fields from the top level of a canonical record body without decoding the
// rest. previous_hash and record_id are returned without their quotes; the
// chain's hex hashes and UUIDs contain no escapes.
func scanChainFields(b []byte) (chainFields, error) {
	var f chainFields
	badSequence := false
	err := Members(b, func(key, val []byte) {
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
		case "commitments":
			f.commitments = val
		case "canonical_version":
			f.version = val
		case "sequence":
			n, err := strconv.ParseUint(string(val), 10, 64)
			if err != nil {
				badSequence = true
				return
			}
			f.sequence, f.hasSequence = n, true
		}
	})
	if err == nil && badSequence {
		err = errBody
	}
	return f, err
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
		// Two byte searches (vectorised) rather than one over a set of
		// two bytes (a byte at a time): strings rarely hold escapes.
		j := bytes.IndexByte(b[i:], '"')
		if j < 0 {
			return -1
		}
		k := bytes.IndexByte(b[i:i+j], '\\')
		if k < 0 {
			return i + j + 1
		}
		i += k + 2 // backslash and the escaped byte
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

// ChainFields reads the members of a stored body that link it into the
// chain — its sequence, previous_hash and record_id — without decoding
// the rest, as verification does.
func ChainFields(body []byte) (seq uint64, previousHash, recordID string, err error) {
	f, err := scanChainFields(body)
	if err != nil {
		return 0, "", "", err
	}
	if !f.hasSequence {
		return 0, "", "", errBody
	}
	return f.sequence, string(f.previousHash), string(f.recordID), nil
}
