// Package store chooses a store backend by URL through an explicit
// registry: "sqlite:PATH" (the embedded default), and whatever other
// schemes the registry built by store/all knows. The library never reads
// flags or the environment; the command line resolves the URL and hands it
// in.
package store

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"golang.org/x/mod/sumdb/note"

	audit "github.com/ami-orchestrator/ami-audit"
)

// Options are what every backend understands.
type Options struct {
	// Create the store (or its schema) when it does not exist yet.
	Create bool
	// Origin names a new log in its checkpoints.
	Origin string
	// Difficulty is a new log's proof-of-work difficulty.
	Difficulty int
	// Signer, when set, signs the tree head of each committed batch.
	Signer note.Signer
}

// OpenFunc opens the store at a location of the backend's scheme. loc is
// the whole URL.
type OpenFunc func(ctx context.Context, loc string, opts Options) (audit.Store, error)

// Registry maps URL schemes to backends.
type Registry struct {
	open map[string]OpenFunc
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{open: map[string]OpenFunc{}} }

// Register adds a backend for the given schemes.
func (r *Registry) Register(fn OpenFunc, schemes ...string) {
	for _, s := range schemes {
		r.open[s] = fn
	}
}

// Schemes lists the registered schemes, sorted.
func (r *Registry) Schemes() []string {
	var out []string
	for s := range r.open {
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

// Scheme returns the scheme of a store URL.
func Scheme(loc string) string {
	if i := strings.Index(loc, ":"); i > 0 {
		return strings.ToLower(loc[:i])
	}
	return ""
}

// Open opens the store at loc.
func (r *Registry) Open(ctx context.Context, loc string, opts Options) (audit.Store, error) {
	fn, ok := r.open[Scheme(loc)]
	if !ok {
		return nil, fmt.Errorf("store %q: unknown scheme (want one of %s)", Redact(loc), strings.Join(r.Schemes(), ", "))
	}
	return fn(ctx, loc, opts)
}

// Redact returns loc with any password replaced, for messages.
func Redact(loc string) string {
	u, err := url.Parse(loc)
	if err != nil || u.User == nil {
		return loc
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}
