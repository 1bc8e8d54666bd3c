package token

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestCreateAuthenticateRevoke(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s.now = func() time.Time { return now }
	tok, e, err := s.Create(CreateOptions{Name: "ci", Role: Writer, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tok, "amiat_"+e.ID+"_") {
		t.Fatalf("token %q does not carry its id %s", tok, e.ID)
	}
	b, err := os.ReadFile(filepath.Join(dir, File))
	if err != nil {
		t.Fatal(err)
	}
	secret := tok[len("amiat_")+12+1:] // amiat_<id>_<secret>: the secret may hold "_" too
	if strings.Contains(string(b), secret) {
		t.Fatal("the token file holds the token's secret")
	}
	if fi, _ := os.Stat(filepath.Join(dir, File)); fi.Mode().Perm() != 0o600 {
		t.Errorf("token file mode %04o, want 0600", fi.Mode().Perm())
	}
	id, err := s.Authenticate(tok)
	if err != nil || id.Name != "ci" || id.Role != Writer {
		t.Fatalf("Authenticate: %+v, %v", id, err)
	}
	// Another process (another Set) sees the same file.
	other, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	other.now = s.now
	if _, err := other.Authenticate(tok); err != nil {
		t.Fatalf("a second reader: %v", err)
	}
	for _, bad := range []string{"", "amiat_", tok + "x", strings.Replace(tok, secret[:4], "AAAA", 1), "Bearer " + tok, "amiat_000000000000_" + secret} {
		if _, err := s.Authenticate(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("Authenticate(%q) = %v, want ErrInvalid", bad, err)
		}
	}
	// A second active token of the same name is refused.
	if _, _, err := s.Create(CreateOptions{Name: "ci", Role: Reader}); err == nil {
		t.Error("a second active token named ci was created")
	}
	// Expiry.
	now = now.Add(time.Hour)
	if _, err := s.Authenticate(tok); !errors.Is(err, ErrExpired) {
		t.Errorf("after its TTL: %v, want ErrExpired", err)
	}
	now = now.Add(-time.Minute)
	// Revocation, seen by the other reader within a second.
	if _, err := s.Revoke("ci"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(tok); !errors.Is(err, ErrRevoked) {
		t.Errorf("revoked: %v, want ErrRevoked", err)
	}
	other.now = func() time.Time { return now.Add(2 * time.Second) }
	if _, err := other.Authenticate(tok); !errors.Is(err, ErrRevoked) {
		t.Errorf("revoked, seen by another reader: %v, want ErrRevoked", err)
	}
	if _, err := s.Revoke(e.ID); err == nil {
		t.Error("revoking twice succeeded")
	}
	// A token file others may read is refused.
	os.Chmod(filepath.Join(dir, File), 0o644)
	if _, err := Open(dir); err == nil {
		t.Error("a token file readable by others was accepted")
	}
}

func TestRoles(t *testing.T) {
	want := map[Role][]Permission{
		Reader:   {Read},
		Writer:   {Read, Append},
		Verifier: {Read, Verify},
		Admin:    {Read, Append, Verify},
	}
	for role, perms := range want {
		for _, p := range []Permission{Read, Append, Verify} {
			allowed := false
			for _, q := range perms {
				allowed = allowed || q == p
			}
			if role.Allows(p) != allowed {
				t.Errorf("%s.Allows(%s) = %v, want %v", role, p, role.Allows(p), allowed)
			}
		}
	}
	if _, err := ParseRole("root"); err == nil {
		t.Error("ParseRole(root) succeeded")
	}
}
