package postgres

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/ami-orchestrator/ami-audit/ledger"
	"github.com/ami-orchestrator/ami-audit/store"
)

// Config says which database to use and how.
type Config struct {
	// URL is a libpq connection URL, postgres://user:password@host:port/db?…
	// Besides the usual libpq and pgxpool parameters (sslmode,
	// connect_timeout, pool_max_conns, …) it accepts schema=NAME, the
	// same as the Schema field.
	URL string
	// Schema holds the tables; empty means the connection's search_path
	// (normally public). With Create, a missing schema is created.
	Schema string
	// Create the tables when they do not exist yet; otherwise opening an
	// empty database fails with audit.ErrNotInitialized.
	Create bool
	// ReadOnly opens the store for reading only (see store.Options): the
	// session is read-only, nothing is created or upgraded.
	ReadOnly bool
	// Origin names a new log in its checkpoints. Used only at creation.
	Origin string
	// LogID is a new log's identity (random when empty).
	LogID string
	// LogKey is a new log's public key text, empty when unsigned.
	LogKey string
	// Difficulty is a new log's proof-of-work difficulty.
	Difficulty int
	// Committed lists classifications whose values are committed, beyond
	// those the log recorded at creation (see store.Options).
	Committed []string
	// Signer, when set, signs the tree head after each committed batch;
	// Verifier, its public half, is then required (see store.Options).
	Signer   note.Signer
	Verifier note.Verifier
	// ConnectTimeout bounds each connection attempt (default 5s), so an
	// unreachable server is reported instead of waited for.
	ConnectTimeout time.Duration
	// MaxConns bounds the connection pool (default 8).
	MaxConns int32
	// MaxBatch bounds the records committed in one group transaction
	// (default 10,000).
	MaxBatch int
}

var schemaName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)

// Validate checks the configuration and fills the defaults.
func (c *Config) Validate() error {
	if c.URL == "" {
		return errors.New("postgres store: no URL")
	}
	u, err := url.Parse(c.URL)
	if err != nil {
		return fmt.Errorf("postgres store: URL %s: %w", store.Redact(c.URL), store.RedactError(err, c.URL))
	}
	if u.Scheme != "postgres" && u.Scheme != "postgresql" {
		return fmt.Errorf("postgres store: URL %s: want postgres:// or postgresql://", store.Redact(c.URL))
	}
	if q := u.Query(); q.Has("schema") {
		if c.Schema != "" && c.Schema != q.Get("schema") {
			return fmt.Errorf("postgres store: schema %q in the URL and %q in the configuration disagree", q.Get("schema"), c.Schema)
		}
		c.Schema = q.Get("schema")
		q.Del("schema")
		u.RawQuery = q.Encode()
		c.URL = u.String()
	}
	if c.Schema != "" && !schemaName.MatchString(c.Schema) {
		return fmt.Errorf("postgres store: schema %q: want letters, digits and underscores", c.Schema)
	}
	if c.Difficulty < 0 || c.Difficulty > ledger.MaxDifficulty {
		return fmt.Errorf("postgres store: difficulty %d out of range 0..%d", c.Difficulty, ledger.MaxDifficulty)
	}
	if err := c.options().Check(); err != nil {
		return err
	}
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = 5 * time.Second
	}
	if c.MaxConns == 0 {
		c.MaxConns = 8
	}
	if c.MaxBatch == 0 {
		c.MaxBatch = 10000
	}
	return nil
}

// String describes the configuration with the password redacted.
func (c Config) String() string {
	s := store.Redact(c.URL)
	if c.Schema != "" {
		s += " schema " + c.Schema
	}
	return s
}

func (c *Config) options() store.Options {
	return store.Options{Create: c.Create, ReadOnly: c.ReadOnly, Origin: c.Origin, LogID: c.LogID, LogKey: c.LogKey,
		Difficulty: c.Difficulty, Committed: c.Committed, Signer: c.Signer, Verifier: c.Verifier}
}
