package secrets

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"golang.org/x/mod/sumdb/note"
)

var testKey = []byte("0123456789abcdef-test-key")

var (
	detOnce sync.Once
	det     *Detector
)

func testDetector(t testing.TB) *Detector {
	t.Helper()
	detOnce.Do(func() {
		d, err := New(Config{FingerprintKey: testKey})
		if err != nil {
			t.Fatal(err)
		}
		det = d
	})
	if det == nil {
		t.Fatal("no detector")
	}
	return det
}

// TestOwnRules checks every example each of ami-audit's rules ships.
func TestOwnRules(t *testing.T) {
	d := testDetector(t)
	for _, r := range ownRules {
		t.Run(r.ID, func(t *testing.T) {
			if len(r.True) == 0 || len(r.False) == 0 {
				t.Fatal("a rule needs true and false examples")
			}
			for _, ex := range r.True {
				ms := d.Find(ex.Text)
				found := false
				for _, m := range ms {
					if ex.Text[m.Start:m.End] == ex.Secret {
						found = true
					}
				}
				if !found {
					t.Errorf("%q: secret %q not found (matches %v)", ex.Text, ex.Secret, ms)
				}
				if masked := d.Mask(ex.Text); strings.Contains(masked, ex.Secret) {
					t.Errorf("%q masked to %q still holds the secret", ex.Text, masked)
				}
			}
			for _, text := range r.False {
				for _, m := range d.Find(text) {
					if m.RuleID == r.ID {
						t.Errorf("%q: found %q by %s", text, text[m.Start:m.End], m.RuleID)
					}
				}
			}
		})
	}
}

// The secrets the trail must never hold, in the forms they reach it.
var planted = []struct{ name, text, secret, rule string }{
	{"aws key id", "uploading with AKIAZ3MSJV4WRUWMW4YJ to s3", "AKIAZ3MSJV4WRUWMW4YJ", "aws-access-token"},
	{"aws secret", "aws_secret_access_key = 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", "Zx9kQ2mP7vL4nR8tY3wB6cJ1hF5gD0sA2eK9uI7o", ""},
	{"pem", "loaded key -----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gunVTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u\n-----END RSA PRIVATE KEY-----", "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gunVTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u", ""},
	{"postgres url", "connect postgres://admin:S3cret@db.example.com/app failed", "S3cret", "url-credentials"},
	{"bearer", "Authorization: Bearer abcdef0123456789abcdefXYZ", "abcdef0123456789abcdefXYZ", "authorization-header"},
	{"github token", "token ghp_1A2b3C4d5E6f7G8h9I0j1K2l3M4n5O6p7Q8r used", "ghp_1A2b3C4d5E6f7G8h9I0j1K2l3M4n5O6p7Q8r", "github-pat"},
	{"slack webhook", "post to https://hooks.slack.com/services/T0AB1CD2E/B0FG3HI4J/aBcDeFgHiJkLmNoPqRsTuVwX now", "aBcDeFgHiJkLmNoPqRsTuVwX", "slack-webhook-url"},
	{"slack token", "bot xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx", "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx", "slack-bot-token"},
	{"json token", `{"msg":"login","token":"a8f5f167f44f4964e6c998dee827110c"}`, "a8f5f167f44f4964e6c998dee827110c", ""},
	{"note key", "PRIVATE+KEY+ami-audit.local/x+1a2b3c4d+AYH0E7p7sGdrZf9sIbbPw5Eq9UXbqB0HWc8HX2y8WuQS", "AYH0E7p7sGdrZf9sIbbPw5Eq9UXbqB0HWc8HX2y8WuQS", "note-private-key"},
	{"query password", "dsn postgres://u@db/app?password=TopSecretPW&sslmode=disable", "TopSecretPW", ""},
}

var markerPat = regexp.MustCompile(`\[REDACTED ([A-Za-z0-9._-]+) fp:([0-9a-f]{8})\]`)

