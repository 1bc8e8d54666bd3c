package postgres

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/storetest"
)

// TestResolveCommit checks how a failed COMMIT is reported: stored, not
// stored, refused by the server, or unknown when the database cannot be
// asked.
func TestResolveCommit(t *testing.T) {
	url := storetest.ServerURL(t, storetest.EnvPostgres, "postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
	ctx := context.Background()
	schema := storetest.RandomName("t_")
	s, err := Open(ctx, Config{URL: url, Schema: schema, Create: true})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		s.pool.Exec(context.Background(), `DROP SCHEMA `+schema+` CASCADE`)
		s.Close()
	}()
	rec := storetest.Sample(0)
	if err := s.Append(ctx, []*audit.Record{rec}); err != nil {
		t.Fatal(err)
	}
	lost := io.ErrUnexpectedEOF
	if err := s.resolveCommit(lost, rec.RecordID); err != nil {
		t.Errorf("stored batch reported as %v", err)
	}
	if err := s.resolveCommit(lost, audit.NewID()); err == nil || !strings.Contains(err.Error(), "was not stored") {
		t.Errorf("missing batch reported as %v", err)
	}
	refused := &pgconn.PgError{Code: "40001", Message: "could not serialize access"}
	if err := s.resolveCommit(refused, rec.RecordID); err == nil || !strings.Contains(err.Error(), "nothing was stored") {
		t.Errorf("refused commit reported as %v", err)
	}
	s.cfg.ConnectTimeout = 100 * time.Millisecond
	s.pool.Close() // the database cannot be asked any more
	if err := s.resolveCommit(lost, rec.RecordID); !errors.Is(err, ErrOutcomeUnknown) {
		t.Errorf("unanswerable outcome reported as %v", err)
	}
}
