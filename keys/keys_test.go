package keys

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestGenerateWritesPrivateKey0600(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	dir := t.TempDir()
	priv, pub := filepath.Join(dir, "alice.key"), filepath.Join(dir, "alice.pub")
	vkey, err := Generate("alice", priv, pub)
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(priv)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("private key mode %04o, want 0600", fi.Mode().Perm())
	}
	s, err := LoadSigner(priv)
	if err != nil || s.Name() != "alice" {
		t.Fatalf("LoadSigner = %v, %v", s, err)
	}
	v, err := LoadVerifier(pub)
	if err != nil || v.KeyHash() != s.KeyHash() || !strings.HasPrefix(vkey, "alice+") {
		t.Fatalf("LoadVerifier = %v, %v", v, err)
	}
	if _, err := Generate("alice", priv, pub); !errors.Is(err, ErrExists) {
		t.Errorf("second Generate = %v, want ErrExists", err)
	}
}

func TestLoadSignerRefusesExposedKey(t *testing.T) {
	dir := t.TempDir()
	priv := filepath.Join(dir, "k.key")
	if _, err := Generate("k", priv, filepath.Join(dir, "k.pub")); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []os.FileMode{0o640, 0o604, 0o644} {
		os.Chmod(priv, mode)
		_, err := LoadSigner(priv)
		if !errors.Is(err, ErrExposed) || !strings.Contains(err.Error(), "chmod 600") {
			t.Errorf("mode %04o: err = %v, want ErrExposed with a hint", mode, err)
		}
		if err != nil && strings.Contains(err.Error(), "PRIVATE+KEY") {
			t.Error("error shows the key")
		}
	}
}

func TestLoadVerifierRefusesPrivateKey(t *testing.T) {
	dir := t.TempDir()
	priv := filepath.Join(dir, "k.key")
	Generate("k", priv, filepath.Join(dir, "k.pub"))
	_, err := LoadVerifier(priv)
	if err == nil || strings.Contains(err.Error(), "PRIVATE+KEY+k") {
		t.Fatalf("err = %v", err)
	}
}

func TestLoadTrusted(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"a", "b"} {
		if _, err := Generate(n, filepath.Join(t.TempDir(), n+".key"), filepath.Join(dir, n+".pub")); err != nil {
			t.Fatal(err)
		}
	}
	vs, err := LoadTrusted(dir, filepath.Join(dir, "a.pub"))
	if err != nil || len(vs) != 2 {
		t.Fatalf("LoadTrusted = %d keys, %v; want 2 (a duplicate counts once)", len(vs), err)
	}
	if _, err := LoadTrusted(t.TempDir()); err == nil {
		t.Error("empty directory accepted")
	}
	if ValidName("a b") || ValidName("a+b") || ValidName("") || !ValidName("ci-bot@example.com") {
		t.Error("ValidName wrong")
	}
}

func TestLoadKeyHalvesAndDerive(t *testing.T) {
	dir := t.TempDir()
	for i := range 20 { // base64 key text holds '+' now and then
		priv, pub := filepath.Join(dir, fmt.Sprint(i, ".key")), filepath.Join(dir, fmt.Sprint(i, ".pub"))
		vkey, err := Generate(fmt.Sprint("k", i), priv, pub)
		if err != nil {
			t.Fatal(err)
		}
		k, err := LoadKey(priv)
		if err != nil {
			t.Fatal(err)
		}
		if k.VerifierKey() != vkey {
			t.Fatalf("public half %q, want %q", k.VerifierKey(), vkey)
		}
		msg := []byte("hello")
		sig, err := k.Signer.Sign(msg)
		if err != nil || !k.Verifier.Verify(msg, sig) {
			t.Fatal("the verifier does not verify the signer's signature")
		}
		a, b := k.Derive("cache"), k.Derive("fingerprints")
		if bytes.Equal(a, b) || len(a) != 32 || !bytes.Equal(a, k.Derive("cache")) {
			t.Fatal("derived keys are not distinct, stable and 32 bytes")
		}
	}
}

func TestValidFileName(t *testing.T) {
	for name, want := range map[string]bool{
		"alice": true, "ci-bot.prod": true, "a_b": true,
		"../evil": false, "..": false, "a..b": false, "dir/alice": false, `dir\alice`: false, "/etc/x": false,
		"": false, "a b": false, "a+b": false,
	} {
		if got := ValidFileName(name); got != want {
			t.Errorf("ValidFileName(%q) = %v, want %v", name, got, want)
		}
	}
}
