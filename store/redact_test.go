package store

import (
	"errors"
	"strings"
	"testing"
)

func TestRedact(t *testing.T) {
	for _, tc := range []struct{ in, secret, keep string }{
		{"postgres://u:TopSecretPW@db:5432/audit", "TopSecretPW", "postgres://u:xxxxx@db:5432/audit"},
		{"postgres://u@db/audit?sslmode=disable&password=TopSecretPW", "TopSecretPW", "sslmode=disable"},
		{"postgres://u@db/audit?pass%77ord=TopSecretPW", "TopSecretPW", "postgres://u@db/audit"},
		{"postgres://u:p%40ss%2FTopSecretPW@db/audit", "TopSecretPW", "postgres://u:xxxxx@db/audit"},
		{"postgres://u:Top%zzSecretPW@db/audit", "SecretPW", "@db/audit"}, // does not parse
		{"redis://:TopSecretPW@cache:6379/0", "TopSecretPW", "redis://:xxxxx@cache:6379/0"},
		{"rediss://default:TopSecretPW@cache:6380/1", "TopSecretPW", "cache:6380/1"},
		{"host=db user=u password=TopSecretPW dbname=audit", "TopSecretPW", "host=db user=u"},
		{"host=db password='Top Secret PW' dbname=audit", "Secret", "dbname=audit"},
		{"sqlite:.audit/audit.db", "", "sqlite:.audit/audit.db"},
		{"postgres://u@db/audit", "", "postgres://u@db/audit"},
	} {
		got := Redact(tc.in)
		if tc.secret != "" && strings.Contains(got, tc.secret) {
			t.Errorf("Redact(%q) = %q keeps the password", tc.in, got)
		}
		if !strings.Contains(got, tc.keep) {
			t.Errorf("Redact(%q) = %q, want it to keep %q", tc.in, got, tc.keep)
		}
		if tc.secret == "" && got != tc.in {
			t.Errorf("Redact(%q) = %q, want it unchanged", tc.in, got)
		}
	}
}

func TestStripCredentials(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://u:TopSecretPW@db:5432/audit?sslmode=disable": "postgres://u@db:5432/audit?sslmode=disable",
		"postgres://u@db/audit?password=TopSecretPW&schema=s":    "postgres://u@db/audit?schema=s",
		"postgres://u@db/audit":                                  "postgres://u@db/audit",
	} {
		got, found := StripCredentials(in)
		if got != want || found != (in != want) {
			t.Errorf("StripCredentials(%q) = %q, %v; want %q", in, got, found, want)
		}
	}
}

func TestRedactError(t *testing.T) {
	loc := "postgres://u:p%40ssTop@db/audit?password=Other%2FPW"
	base := errors.New("cannot parse `postgres://u:p%40ssTop@db/audit?password=Other%2FPW`: failed; user u password p@ssTop; Other/PW")
	err := RedactError(base, loc)
	for _, s := range []string{"p@ssTop", "p%40ssTop", "Other/PW", "Other%2FPW"} {
		if strings.Contains(err.Error(), s) {
			t.Errorf("%q keeps %q", err, s)
		}
	}
	if !errors.Is(err, base) {
		t.Error("the cause is lost")
	}
}
