package postgres_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/ledger"
	"github.com/ami-orchestrator/ami-audit/store"
	"github.com/ami-orchestrator/ami-audit/store/postgres"
	"github.com/ami-orchestrator/ami-audit/store/postgres/pgtest"
	"github.com/ami-orchestrator/ami-audit/storetest"
)

// withParam adds a query parameter to a URL.
func withParam(url, kv string) string {
	if strings.Contains(url, "?") {
		return url + "&" + kv
	}
	return url + "?" + kv
}

// TestConnectionDroppedMidBatch terminates the writer's connection while
// a streamed batch is being copied: the batch is stored whole or not at
// all, the caller is told which, and the store keeps working.
func TestConnectionDroppedMidBatch(t *testing.T) {
	base := pgtest.URL(t)
	app := storetest.RandomName("fault_")
	inst := pgtest.Open(t, withParam(base, "application_name="+app), store.Options{Create: true})
	s := inst.Store.(*postgres.Store)
	ctx := context.Background()
	first := []*audit.Record{storetest.Sample(0), storetest.Sample(1)}
	if err := s.Append(ctx, first); err != nil {
		t.Fatal(err)
	}
	admin := pgtest.Conn(t, base)
	killed := 0
	stream := func(yield func(*audit.Record, error) bool) {
		for i := range 120000 {
			if i == 60000 {
				// The writer is inside its COPY now.
				tag, err := admin.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid() AND state <> 'idle'`, app)
				if err != nil {
					t.Error(err)
				}
				killed = int(tag.RowsAffected())
			}
			if !yield(storetest.Sample(i), nil) {
				return
			}
		}
	}
	n, err := s.AppendStream(ctx, stream)
	if killed != 1 {
		t.Fatalf("terminated %d backends, want the writer's", killed)
	}
	if err == nil || n != 0 {
		t.Fatalf("AppendStream after its connection was terminated = %d, %v; want 0 and an error", n, err)
	}
	head, herr := s.Head(ctx)
	if herr != nil || head.Size != 2 || head.Hash != first[1].RecordHash {
		t.Fatalf("head %+v (%v): the failed batch changed the log", head, herr)
	}
	var rows int
	if err := admin.QueryRow(ctx, `SELECT count(*) FROM `+schemaOf(t, s)+`.audit_records`).Scan(&rows); err != nil || rows != 2 {
		t.Fatalf("%d rows stored (%v), want the 2 before the failed batch", rows, err)
	}
	// The store recovers: the next appends go through and the chain
	// verifies.
	next := []*audit.Record{storetest.Sample(2), storetest.Sample(3)}
	if err := s.Append(ctx, next); err != nil {
		t.Fatalf("append after the dropped connection: %v", err)
	}
	if res, err := ledger.VerifyChain(ctx, s, ledger.VerifyOptions{}); err != nil || res.Size != 4 {
		t.Fatalf("verify: %d records, %v", res.Size, err)
	}
	// An idle pooled connection that was terminated fails the next
	// append cleanly, or the pool replaces it; either way the caller
	// knows and nothing half-done is stored.
	if _, err := admin.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()`, app); err != nil {
		t.Fatal(err)
	}
	err = s.Append(ctx, []*audit.Record{storetest.Sample(4)})
	head, _ = s.Head(ctx)
	switch {
	case err == nil && head.Size != 5, err != nil && head.Size != 4:
		t.Fatalf("append returned %v but the head is %d", err, head.Size)
	}
}

func schemaOf(t *testing.T, s *postgres.Store) string {
	t.Helper()
	var schema string
	if err := s.Pool().QueryRow(context.Background(), `SELECT current_schema()`).Scan(&schema); err != nil {
		t.Fatal(err)
	}
	return schema
}

// TestUnreachable opens stores on servers that refuse, that never answer,
// and that do not exist: each fails with a clear error within the
// connect timeout.
func TestUnreachable(t *testing.T) {
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	refused, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refusedAddr := refused.Addr().String()
	refused.Close()
	cases := map[string]string{
		"refused":      "postgres://audit:s3cret@" + refusedAddr + "/audit",
		"silent":       "postgres://audit:s3cret@" + silent.Addr().String() + "/audit",
		"no such host": "postgres://audit:s3cret@host.invalid:5432/audit",
	}
	for name, url := range cases {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			s, err := postgres.Open(context.Background(), postgres.Config{URL: url, ConnectTimeout: time.Second})
			d := time.Since(start)
			if err == nil {
				s.Close()
				t.Fatal("opened")
			}
			if d > 3*time.Second {
				t.Errorf("took %s with a 1s connect timeout", d)
			}
			if !errors.Is(err, postgres.ErrUnreachable) {
				t.Errorf("error %v does not wrap ErrUnreachable", err)
			}
			if strings.Contains(err.Error(), "s3cret") || !strings.Contains(err.Error(), "xxxxx") {
				t.Errorf("error %q shows the password or not the redacted URL", err)
			}
		})
	}
}

func TestConfig(t *testing.T) {
	for name, c := range map[string]struct {
		cfg  postgres.Config
		want string
	}{
		"no url":        {postgres.Config{}, "no URL"},
		"wrong scheme":  {postgres.Config{URL: "mysql://x/y"}, "want postgres://"},
		"bad schema":    {postgres.Config{URL: "postgres://x/y?schema=a-b"}, "schema"},
		"schemas clash": {postgres.Config{URL: "postgres://x/y?schema=a", Schema: "b"}, "disagree"},
		"difficulty":    {postgres.Config{URL: "postgres://x/y", Difficulty: 9}, "difficulty"},
	} {
		t.Run(name, func(t *testing.T) {
			err := c.cfg.Validate()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Validate = %v, want an error about %q", err, c.want)
			}
		})
	}
	c := postgres.Config{URL: "postgres://u:pw@h/db?schema=trail&sslmode=disable"}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Schema != "trail" || strings.Contains(c.URL, "schema=") || c.ConnectTimeout != 5*time.Second || c.MaxBatch != 10000 {
		t.Errorf("defaults not filled: %+v", c)
	}
	if s := c.String(); strings.Contains(s, "pw") {
		t.Errorf("String() shows the password: %s", s)
	}
}
