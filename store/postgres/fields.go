package postgres

import (
	"bytes"
)

// jsonText makes canonical JSON acceptable to jsonb, which refuses the
// escaped NUL character: \u0000 becomes U+FFFD in the query copy. The
// body keeps the exact bytes.
func jsonText(raw []byte) []byte {
	if !bytes.Contains(raw, []byte(`\u0000`)) {
		return raw
	}
	return bytes.ReplaceAll(raw, []byte(`\u0000`), []byte(`\ufffd`))
}

// text makes a string acceptable to a text column, which refuses NUL.
func text(s string) string {
	if !containsNUL(s) {
		return s
	}
	return string(bytes.ReplaceAll([]byte(s), []byte{0}, []byte("\uFFFD")))
}

func containsNUL(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			return true
		}
	}
	return false
}
