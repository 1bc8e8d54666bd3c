package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	audit "github.com/ami-orchestrator/ami-audit"
)

// Queries longer than a decode batch come back whole, in order either
// way, each record with its own signatures; a caller that stops early
// leaves nothing running; a body that does not decode ends the query
// after every record before it, naming its sequence.
func TestQueryAcrossDecodeBatches(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "a.db")
	s := open(t, path, nil)
	defer s.Close()
	n := 5*decodeBatch + 7
	recs := make([]*audit.Record, n)
	for i := range recs {
		recs[i] = newRecord(i)
	}
	if err := s.Append(ctx, recs); err != nil {
		t.Fatal(err)
	}
	signed := map[uint64]int{3: 1, decodeBatch - 1: 2, decodeBatch: 1, uint64(n - 1): 3}
	for seq, k := range signed {
		for j := range k {
			sig := audit.Signature{Signer: "signer-" + string(rune('a'+j)), Algorithm: "Ed25519", Signature: "c2ln", Timestamp: time.Now().UTC()}
			if err := s.AddSignature(ctx, recs[seq].RecordID, sig); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, newest := range []bool{false, true} {
		var got []uint64
		for r, err := range s.Query(ctx, audit.Filter{Limit: -1, Newest: newest}) {
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Signatures) != signed[r.Sequence] {
				t.Errorf("record %d has %d signatures, want %d", r.Sequence, len(r.Signatures), signed[r.Sequence])
			}
			if want := recs[r.Sequence].RecordID; r.RecordID != want {
				t.Errorf("record %d is %s, want %s", r.Sequence, r.RecordID, want)
			}
			got = append(got, r.Sequence)
		}
		if len(got) != n {
			t.Fatalf("newest=%v: %d records, want %d", newest, len(got), n)
		}
		for i, seq := range got {
			want := uint64(i)
			if newest {
				want = uint64(n - 1 - i)
			}
			if seq != want {
				t.Fatalf("newest=%v: record %d at place %d", newest, seq, i)
			}
		}
	}

	before := runtime.NumGoroutine()
	for range 20 {
		k := 0
		for _, err := range s.Query(ctx, audit.Filter{Limit: -1}) {
			if err != nil {
				t.Fatal(err)
			}
			if k++; k == decodeBatch+3 {
				break
			}
		}
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if g := runtime.NumGoroutine(); g > before {
		t.Errorf("%d goroutines after stopping queries early, %d before", g, before)
	}

	bad := uint64(2*decodeBatch + 5)
	if _, err := s.wdb.ExecContext(ctx, `UPDATE records SET body = CAST('{"actor":' AS BLOB) WHERE seq = ?`, bad); err != nil {
		t.Fatal(err)
	}
	var seen uint64
	var qerr error
	for r, err := range s.Query(ctx, audit.Filter{Limit: -1}) {
		if err != nil {
			qerr = err
			continue
		}
		if r.Sequence != seen {
			t.Fatalf("record %d after %d records", r.Sequence, seen)
		}
		seen++
	}
	if seen != bad || qerr == nil || !strings.Contains(qerr.Error(), fmt.Sprintf("record %d:", bad)) {
		t.Errorf("a body that does not decode: %d records, then %v", seen, qerr)
	}
}
