// Package token keeps the API tokens of a trail's servers (the HTTP API
// and the MCP server over HTTP): random bearer tokens, each with a name, a
// role and an optional expiry, shown once when created and stored only as
// a SHA-256 hash in the trail's directory (tokens.json, mode 0600) — never
// in the store and never in the trail's records. A revoked or expired
// token is refused.
//
// A token reads "amiat_<id>_<secret>": the id (12 hex digits) finds the
// entry, the secret (32 random bytes, base64url) proves the caller holds
// it. Whoever reads tokens.json learns names, roles and ids, but cannot
// make a token that passes.
package token

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ami-orchestrator/ami-audit/internal/atomicfile"
)

// File is the name of the token file in the trail's directory.
const File = "tokens.json"

// prefix starts every token.
const prefix = "amiat_"

// Role is what a token may do.
type Role string

// Roles. Each includes reading the trail (records, queries, the live
// feed, checkpoints and proofs, health).
const (
	// Reader reads.
	Reader Role = "reader"
	// Writer reads and appends (records, collections).
	Writer Role = "writer"
	// Verifier reads and verifies the whole trail.
	Verifier Role = "verifier"
	// Admin may do everything.
	Admin Role = "admin"
)

// Roles lists the roles, least first.
var Roles = []Role{Reader, Writer, Verifier, Admin}

// Permission is one kind of operation a route or tool needs.
type Permission string

// Permissions.
const (
	Read   Permission = "read"
	Append Permission = "append"
	Verify Permission = "verify"
)

// Allows reports whether the role grants p.
func (r Role) Allows(p Permission) bool {
	switch r {
	case Admin:
		return true
	case Writer:
		return p == Read || p == Append
	case Verifier:
		return p == Read || p == Verify
	case Reader:
		return p == Read
	}
	return false
}

// ParseRole parses a role name.
func ParseRole(s string) (Role, error) {
	r := Role(strings.ToLower(strings.TrimSpace(s)))
	if !slices.Contains(Roles, r) {
		return "", fmt.Errorf("unknown role %q (want reader, writer, verifier or admin)", s)
	}
	return r, nil
}

// Entry is a token as stored: everything but the secret.
type Entry struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Role    Role      `json:"role"`
	Hash    string    `json:"sha256"` // of the whole token
	Created time.Time `json:"created"`
	Expires time.Time `json:"expires,omitzero"`
	Revoked time.Time `json:"revoked,omitzero"`
}

// Active reports whether the token may be used at now.
func (e *Entry) Active(now time.Time) bool {
	return e.Revoked.IsZero() && (e.Expires.IsZero() || now.Before(e.Expires))
}

// Identity is who an authenticated request comes from.
type Identity struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Role Role   `json:"role"`
}

// Errors of authentication. ErrInvalid covers a token that is malformed,
// unknown or does not match; the caller is not told which.
var (
	ErrInvalid = errors.New("invalid token")
	ErrExpired = errors.New("token expired")
	ErrRevoked = errors.New("token revoked")
)

// Set is the token file of one trail directory.
type Set struct {
	path string

	mu      sync.Mutex
	entries []Entry
	loaded  time.Time // when the file was last read
	modTime time.Time // the file's modification time then
	size    int64     // and size
	now     func() time.Time
}

// Open returns the token set of the trail in dir (empty when the file does
// not exist yet). A token file that others may read is refused.
func Open(dir string) (*Set, error) {
	s := &Set{path: filepath.Join(dir, File), now: time.Now}
	if err := s.reload(true); err != nil {
		return nil, err
	}
	return s, nil
}

// Path is the token file.
func (s *Set) Path() string { return s.path }

