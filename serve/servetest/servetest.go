// Package servetest builds served trails for the tests of the HTTP API and
// the MCP server: a repository, a trail created in it (SQLite, or
// PostgreSQL in a schema of its own), the service over it and a token of
// every role, plus an expired and a revoked one.
package servetest

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ami-orchestrator/ami-audit/collect"
	"github.com/ami-orchestrator/ami-audit/serve"
	"github.com/ami-orchestrator/ami-audit/serve/token"
	"github.com/ami-orchestrator/ami-audit/store/all"
	"github.com/ami-orchestrator/ami-audit/store/postgres/pgtest"
	"github.com/ami-orchestrator/ami-audit/storetest"
	"github.com/ami-orchestrator/ami-audit/trail"
)

// Trail is a served trail and the tokens to call it with.
type Trail struct {
	Root    string // the repository served
	Dir     string // the trail's directory
	Trail   *trail.Trail
	Service *serve.Service
	Tokens  *token.Set
	// Token holds a token of every role, and "expired" and "revoked".
	Token map[string]string
}

// New serves a new trail in a new repository, in SQLite.
func New(t testing.TB) *Trail { return NewStore(t, "") }

// NewPostgres serves a new trail kept in PostgreSQL (skipped without a
// server, see storetest.ServerURL).
func NewPostgres(t testing.TB) *Trail {
	url := pgtest.URL(t)
	schema := storetest.RandomName("srv_")
	conn := pgtest.Conn(t, url)
	t.Cleanup(func() { conn.Exec(context.Background(), `DROP SCHEMA IF EXISTS `+schema+` CASCADE`) })
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	return NewStore(t, url+sep+"schema="+schema)
}

// NewStore serves a new trail kept in the store at storeURL ("": SQLite in
// the trail's directory).
func NewStore(t testing.TB, storeURL string) *Trail {
	t.Helper()
	ctx := context.Background()
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "README.md"), []byte("a repository\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, ".audit")
	tr, _, err := trail.Create(ctx, trail.Config{Dir: dir, Registry: all.Registry(), Store: storeURL}, trail.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	d, err := collect.NewDetector(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	svc, err := serve.New(serve.Config{Trail: tr, Detector: d, Root: root})
	if err != nil {
		t.Fatal(err)
	}
	set, err := token.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	toks := map[string]string{}
	for _, r := range token.Roles {
		tok, _, err := set.Create(token.CreateOptions{Name: string(r) + "-client", Role: r})
		if err != nil {
			t.Fatal(err)
		}
		toks[string(r)] = tok
	}
	// Expires one nanosecond after the second it was created in: at once.
	tok, _, err := set.Create(token.CreateOptions{Name: "expired-client", Role: token.Admin, TTL: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	toks["expired"] = tok
	tok, _, err = set.Create(token.CreateOptions{Name: "revoked-client", Role: token.Admin})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := set.Revoke("revoked-client"); err != nil {
		t.Fatal(err)
	}
	toks["revoked"] = tok
	return &Trail{Root: root, Dir: dir, Trail: tr, Service: svc, Tokens: set, Token: toks}
}
