package sqlite

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"golang.org/x/mod/sumdb/note"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/ledger"
)

// TestMain lets the test binary act as a child process that appends
// records and reports each acknowledged one, for the crash test.
func TestMain(m *testing.M) {
	if path := os.Getenv("AMI_AUDIT_CRASH_CHILD"); path != "" {
		crashChild(path)
		return
	}
	os.Exit(m.Run())
}

func newRecord(i int) *audit.Record {
	r := audit.New("tester", "append", fmt.Sprintf("target-%d", i%17), audit.TargetFile)
	r.Context = map[string]any{"i": i}
	return r
}

func open(t testing.TB, path string, signer note.Signer) *Store {
	t.Helper()
	s, err := Open(context.Background(), Config{Path: path, Create: true, Origin: "test/log", Signer: signer})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func verify(t testing.TB, s *Store) ledger.Result {
	t.Helper()
	res, err := ledger.Verify(context.Background(), s, ledger.Options{})
	if err != nil {
		t.Fatalf("the store does not verify: %v", err)
	}
	return res
}

func TestConcurrentGoroutinesShareCommits(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "a.db"), nil)
	defer s.Close()
	const goroutines, each = 32, 40
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				if err := s.Append(context.Background(), []*audit.Record{newRecord(g*each + i)}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	res := verify(t, s)
	if res.Size != goroutines*each {
		t.Fatalf("%d records, want %d", res.Size, goroutines*each)
	}
	heads, _ := s.TreeHeadSizes(context.Background())
	if len(heads) >= goroutines*each {
		t.Errorf("%d commits for %d appends: no group commit", len(heads), goroutines*each)
	}
	t.Logf("%d appends in %d commits", goroutines*each, len(heads))
}

// Two Store values on one file use separate connections, as two processes
// do: SQLite's lock serializes them and neither forks the chain.
func TestTwoOpenersOneChain(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.db")
	a, b := open(t, path, nil), open(t, path, nil)
	defer a.Close()
	defer b.Close()
	var wg sync.WaitGroup
	for _, s := range []*Store{a, b, a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				if err := s.Append(context.Background(), []*audit.Record{newRecord(i), newRecord(i + 1)}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if res := verify(t, a); res.Size != 400 {
		t.Fatalf("%d records, want 400", res.Size)
	}
}

func TestInvalidRequestFailsAlone(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "a.db"), nil)
	defer s.Close()
	bad := newRecord(1)
	bad.TargetType = "nope"
	dup := newRecord(2)
	if err := s.Append(context.Background(), []*audit.Record{dup}); err != nil {
		t.Fatal(err)
	}
	again := *dup
	var wg sync.WaitGroup
	results := make([]error, 3)
	for i, batch := range [][]*audit.Record{{newRecord(3), bad}, {newRecord(4), newRecord(5)}, {newRecord(6), &again}} {
		wg.Add(1)
		go func() { defer wg.Done(); results[i] = s.Append(context.Background(), batch) }()
	}
	wg.Wait()
	if results[0] == nil || results[1] != nil || results[2] == nil {
		t.Fatalf("results = %v; want the invalid and the duplicate batch to fail alone", results)
	}
	if res := verify(t, s); res.Size != 3 {
		t.Fatalf("%d records, want 3 (nothing of a failed batch)", res.Size)
	}
}

func TestAppendStreamIsAtomic(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "a.db"), nil)
	defer s.Close()
	stream := func(n int, failAt int) func(func(*audit.Record, error) bool) {
		return func(yield func(*audit.Record, error) bool) {
			for i := 0; i < n; i++ {
				if i == failAt {
					yield(nil, fmt.Errorf("line %d is bad", i+1))
					return
				}
				if !yield(newRecord(i), nil) {
					return
				}
			}
		}
	}
	n, err := s.AppendStream(context.Background(), stream(2500, -1))
	if err != nil || n != 2500 {
		t.Fatalf("AppendStream = %d, %v", n, err)
	}
	if _, err := s.AppendStream(context.Background(), stream(2500, 2400)); err == nil {
		t.Fatal("failing stream succeeded")
	}
	if res := verify(t, s); res.Size != 2500 {
		t.Fatalf("%d records after a failed stream, want 2500", res.Size)
	}
}

func TestSchemaNewerRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.db")
	s := open(t, path, nil)
	s.wdb.Exec(`UPDATE meta SET value = ? WHERE key = 'schema_version'`, strconv.Itoa(SchemaVersion+1))
	s.Close()
	_, err := Open(context.Background(), Config{Path: path})
	if err == nil || !errors.Is(err, audit.ErrSchemaNewer) {
		t.Fatalf("err = %v, want ErrSchemaNewer", err)
	}
	if _, err := Open(context.Background(), Config{Path: filepath.Join(t.TempDir(), "none.db")}); !errors.Is(err, audit.ErrNotInitialized) {
		t.Fatalf("missing store: %v", err)
	}
}

// crashChild appends records one at a time from several goroutines and
// prints each id once its Append has returned.
func crashChild(path string) {
	s, err := Open(context.Background(), Config{Path: path, Create: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	out := bufio.NewWriter(os.Stdout)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				r := newRecord(i)
				if err := s.Append(context.Background(), []*audit.Record{r}); err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(1)
				}
				mu.Lock()
				fmt.Fprintln(out, r.RecordID)
				out.Flush()
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}

// TestKill9KeepsAcknowledgedRecords kills a process appending as fast as it
// can, then checks every record it acknowledged is stored and the chain
// verifies.
func TestKill9KeepsAcknowledgedRecords(t *testing.T) {
	path := filepath.Join(t.TempDir(), "crash.db")
	for round := 0; round < 3; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "AMI_AUDIT_CRASH_CHILD="+path)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		var acked []string
		sc := bufio.NewScanner(stdout)
		// Kill after a random number of acknowledgements.
		var b [1]byte
		rand.Read(b[:])
		killAt := 100 + int(b[0])
		for sc.Scan() {
			acked = append(acked, sc.Text())
			if len(acked) == killAt {
				cmd.Process.Signal(syscall.SIGKILL)
			}
		}
		cmd.Wait()
		if len(acked) < killAt {
			t.Fatalf("child stopped after %d records", len(acked))
		}
		s, err := Open(context.Background(), Config{Path: path})
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range acked {
			if _, err := s.Get(context.Background(), id); err != nil {
				t.Fatalf("round %d: acknowledged record %s lost: %v", round, id, err)
			}
		}
		res := verify(t, s)
		t.Logf("round %d: killed after %d acknowledged; %d stored, chain verifies", round, len(acked), res.Size)
		s.Close()
	}
}

func TestContextStrings(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "a.db"), nil)
	defer s.Close()
	var recs []*audit.Record
	for i := 0; i < 5; i++ {
		r := newRecord(i)
		r.Action = "git_commit"
		r.Target = "."
		r.Context = map[string]any{"commit": fmt.Sprintf("c%d", i), "n": i}
		recs = append(recs, r)
	}
	other := newRecord(9)
	other.Context = map[string]any{"commit": "elsewhere"}
	if err := s.Append(context.Background(), append(recs, other)); err != nil {
		t.Fatal(err)
	}
	var got []string
	for v, err := range s.ContextStrings(context.Background(), audit.Filter{Action: "git_commit", Target: ".", Limit: -1}, "commit") {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, v)
	}
	if fmt.Sprint(got) != "[c0 c1 c2 c3 c4]" {
		t.Fatalf("got %v", got)
	}
	for range s.ContextStrings(context.Background(), audit.Filter{Limit: -1}, "n") {
		t.Fatal("a number was yielded as a string")
	}
}

func TestDuplicateIDNamesTheRecord(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "a.db"), nil)
	defer s.Close()
	first := newRecord(0)
	if err := s.Append(context.Background(), []*audit.Record{first}); err != nil {
		t.Fatal(err)
	}
	dupAt := 1500
	_, err := s.AppendStream(context.Background(), func(yield func(*audit.Record, error) bool) {
		for i := 0; i < 2000; i++ {
			r := newRecord(i)
			if i == dupAt {
				r.RecordID = first.RecordID
			}
			if !yield(r, nil) {
				return
			}
		}
	})
	var be *ledger.BatchError
	if !errors.As(err, &be) || be.Index != dupAt || !strings.Contains(err.Error(), "already in the trail") {
		t.Fatalf("err = %v, want record %d named as a duplicate", err, dupAt+1)
	}
	// In a group of concurrent requests, the one with the duplicate fails
	// alone.
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := newRecord(i)
			if i == 3 {
				r.RecordID = first.RecordID
			}
			errs[i] = s.Append(context.Background(), []*audit.Record{r, newRecord(100 + i)})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if (err != nil) != (i == 3) {
			t.Errorf("request %d: %v", i, err)
		}
	}
	if res := verify(t, s); res.Size != 1+7*2 {
		t.Fatalf("%d records, want 15", res.Size)
	}
}

