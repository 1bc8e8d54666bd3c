package collect

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/ami-orchestrator/ami-audit/internal/usererr"
	"github.com/ami-orchestrator/ami-audit/secrets"
)

// FingerprintKeyFile holds the trail's key for secret fingerprints.
const FingerprintKeyFile = "fingerprint.key"

// fingerprintKeyHeader starts the fingerprint key file.
const fingerprintKeyHeader = "# ami-audit secret-fingerprint key: keep it private, give it to every machine collecting into this trail\n"

// NewDetector builds the one detector every record passes before it is
// appended, with the trail's fingerprint key (created in dir when missing,
// mode 0600) and the gitleaks rules of gitleaksConfig (empty: gitleaks'
// own).
func NewDetector(dir, gitleaksConfig string) (*secrets.Detector, error) {
	key, err := FingerprintKey(dir)
	if err != nil {
		return nil, err
	}
	d, err := secrets.New(secrets.Config{GitleaksConfig: gitleaksConfig, FingerprintKey: key})
	if err != nil {
		return nil, usererr.WithHint(err, "check --gitleaks-config")
	}
	return d, nil
}

// FingerprintKey reads the fingerprint key of the trail in dir, creating
// it when there is none. Like a private key, it is refused when others may
// read it: whoever holds it can test guesses of a masked secret.
func FingerprintKey(dir string) ([]byte, error) {
	path := filepath.Join(dir, FingerprintKeyFile)
	for range 2 {
		fi, err := os.Stat(path)
		if errors.Is(err, fs.ErrNotExist) {
			if err := writeFingerprintKey(dir, path); err != nil && !errors.Is(err, fs.ErrExist) {
				return nil, fmt.Errorf("fingerprint key: %w", err)
			}
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("fingerprint key: %w", err)
		}
		if fi.Mode().Perm()&0o077 != 0 {
			return nil, usererr.WithHint(fmt.Errorf("%s is readable by group or others (mode %04o)", path, fi.Mode().Perm()), "run: chmod 600 "+path)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("fingerprint key: %w", err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			line = strings.TrimSpace(line)
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			key, err := base64.StdEncoding.DecodeString(line)
			if err != nil || len(key) < secrets.MinKeySize {
				break
			}
			return key, nil
		}
		return nil, fmt.Errorf("%s: not a fingerprint key (want one line of base64, at least %d bytes)", path, secrets.MinKeySize)
	}
	return nil, fmt.Errorf("fingerprint key %s could not be created", path)
}

// writeFingerprintKey writes a new key to path, atomically: the key is
// written to a temporary file and linked into place, so that a process
// reading it never sees it half written, and two processes creating it
// at once agree on one.
func writeFingerprintKey(dir, path string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var key [32]byte
	rand.Read(key[:])
	f, err := os.CreateTemp(dir, ".fingerprint-*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := f.Chmod(0o600); err == nil {
		_, err = f.WriteString(fingerprintKeyHeader + base64.StdEncoding.EncodeToString(key[:]) + "\n")
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Link(tmp, path)
}
