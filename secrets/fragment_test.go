package secrets

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"testing"
)

func TestFindFragment(t *testing.T) {
	d := testDetector(t)
	ctx := t.Context()
	gh := "ghp_1A2b3C4d5E6f7G8h9I0j1K2l3M4n5O6p7Q8r"

	// Lines count from the fragment's start line; offsets point at the secret.
	text := "first line\nGITHUB_TOKEN=" + gh + "\n"
	ms := d.FindFragment(ctx, Fragment{Text: text, Path: "ci/env", StartLine: 41})
	if len(ms) != 1 || ms[0].RuleID != "github-pat" || ms[0].Line != 42 || text[ms[0].Start:ms[0].End] != gh ||
		ms[0].Fingerprint != Fingerprint(testKey, gh) || ms[0].PathOnly {
		t.Fatalf("matches %+v", ms)
	}
	// gitleaks:allow on the line: skipped.
	if ms := d.FindFragment(ctx, Fragment{Text: "TOKEN=" + gh + " # gitleaks:allow\n", Path: "a"}); len(ms) != 0 {
		t.Errorf("gitleaks:allow line reported: %+v", ms)
	}
	// Encoded secrets are decoded, as the gitleaks command does; Find does not decode.
	enc := "blob: " + base64.StdEncoding.EncodeToString([]byte("token "+gh)) + "\n"
	if ms := d.FindFragment(ctx, Fragment{Text: enc, Path: "a"}); len(ms) != 1 || ms[0].Fingerprint != Fingerprint(testKey, gh) || ms[0].Line != 1 {
		t.Errorf("base64-encoded token: %+v", ms)
	}
	if ms := d.Find(enc); len(ms) != 0 {
		t.Errorf("Find decoded: %+v", ms)
	}
	// One match per secret: gitleaks' rule wins over ami-audit's own when
	// both find it (a private key: private-key and private-key-block).
	key := "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gunVTLw\n7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u+qKhbwKfBstIs+bMY2Zkp18gnTxKLxoS2tFczGkPLPgizskuemMghRniWaoLcyehkd3qqGElvW/VDL5AaWTg0nLVkjRo9z+40RQzuVaE8AkAFmxZzow3x+VJYKdjykkJ0iT9wCS0DRTXu269V264Vf/3jvredZiKRkgwlL9xNAwxXFg0x/XFw005UWVRIkdgcKWTjpBP2dPwVZ4WWC+9aGVd+Gyn1o0CLelf4rEjGoXbAAEgAqeGUxrcIlbjXfbcmwIDAQAB\n-----END RSA PRIVATE KEY-----\n"
	if ms := d.FindFragment(ctx, Fragment{Text: key, Path: "id_rsa"}); len(ms) != 1 || ms[0].RuleID != "private-key" {
		t.Errorf("private key: %+v", ms)
	}
	// ami-audit's own rules apply too.
	if ms := d.FindFragment(ctx, Fragment{Text: "DATABASE_URL=postgres://admin:Sup3rPw9x@db/app\n", Path: "a"}); len(ms) != 1 || ms[0].RuleID != "url-credentials" {
		t.Errorf("url credentials: %+v", ms)
	}

	// A configuration's path and commit allowlists apply.
	dir := t.TempDir()
	cfg := filepath.Join(dir, ".gitleaks.toml")
	os.WriteFile(cfg, []byte(`
[extend]
useDefault = true
[allowlist]
paths = ['''(^|/)testdata/''']
commits = ["0123456789abcdef0123456789abcdef01234567"]
[[rules]]
id = "acme-keystore"
description = "an ACME keystore"
path = '''\.acmekeys$'''
`), 0o644)
	dc, err := New(Config{GitleaksConfig: cfg, FingerprintKey: testKey})
	if err != nil {
		t.Fatal(err)
	}
	line := "GITHUB_TOKEN=" + gh + "\n"
	for _, tc := range []struct {
		f    Fragment
		want int
	}{
		{Fragment{Text: line, Path: "src/env"}, 1},
		{Fragment{Text: line, Path: "pkg/testdata/env"}, 0},
		{Fragment{Text: line, Path: "src/env", Commit: "0123456789abcdef0123456789abcdef01234567"}, 0},
		{Fragment{Text: line, Path: "src/env", Commit: "fedcba9876543210fedcba9876543210fedcba98"}, 1},
	} {
		if got := len(dc.FindFragment(ctx, tc.f)); got != tc.want {
			t.Errorf("%s at %q: %d findings, want %d", tc.f.Path, tc.f.Commit, got, tc.want)
		}
	}
	if !dc.Allowlisted("pkg/testdata/key.pem", "") || dc.Allowlisted("src/key.pem", "") ||
		!dc.Allowlisted("src/key.pem", "0123456789abcdef0123456789abcdef01234567") || d.Allowlisted("pkg/testdata/key.pem", "") {
		t.Error("Allowlisted disagrees with the configuration's allowlists")
	}
	// A path rule alone: one PathOnly match.
	ms = dc.FindFragment(ctx, Fragment{Text: "\x00binary", Path: "certs/client.acmekeys"})
	if len(ms) != 1 || !ms[0].PathOnly || ms[0].RuleID != "acme-keystore" || ms[0].Line != 0 {
		t.Errorf("path rule: %+v", ms)
	}
	if ms := d.FindFragment(ctx, Fragment{}); ms != nil {
		t.Errorf("empty fragment: %+v", ms)
	}
}
