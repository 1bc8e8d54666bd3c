package secrets

import (
	"bytes"
	"crypto/x509"
)

// privateKeyHead is how much of a file IsPrivateKey looks at for a text
// key's first line.
const privateKeyHead = 1024

// maxDERKey is the largest binary (DER) key IsPrivateKey tries to parse.
const maxDERKey = 16 << 10

// textKeyHeads start the first line of a private key file in text form.
var textKeyHeads = [][]byte{
	[]byte("PRIVATE+KEY+"),           // C2SP signed-note key (ami-audit's own log.key)
	[]byte("PuTTY-User-Key-File-"),   // PuTTY .ppk
	[]byte("AGE-SECRET-KEY-1"),       // age identity
	[]byte("-----BEGIN PGP PRIVATE"), // OpenPGP secret key block
}

// IsPrivateKey reports whether content is a private key file: a C2SP
// signed-note private key, a PEM private key of any kind (PKCS#1 RSA, EC,
// DSA, PKCS#8, ENCRYPTED, OPENSSH), an OpenPGP secret key block, a PuTTY
// key, an age identity, or a binary (DER) PKCS#1, PKCS#8 or EC private
// key. A text key's header must start the first line that is not a
// preamble: blank lines, comments (#) and the attribute lines openssl
// writes before a key (Bag Attributes, indented lines) may precede it,
// within the first KiB. content may be a file's first bytes only. Text
// that quotes a key after other text (a log, a document) is not a key
// file: masking handles that.
func IsPrivateKey(content []byte) bool {
	if len(content) == 0 {
		return false
	}
	if content[0] == 0x30 && len(content) <= maxDERKey && isDERKey(content) {
		return true
	}
	head := content[:min(len(content), privateKeyHead)]
	for len(head) > 0 {
		line := head
		if i := bytes.IndexByte(head, '\n'); i >= 0 {
			line, head = head[:i], head[i+1:]
		} else {
			head = nil
		}
		line = bytes.TrimRight(bytes.TrimPrefix(line, []byte("\ufeff")), "\r")
		switch {
		case isKeyHeader(line):
			return true
		case isPreamble(line):
			continue
		}
		return false
	}
	return false
}

// isPreamble reports whether line may stand before a key's header.
func isPreamble(line []byte) bool {
	t := bytes.TrimSpace(line)
	return len(t) == 0 || t[0] == '#' || line[0] == ' ' || line[0] == '\t' ||
		bytes.HasPrefix(t, []byte("Bag Attributes")) || bytes.HasPrefix(t, []byte("Key Attributes")) ||
		bytes.HasPrefix(t, []byte("subject=")) || bytes.HasPrefix(t, []byte("issuer="))
}

func isKeyHeader(line []byte) bool {
	for _, h := range textKeyHeads {
		if bytes.HasPrefix(line, h) {
			return true
		}
	}
	// -----BEGIN [kind ]PRIVATE KEY-----
	rest, ok := bytes.CutPrefix(line, []byte("-----BEGIN "))
	if !ok {
		return false
	}
	end := bytes.Index(rest, []byte("-----"))
	if end < 0 || end > 100 {
		return false
	}
	return bytes.HasSuffix(rest[:end], []byte("PRIVATE KEY"))
}

func isDERKey(b []byte) bool {
	if _, err := x509.ParsePKCS8PrivateKey(b); err == nil {
		return true
	}
	if _, err := x509.ParsePKCS1PrivateKey(b); err == nil {
		return true
	}
	_, err := x509.ParseECPrivateKey(b)
	return err == nil
}
