// Package keys reads and writes Ed25519 signing keys. Keys are stored in the
// text forms of C2SP signed notes (golang.org/x/mod/sumdb/note): a private
// key file holds "PRIVATE+KEY+<name>+<hash>+<base64>", a public key file
// "<name>+<hash>+<base64>". Private keys are written with mode 0600 and
// refused when the group or others may read them.
package keys

import (
	"crypto/rand"
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
	s, err := note.NewSigner(strings.TrimSpace(string(b)))
	if err != nil {
		// The key text itself is never echoed.
		return nil, fmt.Errorf("%s: not a private signing key (want the PRIVATE+KEY+… file written by 'ami-audit keygen')", path)
	}
	return s, nil
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