// reload reads the file when it changed (or when force).
func (s *Set) reload(force bool) error {
	fi, err := os.Stat(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		s.entries, s.modTime, s.size = nil, time.Time{}, 0
		return nil
	}
	if err != nil {
		return err
	}
	if !force && fi.ModTime().Equal(s.modTime) && fi.Size() == s.size {
		return nil
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("%s is readable by group or others (mode %04o); run: chmod 600 %s", s.path, fi.Mode().Perm(), s.path)
	}
	b, err := os.ReadFile(s.path)
	if err != nil {
		return err
	}
	var f struct {
		Tokens []Entry `json:"tokens"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return fmt.Errorf("%s: %w", s.path, err)
	}
	s.entries, s.modTime, s.size = f.Tokens, fi.ModTime(), fi.Size()
	return nil
}

// List returns the tokens, oldest first.
func (s *Set) List() ([]Entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.reload(true); err != nil {
		return nil, err
	}
	return slices.Clone(s.entries), nil
}

// CreateOptions describe a new token.
type CreateOptions struct {
	Name string
	Role Role
	// TTL, when positive, makes the token expire that long after now.
	TTL time.Duration
}

// Create makes a token, stores its hash and returns the token itself: the
// only time it is ever shown.
func (s *Set) Create(o CreateOptions) (string, Entry, error) {
	if o.Name == "" || strings.ContainsAny(o.Name, "\n\r\t") || len(o.Name) > 200 {
		return "", Entry{}, fmt.Errorf("token name %q: give a short name, on one line", o.Name)
	}
	if _, err := ParseRole(string(o.Role)); err != nil {
		return "", Entry{}, err
	}
	var id [6]byte
	var secret [32]byte
	rand.Read(id[:])
	rand.Read(secret[:])
	tok := prefix + hex.EncodeToString(id[:]) + "_" + base64.RawURLEncoding.EncodeToString(secret[:])
	now := s.now().UTC().Truncate(time.Second)
	e := Entry{ID: hex.EncodeToString(id[:]), Name: o.Name, Role: o.Role, Hash: hashOf(tok), Created: now}
	if o.TTL > 0 {
		e.Expires = now.Add(o.TTL)
	}
	err := s.update(func(entries []Entry) ([]Entry, error) {
		for _, x := range entries {
			if x.Name == o.Name && x.Active(now) {
				return nil, fmt.Errorf("an active token named %q exists (id %s); revoke it first, or choose another name", o.Name, x.ID)
			}
		}
		return append(entries, e), nil
	})
	if err != nil {
		return "", Entry{}, err
	}
	return tok, e, nil
}

// Revoke revokes the token with that id, or the active token with that
// name.
func (s *Set) Revoke(idOrName string) (Entry, error) {
	var out Entry
	now := s.now().UTC().Truncate(time.Second)
	err := s.update(func(entries []Entry) ([]Entry, error) {
		for i := range entries {
			e := &entries[i]
			if e.ID == idOrName || (e.Name == idOrName && e.Revoked.IsZero()) {
				if !e.Revoked.IsZero() {
					return nil, fmt.Errorf("token %s (%s) was revoked on %s", e.ID, e.Name, e.Revoked.Format(time.RFC3339))
				}
				e.Revoked = now
				out = *e
				return entries, nil
			}
		}
		return nil, fmt.Errorf("no token with id or name %q", idOrName)
	})
	return out, err
}

// update rewrites the file with what change makes of its entries,
// atomically and with mode 0600.
func (s *Set) update(change func([]Entry) ([]Entry, error)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.reload(true); err != nil {
		return err
	}
	entries, err := change(slices.Clone(s.entries))
	if err != nil {
		return err
	}
	b, err := json.MarshalIndent(struct {
		Note   string  `json:"note"`
		Tokens []Entry `json:"tokens"`
	}{"API tokens of this trail's servers, as SHA-256 hashes: 'ami-audit token create|list|revoke'", entries}, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.Write(s.path, append(b, '\n'), 0o600); err != nil {
		return err
	}
	return s.reload(true)
}

// Authenticate checks a bearer token: it must be well formed, known,
// match its stored hash, and be neither revoked nor expired. Changes of
// the file (a token revoked by another process) are seen within a second.
func (s *Set) Authenticate(tok string) (Identity, error) {
	rest, ok := strings.CutPrefix(tok, prefix)
	if !ok {
		return Identity{}, ErrInvalid
	}
	id, _, ok := strings.Cut(rest, "_")
	if !ok || len(id) != 12 {
		return Identity{}, ErrInvalid
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if now.Sub(s.loaded) >= time.Second {
		if err := s.reload(false); err != nil {
			return Identity{}, err
		}
		s.loaded = now
	}
	h := hashOf(tok)
	for i := range s.entries {
		e := &s.entries[i]
		if e.ID != id {
			continue
		}
		if subtle.ConstantTimeCompare([]byte(h), []byte(e.Hash)) != 1 {
			return Identity{}, ErrInvalid
		}
		switch {
		case !e.Revoked.IsZero():
			return Identity{}, ErrRevoked
		case !e.Expires.IsZero() && !now.Before(e.Expires):
			return Identity{}, ErrExpired
		}
		return Identity{ID: e.ID, Name: e.Name, Role: e.Role}, nil
	}
	return Identity{}, ErrInvalid
}

func hashOf(tok string) string {
	sum := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(sum[:])
}
