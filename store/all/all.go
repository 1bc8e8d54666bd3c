// Package all builds the registry of every store backend ami-audit ships.
package all

import (
	"context"
	"strings"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/store"
	"github.com/ami-orchestrator/ami-audit/store/postgres"
	"github.com/ami-orchestrator/ami-audit/store/sqlite"
)

// Registry returns a registry of all backends.
func Registry() *store.Registry {
	r := store.NewRegistry()
	r.Register(openSQLite, "sqlite", "file")
	r.Register(openPostgres, "postgres", "postgresql")
	return r
}

// SQLitePath returns the file of an embedded store location (sqlite:PATH,
// sqlite://PATH or file:PATH); ok is false for any other kind of store.
func SQLitePath(loc string) (path string, ok bool) {
	switch store.Scheme(loc) {
	case "sqlite", "file":
	default:
		return "", false
	}
	path = loc[strings.Index(loc, ":")+1:]
	path = strings.TrimPrefix(path, "//")
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	return path, true
}

// openSQLite accepts sqlite:PATH, sqlite://PATH and file:PATH.
func openSQLite(ctx context.Context, loc string, opts store.Options) (audit.Store, error) {
	path, _ := SQLitePath(loc)
	return sqlite.Open(ctx, sqlite.Config{Path: path, Create: opts.Create, ReadOnly: opts.ReadOnly, Origin: opts.Origin, LogID: opts.LogID,
		LogKey: opts.LogKey, Difficulty: opts.Difficulty, Committed: opts.Committed, Signer: opts.Signer, Verifier: opts.Verifier})
}

// openPostgres accepts postgres:// and postgresql:// URLs (libpq form,
// plus schema=NAME).
func openPostgres(ctx context.Context, loc string, opts store.Options) (audit.Store, error) {
	return postgres.Open(ctx, postgres.Config{URL: loc, Create: opts.Create, ReadOnly: opts.ReadOnly, Origin: opts.Origin, LogID: opts.LogID,
		LogKey: opts.LogKey, Difficulty: opts.Difficulty, Committed: opts.Committed, Signer: opts.Signer, Verifier: opts.Verifier})
}