// A store that cannot grow (SQLITE_FULL: a full disk; here a page limit on
// the database) fails the append with that reason, not with what failed
// after it; keeps every acknowledged record; and appends again once there
// is room.
func TestFullStoreFailsCleanly(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "a.db"), nil)
	defer s.Close()
	var acked []*audit.Record
	for i := range 10 {
		acked = append(acked, newRecord(i))
	}
	if err := s.Append(ctx, acked); err != nil {
		t.Fatal(err)
	}
	limit := func(pages string) {
		t.Helper()
		// The writer has one connection, which keeps the setting.
		if _, err := s.wdb.ExecContext(ctx, "PRAGMA max_page_count = "+pages); err != nil {
			t.Fatal(err)
		}
	}
	var pages int
	if err := s.wdb.QueryRowContext(ctx, "PRAGMA page_count").Scan(&pages); err != nil {
		t.Fatal(err)
	}
	limit(fmt.Sprint(pages + 2))
	big := func(n int) []*audit.Record {
		recs := make([]*audit.Record, n)
		for i := range recs {
			recs[i] = newRecord(i)
			recs[i].Context["pad"] = strings.Repeat("x", 500)
		}
		return recs
	}
	wantFull := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, ErrFull) || !errors.Is(err, syscall.ENOSPC) || strings.Contains(err.Error(), "savepoint") {
			t.Errorf("%s: error %v, want ErrFull (no space left), not a savepoint error", what, err)
		}
	}
	_, err := s.AppendStream(ctx, func(yield func(*audit.Record, error) bool) {
		for _, r := range big(3000) {
			if !yield(r, nil) {
				return
			}
		}
	})
	wantFull("AppendStream", err)
	wantFull("Append", s.Append(ctx, big(2000)))
	// A group of concurrent requests: all fail, none is half stored.
	var wg sync.WaitGroup
	errs := make([]error, 6)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.Append(ctx, big(300))
		}()
	}
	wg.Wait()
	for i, err := range errs {
		wantFull(fmt.Sprintf("concurrent Append %d", i), err)
	}
	if res := verify(t, s); res.Size != uint64(len(acked)) {
		t.Fatalf("%d records after the failed appends, want the %d acknowledged", res.Size, len(acked))
	}
	for _, r := range acked {
		if _, err := s.Get(ctx, r.RecordID); err != nil {
			t.Fatalf("acknowledged record %s: %v", r.RecordID, err)
		}
	}
	limit("1073741823")
	if err := s.Append(ctx, big(50)); err != nil {
		t.Fatalf("append after space was freed: %v", err)
	}
	if res := verify(t, s); res.Size != uint64(len(acked)+50) {
		t.Fatalf("%d records, want %d", res.Size, len(acked)+50)
	}
}

// Verification reads a row's query columns joined by NUL bytes (selectRaw);
// a column holding NUL bytes, however they are spread over the columns,
// fails verification of that row and no other.
func TestQueryColumnsWithNULFail(t *testing.T) {
	for name, set := range map[string]map[string]string{
		"actor with a NUL":          {"actor": "tester\x00x"},
		"a NUL moved between":       {"actor": "tester\x00append", "action": ""},
		"two columns as one":        {"target_type": "file\x00info", "severity": ""},
		"severity ends with a NUL":  {"severity": "info\x00"},
		"timestamp starts with NUL": {"timestamp": "\x00"},
	} {
		t.Run(name, func(t *testing.T) {
			s := open(t, filepath.Join(t.TempDir(), "a.db"), nil)
			defer s.Close()
			ctx := context.Background()
			for i := range 3 {
				if err := s.Append(ctx, []*audit.Record{newRecord(i)}); err != nil {
					t.Fatal(err)
				}
			}
			for col, v := range set {
				if _, err := s.wdb.Exec(`UPDATE records SET `+col+` = ? WHERE seq = 1`, v); err != nil {
					t.Fatal(err)
				}
			}
			_, err := ledger.VerifyChain(ctx, s, ledger.VerifyOptions{})
			var ce *ledger.ChainError
			if !errors.As(err, &ce) || ce.Seq != 1 || !strings.Contains(ce.Reason, "column") {
				t.Fatalf("verify: %v; want record 1's columns named", err)
			}
		})
	}
}
