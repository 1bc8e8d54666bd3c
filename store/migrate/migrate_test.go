package migrate_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/ledger"
	"github.com/ami-orchestrator/ami-audit/store"
	"github.com/ami-orchestrator/ami-audit/store/migrate"
	"github.com/ami-orchestrator/ami-audit/store/postgres/pgtest"
	"github.com/ami-orchestrator/ami-audit/store/sqlite"
	"github.com/ami-orchestrator/ami-audit/storetest"
)

// logIDFor gives the stores of one origin one log id, as a copy of a log
// has: the tests' targets are copies of their sources.
func logIDFor(origin string) string {
	sum := sha256.Sum256([]byte(origin))
	return hex.EncodeToString(sum[:8])
}

func openSQLite(t *testing.T, origin string, difficulty int) migrate.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(t.TempDir(), "a.db"), Create: true, Origin: origin, LogID: logIDFor(origin), Difficulty: difficulty})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// fill appends n sample records, some signed and with a changed status.
func fill(t *testing.T, s audit.Store, n int) {
	t.Helper()
	ctx := context.Background()
	var batch []*audit.Record
	for i := range n {
		r := storetest.Sample(i)
		if i%11 == 0 {
			r.Signatures = []audit.Signature{{Signer: "alice", Signature: "c2ln", Algorithm: audit.AlgorithmEd25519, Timestamp: r.Timestamp}}
		}
		batch = append(batch, r)
		if len(batch) == 300 || i == n-1 {
			if err := s.Append(ctx, batch); err != nil {
				t.Fatal(err)
			}
			batch = nil
		}
	}
	for r, err := range s.Range(ctx, 0, uint64(n)) {
		if err != nil {
			t.Fatal(err)
		}
		if r.Sequence%13 == 0 {
			if err := s.SetStatus(ctx, r.RecordID, audit.StatusAnalyzed); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func exportAll(t *testing.T, s audit.Store) []string {
	t.Helper()
	var out []string
	for r, err := range s.Range(context.Background(), 0, ^uint64(0)) {
		if err != nil {
			t.Fatal(err)
		}
		slices.SortFunc(r.Signatures, func(a, b audit.Signature) int { return strings.Compare(a.Signer, b.Signer) })
		b, err := r.AppendJSON(nil)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(b))
	}
	return out
}

// targets are the backends a trail is migrated to.
func targets(t *testing.T) map[string]func(t *testing.T, origin string, difficulty int) migrate.Store {
	m := map[string]func(t *testing.T, origin string, difficulty int) migrate.Store{"sqlite": openSQLite}
	m["postgres"] = func(t *testing.T, origin string, difficulty int) migrate.Store {
		inst := pgtest.Open(t, pgtest.URL(t), store.Options{Create: true, Origin: origin, LogID: logIDFor(origin), Difficulty: difficulty})
		return inst.Store.(migrate.Store)
	}
	return m
}

func TestCopy(t *testing.T) {
	for name, open := range targets(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			src := openSQLite(t, "example.org/migrate", 1)
			fill(t, src, 2345)
			dst := open(t, "example.org/migrate", 1)
			res, err := migrate.Copy(ctx, src, dst, migrate.Options{Chunk: 1000})
			if err != nil {
				t.Fatal(err)
			}
			if res.Size != 2345 || res.Copied != 2345 || res.Resumed != 0 {
				t.Errorf("result %+v", res)
			}
			if diff := cmp.Diff(exportAll(t, src), exportAll(t, dst)); diff != "" {
				t.Fatalf("target differs from source (-source +target):\n%s", diff)
			}
			v, err := ledger.VerifyChain(ctx, dst, ledger.VerifyOptions{Difficulty: 1})
			if err != nil || v.Root != res.Root {
				t.Fatalf("target verifies %v with root %x, result root %x", err, v.Root, res.Root)
			}
			// Nothing left to copy: a second run copies nothing and
			// proves the same root.
			again, err := migrate.Copy(ctx, src, dst, migrate.Options{})
			if err != nil || again.Copied != 0 || again.Root != res.Root {
				t.Errorf("second run: %+v, %v", again, err)
			}
		})
	}
}

func TestResume(t *testing.T) {
	for name, open := range targets(t) {
		t.Run(name, func(t *testing.T) {
			src := openSQLite(t, "example.org/migrate", 0)
			fill(t, src, 1800)
			dst := open(t, "example.org/migrate", 0)
			ctx, cancel := context.WithCancel(context.Background())
			_, err := migrate.Copy(ctx, src, dst, migrate.Options{Chunk: 500, Progress: func(n uint64) {
				if n >= 1000 {
					cancel()
				}
			}})
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("interrupted copy: %v", err)
			}
			h, _ := dst.Head(context.Background())
			if h.Size != 1000 {
				t.Fatalf("the interrupted copy left %d records, want the two committed chunks (1000)", h.Size)
			}
			// More records arrive at the source; the next run resumes.
			fill(t, src, 0)
			res, err := migrate.Copy(context.Background(), src, dst, migrate.Options{Chunk: 500})
			if err != nil {
				t.Fatal(err)
			}
			if res.Resumed != 1000 || res.Copied != 800 || res.Size != 1800 {
				t.Errorf("resumed run: %+v", res)
			}
			if diff := cmp.Diff(exportAll(t, src), exportAll(t, dst)); diff != "" {
				t.Fatalf("target differs from source (-source +target):\n%s", diff)
			}
		})
	}
}

func TestDiverged(t *testing.T) {
	ctx := context.Background()
	src := openSQLite(t, "example.org/migrate", 0)
	fill(t, src, 50)
	cases := map[string]func() migrate.Store{
		"other records": func() migrate.Store {
			dst := openSQLite(t, "example.org/migrate", 0)
			fill(t, dst, 10) // same data, new ids: another chain
			return dst
		},
		"longer than the source": func() migrate.Store {
			dst := openSQLite(t, "example.org/migrate", 0)
			if _, err := migrate.Copy(ctx, src, dst, migrate.Options{}); err != nil {
				t.Fatal(err)
			}
			if err := dst.Append(ctx, []*audit.Record{storetest.Sample(1)}); err != nil {
				t.Fatal(err)
			}
			return dst
		},
		"other origin": func() migrate.Store { return openSQLite(t, "example.org/other", 0) },
		"another log of the same origin": func() migrate.Store {
			s, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(t.TempDir(), "b.db"), Create: true, Origin: "example.org/migrate"})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		},
		"other difficulty": func() migrate.Store { return openSQLite(t, "example.org/migrate", 1) },
	}
	for name, mk := range cases {
		t.Run(name, func(t *testing.T) {
			dst := mk()
			before, _ := dst.Head(ctx)
			_, err := migrate.Copy(ctx, src, dst, migrate.Options{})
			if !errors.Is(err, migrate.ErrDiverged) {
				t.Fatalf("error %v, want ErrDiverged", err)
			}
			if after, _ := dst.Head(ctx); after != before {
				t.Errorf("the target changed from %+v to %+v", before, after)
			}
		})
	}
}
