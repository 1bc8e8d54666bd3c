// Package keys reads and writes Ed25519 signing keys. Keys are stored in the
// text forms of C2SP signed notes (golang.org/x/mod/sumdb/note): a private
// key file holds "PRIVATE+KEY+<name>+<hash>+<base64>", a public key file
// "<name>+<hash>+<base64>". Private keys are written with mode 0600 and
// refused when the group or others may read them.
package keys

import (
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/mod/sumdb/note"
)

// Errors a caller may test for.
var (
	ErrExposed = errors.New("private key is readable by group or others")
	ErrExists  = errors.New("key file already exists")
)

// ValidName reports whether name can name a key: non-empty, no spaces, no
// '+', printable.
func ValidName(name string) bool {
	if name == "" || strings.ContainsAny(name, "+ \t\r\n") {
		return false
	}
	for _, r := range name {
		if r < 0x21 || r == 0x7f {
			return false
		}
	}
	return true
}

// ValidFileName reports whether name can also name a key's files (NAME.key
// and NAME.pub) inside a directory: a ValidName without path separators
// ('/' or '\\') and without "..", so the files cannot land anywhere else.
func ValidFileName(name string) bool {
	return ValidName(name) && !strings.ContainsAny(name, `/\`) && !strings.Contains(name, "..")
}

// Generate creates a key pair named name and writes the private key to
// privPath (mode 0600) and the public key to pubPath (mode 0644). It never
// overwrites an existing file.
func Generate(name, privPath, pubPath string) (vkey string, err error) {
	if !ValidName(name) {
		return "", fmt.Errorf("key name %q: use letters, digits and punctuation other than '+', no spaces", name)
	}
	skey, vkey, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		return "", err
	}
	for _, p := range []string{privPath, pubPath} {
		if _, err := os.Lstat(p); err == nil {
			return "", fmt.Errorf("%s: %w (choose another name or remove it)", p, ErrExists)
		}
	}
	if err := writeExclusive(privPath, skey+"\n", 0o600); err != nil {
		return "", err
	}
	if err := writeExclusive(pubPath, vkey+"\n", 0o644); err != nil {
		os.Remove(privPath)
		return "", err
	}
	return vkey, nil
}

func writeExclusive(path, content string, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s: %w", path, ErrExists)
		}
		return err
	}
	// The umask may have narrowed the mode; a private key must not be wider.
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	if _, err := f.WriteString(content); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// LoadSigner reads a private key, refusing one whose file the group or
// others may read.
func LoadSigner(path string) (note.Signer, error) {
	k, err := LoadKey(path)
	if err != nil {
		return nil, err
	}
	return k.Signer, nil
}

// LoadVerifier reads a public key file.
func LoadVerifier(path string) (note.Verifier, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	text := strings.TrimSpace(string(b))
	if strings.HasPrefix(text, "PRIVATE+KEY+") {
		return nil, fmt.Errorf("%s: this is a private key; give the public key (.pub) instead", path)
	}
	v, err := note.NewVerifier(text)
	if err != nil {
		return nil, fmt.Errorf("%s: not a public key (want the name+hash+key line written by 'ami-audit keygen'): %v", path, err)
	}
	return v, nil
}

// LoadTrusted reads public keys from paths: each a .pub file or a directory
// whose *.pub files are read. Two keys with the same name and hash count
// once.
func LoadTrusted(paths ...string) ([]note.Verifier, error) {
	var out []note.Verifier
	add := func(p string) error {
		v, err := LoadVerifier(p)
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(out, func(o note.Verifier) bool { return o.Name() == v.Name() && o.KeyHash() == v.KeyHash() }) {
			out = append(out, v)
		}
		return nil
	}
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !fi.IsDir() {
			if err := add(p); err != nil {
				return nil, err
			}
			continue
		}
		files, err := filepath.Glob(filepath.Join(p, "*.pub"))
		if err != nil {
			return nil, err
		}
		slices.Sort(files)
		for _, f := range files {
			if err := add(f); err != nil {
				return nil, err
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no public keys (*.pub) found in %s", strings.Join(paths, ", "))
	}
	return out, nil
}

// Key is a loaded private key: the signer, the matching verifier, and the
// secret seed from which purpose-bound keys are derived (see Derive).
type Key struct {
	Signer   note.Signer
	Verifier note.Verifier
	seed     []byte
}

// LoadKey reads a private key like LoadSigner and also returns its public
// half and the means to derive other keys from it.
func LoadKey(path string) (*Key, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%s: %w (mode %04o); run: chmod 600 %s", path, ErrExposed, fi.Mode().Perm(), path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseKey(path, strings.TrimSpace(string(b)))
}

// parseKey reads the text form "PRIVATE+KEY+<name>+<hash>+<base64>" of a
// note private key. The key text never appears in an error.
func parseKey(path, text string) (*Key, error) {
	bad := fmt.Errorf("%s: not a private signing key (want the PRIVATE+KEY+… file written by 'ami-audit keygen')", path)
	s, err := note.NewSigner(text)
	if err != nil {
		return nil, bad
	}
	// The public key: name+hash+base64(0x01 || public key), from the seed.
	parts := strings.SplitN(text, "+", 5)
	if len(parts) != 5 {
		return nil, bad
	}
	raw, err := base64.StdEncoding.DecodeString(parts[4])
	if err != nil || len(raw) != 1+ed25519.SeedSize || raw[0] != 1 {
		return nil, bad
	}
	seed := raw[1:]
	pub := ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)
	vkey, err := note.NewEd25519VerifierKey(s.Name(), pub)
	if err != nil {
		return nil, bad
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, bad
	}
	return &Key{Signer: s, Verifier: v, seed: seed}, nil
}

// VerifierKey is the public key text of k, as a .pub file holds it.
func (k *Key) VerifierKey() string {
	pub := ed25519.NewKeyFromSeed(k.seed).Public().(ed25519.PublicKey)
	vkey, _ := note.NewEd25519VerifierKey(k.Signer.Name(), pub)
	return vkey
}

// Derive returns a 32-byte secret bound to purpose (HKDF-SHA-256 of the
// key's seed): other secrets of a trail, such as the key that
// authenticates cache entries, come from its log key instead of living in
// files of their own. Knowing a derived key reveals nothing of the seed or
// of keys derived for other purposes.
func (k *Key) Derive(purpose string) []byte {
	out, err := hkdf.Key(sha256.New, k.seed, nil, "ami-audit "+purpose, 32)
	if err != nil {
		panic(err) // only for lengths HKDF cannot produce
	}
	return out
}
