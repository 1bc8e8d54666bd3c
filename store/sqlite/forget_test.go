package sqlite

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/ledger"
)

// TestUpgradeFromSchema2 turns a store back into what schema version 2
// wrote (no values table, no pruning columns, no committed
// classifications) and opens it: read-only, it says to upgrade; with write
// access it is upgraded, still verifies, and commits confidential values
// from then on while the records already written keep their form.
func TestUpgradeFromSchema2(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "a.db")
	s := open(t, path, nil)
	old := newRecord(1)
	old.Classification = audit.ClassConfidential
	old.RecordHash = "copy" // a copy is linked as it is: written as version 2 stores wrote it
	if err := s.Append(ctx, []*audit.Record{newRecord(0), old}); err != nil {
		t.Fatal(err)
	}
	if len(old.Commitments) > 0 {
		t.Fatal("the record written as before commitments has commitments")
	}
	for _, q := range []string{`DROP TABLE field_values`, `ALTER TABLE records DROP COLUMN pruned_by`, `ALTER TABLE records DROP COLUMN pruned_policy`,
		`DELETE FROM meta WHERE key = 'committed'`, `UPDATE meta SET value = '2' WHERE key = 'schema_version'`} {
		if _, err := s.wdb.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	s.Close()

	_, err := Open(ctx, Config{Path: path, ReadOnly: true})
	if !errors.Is(err, errSchemaOlder) || !strings.Contains(err.Error(), "upgrade") {
		t.Fatalf("a read-only open of a version 2 store: %v, want a request to upgrade it", err)
	}
	s, err = Open(ctx, Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := s.Identity().Committed; strings.Join(got, ",") != "confidential,restricted" {
		t.Errorf("an upgraded store commits %v", got)
	}
	verify(t, s)
	fresh := newRecord(2)
	fresh.Classification = audit.ClassConfidential
	if err := s.Append(ctx, []*audit.Record{fresh}); err != nil {
		t.Fatal(err)
	}
	if len(fresh.Commitments) != 1 || len(fresh.Context) != 0 {
		t.Errorf("a confidential record appended after the upgrade: commitments %v, context %v", fresh.Commitments, fresh.Context)
	}
	got, err := s.Get(ctx, old.RecordID)
	if err != nil || len(got.Commitments) != 0 || got.Context["i"] == nil {
		t.Errorf("the record written before the upgrade reads back as %+v (%v)", got, err)
	}
	verify(t, s)
}

// TestRedactedValueLeavesTheFiles redacts a value and checks that its
// bytes are in none of the store's files: not the database (its pages,
// free or not), not the write-ahead log.
func TestRedactedValueLeavesTheFiles(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "a.db")
	s := open(t, path, nil)
	defer s.Close()
	secret := "ana.maria@example.org"
	keep := "kept-value-of-another-field"
	var recs []*audit.Record
	for i := range 50 {
		r := newRecord(i)
		if i%5 == 0 {
			r.Classification = audit.ClassConfidential
			r.Context["user_email"] = secret
			r.Context["note"] = keep
		}
		recs = append(recs, r)
		if err := s.Append(ctx, []*audit.Record{r}); err != nil {
			t.Fatal(err)
		}
	}
	inFiles := func(b string) []string {
		var where []string
		for _, suffix := range []string{"", "-wal", "-shm"} {
			data, err := os.ReadFile(path + suffix)
			if err != nil && !errors.Is(err, os.ErrNotExist) {
				t.Fatal(err)
			}
			if bytes.Contains(data, []byte(b)) {
				where = append(where, filepath.Base(path+suffix))
			}
		}
		return where
	}
	if len(inFiles(secret)) == 0 {
		t.Fatal("the value is in none of the files before the redaction: the test cannot see anything")
	}
	for _, r := range recs {
		if len(r.Commitments) == 0 {
			continue
		}
		res, err := s.Forget(ctx, func(tx ledger.ForgetTx) error {
			if _, err := tx.DeleteValues(r.Sequence, []string{"context.user_email"}); err != nil {
				return err
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
		if res.Residue != "" {
			t.Errorf("residue: %s", res.Residue)
		}
	}
	if where := inFiles(secret); len(where) > 0 {
		t.Errorf("the redacted value is still in %v", where)
	}
	if len(inFiles(keep)) == 0 {
		t.Error("a value that was not redacted is gone too")
	}
	res, err := ledger.Verify(ctx, s, ledger.Options{})
	var ce *ledger.ChainError
	if !errors.As(err, &ce) || !strings.Contains(ce.Reason, "no key allowed") {
		t.Errorf("unsigned redactions verify: %v, %+v", err, res.Forgotten)
	}
}