func TestMaskPlanted(t *testing.T) {
	d := testDetector(t)
	for _, p := range planted {
		t.Run(p.name, func(t *testing.T) {
			got := d.Mask(p.text)
			if strings.Contains(got, p.secret) {
				t.Fatalf("Mask(%q) = %q: secret kept", p.text, got)
			}
			m := markerPat.FindStringSubmatch(got)
			if m == nil {
				t.Fatalf("Mask(%q) = %q: no marker", p.text, got)
			}
			if p.rule != "" && m[1] != p.rule {
				t.Errorf("Mask(%q) = %q: kind %s, want %s", p.text, got, m[1], p.rule)
			}
			if again := d.Mask(got); again != got {
				t.Errorf("not idempotent: %q then %q", got, again)
			}
			if d.Mask(p.text) != got {
				t.Error("two masks of one text differ")
			}
		})
	}
}

func TestFingerprint(t *testing.T) {
	d := testDetector(t)
	a := d.Find("id AKIAZ3MSJV4WRUWMW4YJ")
	b := d.Find("other text, same key: AKIAZ3MSJV4WRUWMW4YJ.")
	c := d.Find("id AKIAZ3MSJV4WRUWMW4YK")
	if len(a) != 1 || len(b) != 1 || len(c) != 1 {
		t.Fatalf("matches %v %v %v", a, b, c)
	}
	if a[0].Fingerprint != b[0].Fingerprint {
		t.Errorf("same secret, fingerprints %s and %s", a[0].Fingerprint, b[0].Fingerprint)
	}
	if a[0].Fingerprint == c[0].Fingerprint {
		t.Errorf("different secrets share fingerprint %s", a[0].Fingerprint)
	}
	if a[0].Fingerprint != Fingerprint(testKey, "AKIAZ3MSJV4WRUWMW4YJ") {
		t.Error("Find's fingerprint is not Fingerprint(key, secret)")
	}
	if Fingerprint([]byte("another key of sixteen+"), "AKIAZ3MSJV4WRUWMW4YJ") == a[0].Fingerprint {
		t.Error("the fingerprint does not depend on the key")
	}
	if a[0].Line != 1 || a[0].Column != 4 || a[0].Start != 3 || a[0].End != 23 {
		t.Errorf("location %+v", a[0])
	}
	ml := d.Find("first line\nsecond AKIAZ3MSJV4WRUWMW4YJ")
	if len(ml) != 1 || ml[0].Line != 2 || ml[0].Column != 8 {
		t.Errorf("multi-line location %+v", ml)
	}
}

func TestNothingToMask(t *testing.T) {
	d := testDetector(t)
	for _, s := range []string{"", "src/main.go", "Merge branch 'feature/token-refresh'", "GET /api/v1/users 200 12ms",
		"password: reset", "sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"} {
		if got := d.Mask(s); got != s {
			t.Errorf("Mask(%q) = %q", s, got)
		}
	}
}

func TestNewRefusesShortKey(t *testing.T) {
	if _, err := New(Config{FingerprintKey: []byte("short")}); err == nil {
		t.Fatal("a 5-byte key was accepted")
	}
}

func TestGitleaksConfig(t *testing.T) {
	dir := t.TempDir()
	own := filepath.Join(dir, "own.toml")
	os.WriteFile(own, []byte(`
[[rules]]
id = "acme-key"
description = "ACME key"
regex = '''acme_[0-9a-z]{12}'''
keywords = ["acme_"]
`), 0o644)
	ext := filepath.Join(dir, "extend.toml")
	os.WriteFile(ext, []byte(`
[extend]
useDefault = true
disabledRules = ["github-pat"]
[[rules]]
id = "acme-key"
regex = '''acme_[0-9a-z]{12}'''
keywords = ["acme_"]
`), 0o644)
	bad := filepath.Join(dir, "bad.toml")
	os.WriteFile(bad, []byte("[[rules]]\nid = \"x\"\nregex = '''(unclosed'''\n"), 0o644)

	gh := "ghp_1A2b3C4d5E6f7G8h9I0j1K2l3M4n5O6p7Q8r"
	for _, tc := range []struct {
		path         string
		acme, github bool
	}{{own, true, false}, {ext, true, false}, {"", false, true}} {
		d, err := New(Config{GitleaksConfig: tc.path, FingerprintKey: testKey})
		if err != nil {
			t.Fatal(err)
		}
		if got := len(d.Find("k acme_0123456789ab")) == 1; got != tc.acme {
			t.Errorf("%s: acme found %v", tc.path, got)
		}
		if got := len(d.Find("t "+gh)) == 1; got != tc.github {
			t.Errorf("%s: github token found %v", tc.path, got)
		}
		// ami-audit's rules are always there
		if len(d.Find("postgres://a:Sup3rPw@h/db")) != 1 {
			t.Errorf("%s: url credentials not found", tc.path)
		}
	}
	if _, err := New(Config{GitleaksConfig: bad, FingerprintKey: testKey}); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("bad config: %v", err)
	}
	if _, err := New(Config{GitleaksConfig: filepath.Join(dir, "missing.toml"), FingerprintKey: testKey}); err == nil {
		t.Error("missing config accepted")
	}
}

