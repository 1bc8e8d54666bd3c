package storetest

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
)

// Environment variables the server tests read.
const (
	// EnvPostgres is a PostgreSQL URL the tests may create schemas in,
	// e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable.
	EnvPostgres = "AMI_AUDIT_TEST_POSTGRES"
	// EnvRedis is a Redis URL the tests may write keys to (each test
	// under its own prefix), e.g. redis://127.0.0.1:6379/0.
	EnvRedis = "AMI_AUDIT_TEST_REDIS"
	// EnvRequireServers=1 turns a missing server URL from a skip into a
	// failure (CI sets it).
	EnvRequireServers = "AMI_AUDIT_REQUIRE_SERVERS"
)

// ServerURL returns the URL in the environment variable env. When it is
// unset the test is skipped with instructions, or fails when
// AMI_AUDIT_REQUIRE_SERVERS=1.
func ServerURL(t testing.TB, env, example string) string {
	t.Helper()
	u := os.Getenv(env)
	if u != "" {
		return u
	}
	msg := "set " + env + " to run this test against a real server, e.g. " + env + "=" + example +
		" (scripts/ci-services.sh starts local servers)"
	if os.Getenv(EnvRequireServers) == "1" {
		t.Fatalf("%s is unset but %s=1: %s", env, EnvRequireServers, msg)
	}
	t.Skip(msg)
	return ""
}

// RandomName returns prefix followed by 12 random hex digits: a schema
// name or key prefix no other test uses.
func RandomName(prefix string) string {
	var b [6]byte
	rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}
