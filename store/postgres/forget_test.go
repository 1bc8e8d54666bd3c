package postgres_test

import (
	"context"
	"strings"
	"testing"
	"time"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/ledger"
	"github.com/ami-orchestrator/ami-audit/store/postgres"
	"github.com/ami-orchestrator/ami-audit/store/postgres/pgtest"
	"github.com/ami-orchestrator/ami-audit/storetest"
)

// TestRedactedValueLeavesTheTable redacts a value and reads the raw pages
// of the values table (pageinspect): after the redaction's VACUUM FULL the
// value is in none of them, the values not redacted are.
func TestRedactedValueLeavesTheTable(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	schema := storetest.RandomName("t_")
	admin := pgtest.Conn(t, url)
	if _, err := admin.Exec(ctx, `CREATE EXTENSION IF NOT EXISTS pageinspect SCHEMA public`); err != nil && !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("pageinspect (a contrib extension of PostgreSQL) is needed to read raw pages: %v", err)
	}
	s, err := postgres.Open(ctx, postgres.Config{URL: url, Schema: schema, Create: true, Origin: "example.org/pages"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Close()
		admin.Exec(context.Background(), `DROP SCHEMA `+schema+` CASCADE`)
	})
	secret, kept := "ana.maria@example.org", "kept-value-of-another-field"
	var recs []*audit.Record
	for i := range 20 {
		r := audit.New("ci", "login", "svc/api", audit.TargetService)
		r.Classification = audit.ClassConfidential
		r.Context = map[string]any{"user_email": secret, "note": kept, "i": i}
		recs = append(recs, r)
	}
	if err := s.Append(ctx, recs); err != nil {
		t.Fatal(err)
	}
	inPages := func(value string) bool {
		var found bool
		err := admin.QueryRow(ctx, `SELECT coalesce(bool_or(position(convert_to($1, 'UTF8') in public.get_raw_page($2::text, n::bigint)) > 0), false)
FROM generate_series(0, pg_relation_size($2::text::regclass) / current_setting('block_size')::int - 1) n`, value, schema+".audit_field_values").Scan(&found)
		if err != nil {
			t.Fatal(err)
		}
		return found
	}
	if !inPages(secret) {
		t.Fatal("the value is not in the table's pages before the redaction: the test cannot see anything")
	}
	for _, r := range recs {
		res, err := s.Forget(ctx, func(tx ledger.ForgetTx) error {
			if n, err := tx.DeleteValues(r.Sequence, []string{"context.user_email"}); err != nil || n != 1 {
				t.Fatalf("removed %d values: %v", n, err)
			}
			c := ledger.RedactionClaim{RecordID: r.RecordID, Sequence: r.Sequence, RecordHash: r.RecordHash, Fields: []string{"context.user_email"}}
			rec, err := ledger.NewRedactionRecord(c, r, "dpo", "erasure request")
			if err != nil {
				return err
			}
			return tx.Append(rec, nil)
		})
		if err != nil {
			t.Fatal(err)
		}
		if res.Scrubbed == "" {
			t.Errorf("nothing scrubbed: %+v", res)
		}
	}
	// Transactions of other sessions on the server may still see the
	// deleted rows, and VACUUM keeps those: scrub again until they end.
	for i := 0; inPages(secret) && i < 100; i++ {
		time.Sleep(100 * time.Millisecond)
		s.Scrub(ctx)
	}
	if inPages(secret) {
		t.Error("the redacted value is still in the values table's pages")
	}
	if !inPages(kept) {
		t.Error("a value that was not redacted is gone from the pages too")
	}
}

// TestUpgradeFromSchema2 turns a store back into what schema version 2
// wrote and opens it: read-only it says to upgrade; with write access it
// is upgraded, verifies, and commits confidential values from then on.
func TestUpgradeFromSchema2(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	schema := storetest.RandomName("t_")
	admin := pgtest.Conn(t, url)
	cfg := postgres.Config{URL: url, Schema: schema, Create: true, Origin: "example.org/upgrade"}
	s, err := postgres.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Exec(context.Background(), `DROP SCHEMA `+schema+` CASCADE`) })
	if err := s.Append(ctx, []*audit.Record{audit.New("ci", "deploy", "svc/api", audit.TargetService)}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	for _, q := range []string{`DROP TABLE audit_field_values`, `ALTER TABLE audit_records DROP COLUMN pruned_by, DROP COLUMN pruned_policy, ALTER COLUMN actor SET NOT NULL`,
		`DELETE FROM audit_meta WHERE key = 'committed'`, `UPDATE audit_meta SET value = '2' WHERE key = 'schema_version'`} {
		if _, err := admin.Exec(ctx, `SET search_path = `+schema+`; `+q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	ro := cfg
	ro.Create, ro.ReadOnly = false, true
	if _, err := postgres.Open(ctx, ro); err == nil || !strings.Contains(err.Error(), "upgrade") {
		t.Fatalf("a read-only open of a version 2 store: %v, want a request to upgrade it", err)
	}
	cfg.Create = false
	s, err = postgres.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := strings.Join(s.Identity().Committed, ","); got != "confidential,restricted" {
		t.Errorf("an upgraded store commits %q", got)
	}
	r := audit.New("ci", "login", "svc/api", audit.TargetService)
	r.Classification, r.Context = audit.ClassConfidential, map[string]any{"user": "ana"}
	if err := s.Append(ctx, []*audit.Record{r}); err != nil {
		t.Fatal(err)
	}
	if len(r.Commitments) != 1 {
		t.Errorf("a confidential record appended after the upgrade has commitments %v", r.Commitments)
	}
	if _, err := ledger.Verify(ctx, s, ledger.Options{}); err != nil {
		t.Fatal(err)
	}
}