func TestIsPrivateKey(t *testing.T) {
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 1024)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(edKey)
	ecDER, _ := x509.MarshalECPrivateKey(ecKey)
	pub, _ := x509.MarshalPKIXPublicKey(ecKey.Public())
	skey, vkey, _ := note.GenerateKey(rand.Reader, "ami-audit.local/test")
	pemOf := func(typ string, b []byte) []byte { return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}) }
	yes := map[string][]byte{
		"note":       []byte(skey + "\n"),
		"rsa pem":    pemOf("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaKey)),
		"ec pem":     pemOf("EC PRIVATE KEY", ecDER),
		"pkcs8 pem":  pemOf("PRIVATE KEY", pkcs8),
		"encrypted":  []byte("-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIFHDBOBgkqhkiG9w0BBQ0wQTApBgkqhkiG9w0BBQwwHAQI\n-----END ENCRYPTED PRIVATE KEY-----\n"),
		"dsa":        []byte("-----BEGIN DSA PRIVATE KEY-----\nMIIBuwIBAAKBgQ\n-----END DSA PRIVATE KEY-----\n"),
		"openssh":    []byte("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n-----END OPENSSH PRIVATE KEY-----\n"),
		"putty":      []byte("PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\n"),
		"pgp":        []byte("-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nlQOYBF\n"),
		"age":        []byte("# created: 2024\n# public key: age1xyz\nAGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ\n"),
		"attributes": append([]byte("Bag Attributes\n    localKeyID: 01 02\nKey Attributes: <No Attributes>\n"), pemOf("PRIVATE KEY", pkcs8)...),
		"crlf bom":   []byte("\ufeff-----BEGIN RSA PRIVATE KEY-----\r\nMIIB\r\n"),
		"der pkcs8":  pkcs8,
		"der pkcs1":  x509.MarshalPKCS1PrivateKey(rsaKey),
		"der ec":     ecDER,
	}
	no := map[string][]byte{
		"empty":      nil,
		"public pem": pemOf("PUBLIC KEY", pub),
		"note pub":   []byte(vkey + "\n"),
		"der public": pub,
		"log quoting a key late": append([]byte(strings.Repeat("2024-01-01 INFO all good\n", 60)),
			pemOf("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaKey))...),
		"prose":                []byte("Never commit a -----BEGIN RSA PRIVATE KEY----- block.\n"),
		"log with a key early": []byte("2024-05-01 ERROR loaded key\n-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----\n"),
		"source":               []byte("package keys\n\nconst header = \"PRIVATE+KEY+\"\n"),
	}
	for name, b := range yes {
		if !IsPrivateKey(b) {
			t.Errorf("%s: not recognised as a private key", name)
		}
	}
	for name, b := range no {
		if IsPrivateKey(b) {
			t.Errorf("%s: taken for a private key", name)
		}
	}
}

func TestConcurrentUse(t *testing.T) {
	d := testDetector(t)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for _, p := range planted {
				if strings.Contains(d.Mask(p.text), p.secret) {
					t.Errorf("%s: kept", p.name)
				}
			}
		})
	}
	wg.Wait()
}
