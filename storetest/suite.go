package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/mod/sumdb/note"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/canonical"
	"github.com/ami-orchestrator/ami-audit/ledger"
	"github.com/ami-orchestrator/ami-audit/store"
)

// Run runs every conformance test against the backend h opens.
func Run(t *testing.T, h Harness) {
	tests := []struct {
		name string
		fn   func(*testing.T, Harness)
	}{
		{"Empty", testEmpty},
		{"AppendGet", testAppendGet},
		{"Query", testQuery},
		{"Range", testRange},
		{"Signatures", testSignatures},
		{"Status", testStatus},
		{"Provenance", testProvenance},
		{"AtomicBatch", testAtomicBatch},
		{"OneUUIDOneRecord", testOneUUIDOneRecord},
		{"AppendStream", testAppendStream},
		{"ProofOfWork", testProofOfWork},
		{"Concurrent", testConcurrent},
		{"Tamper", testTamper},
		{"Forget", testForget},
		{"SchemaNewer", testSchemaNewer},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, h) })
	}
}

var base = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

var (
	actors      = []string{"alice", "bob", "ci"}
	actions     = []string{"deploy", "commit", "scan", "rollback"}
	targets     = []string{"svc/api", "svc/web", "lib/core", "README.md"}
	targetTypes = []audit.TargetType{audit.TargetService, audit.TargetService, audit.TargetModule, audit.TargetFile}
)

// Sample returns the i-th record of a deterministic data set that varies
// every filter field; timestamps are not in sequence order.
func Sample(i int) *audit.Record {
	ti := i % len(targets)
	r := &audit.Record{
		RecordID:   audit.NewID(),
		Timestamp:  base.Add(time.Duration((i*37)%101)*time.Minute + time.Duration(i)*time.Nanosecond),
		Actor:      actors[i%len(actors)],
		Action:     actions[(i/2)%len(actions)],
		Target:     targets[ti],
		TargetType: targetTypes[ti],
		Source:     "storetest",
		Reason:     fmt.Sprintf("reason %d", i),
		Severity:   audit.Severities[i%len(audit.Severities)],
		Context: map[string]any{
			"i":      i,
			"refers": targets[(ti+1)%len(targets)],
			"nested": map[string]any{"list": []any{1, "two", true, nil, 2.5}, "é": "ü\u2028"},
		},
		Metadata: map[string]any{"run": "conformance"},
	}
	if i%7 == 0 {
		r.Findings = []audit.Finding{{FindingType: "secret", Severity: audit.SeverityError, Description: "token in file", Location: "a.go:3", Metadata: map[string]any{"rule": "aws"}}}
	}
	if i%5 == 0 {
		r.Violations = []audit.Violation{{Rule: "E501", Message: "line too long", FilePath: "x.py", LineNumber: 9, ColumnNumber: 80}}
	}
	if i%3 == 0 {
		r.Classification = audit.ClassConfidential
	}
	return r
}

func open(t *testing.T, h Harness, opts store.Options) (*Instance, Verifiable) {
	t.Helper()
	inst := h.Open(t, opts)
	v, ok := inst.Store.(Verifiable)
	if !ok {
		t.Fatalf("%T does not implement storetest.Verifiable (ScanRaw, tree heads, HashReader, Origin, Difficulty)", inst.Store)
	}
	return inst, v
}

func defaultOpts() store.Options {
	return store.Options{Create: true, Origin: "example.org/storetest/" + audit.NewID()[:8]}
}

// appendAll appends recs in batches of 1..7 records.
func appendAll(t *testing.T, s audit.Store, recs []*audit.Record) {
	t.Helper()
	ctx := context.Background()
	for i, n := 0, 1; i < len(recs); n = n%7 + 1 {
		j := min(i+n, len(recs))
		if err := s.Append(ctx, recs[i:j]); err != nil {
			t.Fatalf("append records %d..%d: %v", i, j-1, err)
		}
		i = j
	}
}

func samples(n int) []*audit.Record {
	out := make([]*audit.Record, n)
	for i := range out {
		out[i] = Sample(i)
	}
	return out
}

// exportForm is the record as export writes it, signatures sorted by
// signer, without the values of committed fields (which a store reads
// back only when asked): two records are the same when their export
// forms are.
func exportForm(t *testing.T, r *audit.Record) string {
	t.Helper()
	c := r.Clone()
	c.Disclosures = nil
	slices.SortFunc(c.Signatures, func(a, b audit.Signature) int { return strings.Compare(a.Signer, b.Signer) })
	b, err := c.AppendJSON(nil)
	if err != nil {
		t.Fatalf("record %s: %v", r.RecordID, err)
	}
	return string(b)
}

func collect(t *testing.T, seq iter.Seq2[*audit.Record, error]) []*audit.Record {
	t.Helper()
	var out []*audit.Record
	for r, err := range seq {
		if err != nil {
			t.Fatalf("iterate: %v", err)
		}
		out = append(out, r)
	}
	return out
}

func ids(recs []*audit.Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.RecordID
	}
	return out
}

// verify checks the whole store (ledger.Verify, without a log key) and
// returns what it established.
func verify(t *testing.T, v Verifiable, sizes ...uint64) ledger.Result {
	t.Helper()
	res, err := ledger.Verify(context.Background(), v, ledger.Options{RootsAt: sizes})
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	return res
}

func testEmpty(t *testing.T, h Harness) {
	ctx := context.Background()
	inst, v := open(t, h, defaultOpts())
	head, err := inst.Store.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if head != (audit.Head{Size: 0, Hash: audit.GenesisHash}) {
		t.Errorf("empty head = %+v, want size 0 hash %q", head, audit.GenesisHash)
	}
	if got := collect(t, inst.Store.Query(ctx, audit.Filter{Limit: -1})); len(got) != 0 {
		t.Errorf("empty store yields %d records", len(got))
	}
	if _, err := inst.Store.Get(ctx, audit.NewID()); !errors.Is(err, audit.ErrNotFound) {
		t.Errorf("Get of a missing id: %v, want ErrNotFound", err)
	}
	if _, err := inst.Store.Get(ctx, "not-a-uuid"); !errors.Is(err, audit.ErrNotFound) {
		t.Errorf("Get of a malformed id: %v, want ErrNotFound", err)
	}
	if err := inst.Store.Append(ctx, nil); err != nil {
		t.Errorf("empty append: %v", err)
	}
	res := verify(t, v)
	if res.Size != 0 {
		t.Errorf("verify size %d", res.Size)
	}
	if !strings.HasPrefix(v.Origin(), "example.org/storetest/") {
		t.Errorf("origin %q is not the one the store was created with", v.Origin())
	}
}

func testAppendGet(t *testing.T, h Harness) {
	ctx := context.Background()
	inst, v := open(t, h, defaultOpts())
	recs := samples(30)
	recs[4].Signatures = []audit.Signature{{Signer: "zed", Signature: "c2ln", Algorithm: audit.AlgorithmEd25519, Timestamp: base.Add(123456789)},
		{Signer: "amy", Signature: "c2lnMg==", Algorithm: audit.AlgorithmEd25519, Timestamp: base}}
	recs[6].Status = audit.StatusAnalyzed
	appendAll(t, inst.Store, recs)
	for i, r := range recs {
		if r.Sequence != uint64(i) {
			t.Fatalf("record %d got sequence %d", i, r.Sequence)
		}
		if len(r.RecordHash) != 64 {
			t.Fatalf("record %d has no record hash after Append", i)
		}
		if i > 0 && r.PreviousHash != recs[i-1].RecordHash {
			t.Fatalf("record %d does not link to record %d", i, i-1)
		}
	}
	if recs[0].PreviousHash != audit.GenesisHash {
		t.Errorf("first record links to %q", recs[0].PreviousHash)
	}
	for _, r := range recs {
		got, err := inst.Store.Get(ctx, r.RecordID)
		if err != nil {
			t.Fatalf("Get %s: %v", r.RecordID, err)
		}
		if diff := cmp.Diff(exportForm(t, r), exportForm(t, got)); diff != "" {
			t.Fatalf("record %d read back differs (-appended +stored):\n%s", r.Sequence, diff)
		}
		if h, err := got.Hash(); err != nil || h != r.RecordHash {
			t.Fatalf("record %d read back does not hash to its record_hash", r.Sequence)
		}
	}
	checkValues(t, inst.Store, recs)
	head, err := inst.Store.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := (audit.Head{Size: 30, Hash: recs[29].RecordHash}); head != want {
		t.Errorf("head = %+v, want %+v", head, want)
	}
	res := verify(t, v)
	if res.Size != 30 || res.LastHash != recs[29].RecordHash {
		t.Errorf("verify: size %d last %s", res.Size, res.LastHash)
	}
	// Appending a record that is already in the trail fails and appends
	// nothing.
	again := Sample(99)
	again.RecordID = recs[3].RecordID
	if err := inst.Store.Append(ctx, []*audit.Record{again}); err == nil {
		t.Error("appending a duplicate record_id succeeded")
	}
	if h2, _ := inst.Store.Head(ctx); h2 != head {
		t.Errorf("a failed append moved the head from %+v to %+v", head, h2)
	}
}

func testQuery(t *testing.T, h Harness) {
	ctx := context.Background()
	inst, _ := open(t, h, defaultOpts())
	recs := samples(80)
	appendAll(t, inst.Store, recs)
	at := func(min int) time.Time { return base.Add(time.Duration(min) * time.Minute) }
	filters := map[string]audit.Filter{
		"all":                 {Limit: -1},
		"default limit":       {},
		"limit":               {Limit: 7},
		"newest":              {Limit: 9, Newest: true},
		"newest no limit":     {Limit: -1, Newest: true},
		"target_type":         {TargetType: audit.TargetService, Limit: -1},
		"action":              {Action: "deploy", Limit: -1},
		"actor":               {Actor: "bob", Limit: -1},
		"target":              {Target: "lib/core", Limit: -1},
		"severity warning+":   {Severity: audit.SeverityWarning, Limit: -1},
		"severity critical":   {Severity: audit.SeverityCritical, Limit: -1},
		"severity debug":      {Severity: audit.SeverityDebug, Limit: -1},
		"since":               {Since: at(50), Limit: -1},
		"since exact ns":      {Since: Sample(3).Timestamp, Limit: -1},
		"until":               {Until: at(20), Limit: -1},
		"until exact ns":      {Until: Sample(3).Timestamp, Limit: -1},
		"window":              {Since: at(10), Until: at(60), Limit: -1},
		"combined":            {Actor: "alice", TargetType: audit.TargetService, Severity: audit.SeverityInfo, Limit: -1},
		"combined newest":     {Action: "commit", Since: at(5), Limit: 3, Newest: true},
		"no match":            {Actor: "nobody", Limit: -1},
		"unicode target none": {Target: "svc/ápi", Limit: -1},
		"from sequence":       {FromSequence: 30, Limit: 5},
		"before sequence":     {BeforeSequence: 12, Limit: 5, Newest: true},
		"sequence window":     {Actor: "bob", FromSequence: 10, BeforeSequence: 40, Limit: -1},
		"from beyond":         {FromSequence: 1000, Limit: -1},
	}
	for name, f := range filters {
		t.Run(name, func(t *testing.T) {
			var want []*audit.Record
			for _, r := range recs {
				if f.Match(r) {
					want = append(want, r)
				}
			}
			if f.Newest {
				slices.Reverse(want)
			}
			if n := f.EffectiveLimit(); n >= 0 && len(want) > n {
				want = want[:n]
			}
			got := collect(t, inst.Store.Query(ctx, f))
			if diff := cmp.Diff(ids(want), ids(got)); diff != "" {
				t.Errorf("Query(%+v) (-want +got):\n%s", f, diff)
			}
		})
	}
	// An invalid filter is an error, not an empty result.
	var gotErr error
	for _, err := range inst.Store.Query(ctx, audit.Filter{Severity: "loud"}) {
		gotErr = err
	}
	if gotErr == nil {
		t.Error("Query with an unknown severity did not fail")
	}
	gotErr = nil
	for _, err := range inst.Store.Query(ctx, audit.Filter{FromSequence: 9, BeforeSequence: 9}) {
		gotErr = err
	}
	if gotErr == nil {
		t.Error("Query with an empty sequence window did not fail")
	}
	// Stopping early is allowed.
	for range inst.Store.Query(ctx, audit.Filter{Limit: -1}) {
		break
	}
}

func testRange(t *testing.T, h Harness) {
	ctx := context.Background()
	inst, _ := open(t, h, defaultOpts())
	recs := samples(25)
	appendAll(t, inst.Store, recs)
	for _, c := range []struct{ from, to uint64 }{{0, 25}, {0, ^uint64(0)}, {3, 4}, {10, 20}, {24, 100}, {25, 30}, {7, 7}, {9, 2}} {
		var want []*audit.Record
		for _, r := range recs {
			if r.Sequence >= c.from && r.Sequence < c.to {
				want = append(want, r)
			}
		}
		got := collect(t, inst.Store.Range(ctx, c.from, c.to))
		if diff := cmp.Diff(ids(want), ids(got)); diff != "" {
			t.Errorf("Range(%d, %d) (-want +got):\n%s", c.from, c.to, diff)
		}
	}
}

func testSignatures(t *testing.T, h Harness) {
	ctx := context.Background()
	inst, v := open(t, h, defaultOpts())
	recs := samples(3)
	appendAll(t, inst.Store, recs)
	id := recs[1].RecordID
	sig := func(signer, s string, at time.Time) audit.Signature {
		return audit.Signature{Signer: signer, Signature: s, Algorithm: audit.AlgorithmEd25519, Timestamp: at}
	}
	steps := []audit.Signature{
		sig("bob", "Ym9i", base.Add(1)),
		sig("alice", "YWxpY2U=", base.Add(2)),
		sig("bob", "Ym9iMg==", base.Add(3)), // replaces bob's first
	}
	for _, s := range steps {
		// Read first, so a cache in front of the store holds the record.
		if _, err := inst.Store.Get(ctx, id); err != nil {
			t.Fatal(err)
		}
		if err := inst.Store.AddSignature(ctx, id, s); err != nil {
			t.Fatalf("AddSignature(%s): %v", s.Signer, err)
		}
	}
	got, err := inst.Store.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	want := recs[1].Clone()
	want.Signatures = []audit.Signature{steps[1], steps[2]}
	if diff := cmp.Diff(exportForm(t, want), exportForm(t, got)); diff != "" {
		t.Errorf("signatures after add and replace (-want +got):\n%s", diff)
	}
	q := collect(t, inst.Store.Query(ctx, audit.Filter{Target: recs[1].Target, Limit: -1}))
	if len(q) != 1 || len(q[0].Signatures) != 2 {
		t.Errorf("Query sees %d records, signatures %v", len(q), q)
	}
	if err := inst.Store.AddSignature(ctx, audit.NewID(), steps[0]); !errors.Is(err, audit.ErrNotFound) {
		t.Errorf("AddSignature to a missing record: %v, want ErrNotFound", err)
	}
	bad := steps[0]
	bad.Algorithm = "RSA"
	if err := inst.Store.AddSignature(ctx, id, bad); err == nil {
		t.Error("AddSignature with algorithm RSA succeeded")
	}
	// Signatures are outside the hash: the chain still verifies.
	verify(t, v)
}

func testStatus(t *testing.T, h Harness) {
	ctx := context.Background()
	inst, v := open(t, h, defaultOpts())
	recs := samples(4)
	appendAll(t, inst.Store, recs)
	id := recs[2].RecordID
	for _, st := range []audit.Status{audit.StatusAnalyzed, audit.StatusVerified, audit.StatusExported} {
		if _, err := inst.Store.Get(ctx, id); err != nil { // warm any cache
			t.Fatal(err)
		}
		collect(t, inst.Store.Query(ctx, audit.Filter{Limit: -1}))
		if err := inst.Store.SetStatus(ctx, id, st); err != nil {
			t.Fatalf("SetStatus(%s): %v", st, err)
		}
		got, err := inst.Store.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != st {
			t.Errorf("status after SetStatus(%s) = %s", st, got.Status)
		}
		q := collect(t, inst.Store.Query(ctx, audit.Filter{Limit: -1}))
		if q[2].Status != st {
			t.Errorf("Query after SetStatus(%s) shows %s", st, q[2].Status)
		}
	}
	if err := inst.Store.SetStatus(ctx, audit.NewID(), audit.StatusVerified); !errors.Is(err, audit.ErrNotFound) {
		t.Errorf("SetStatus of a missing record: %v, want ErrNotFound", err)
	}
	if err := inst.Store.SetStatus(ctx, id, "gone"); err == nil {
		t.Error("SetStatus to an unknown status succeeded")
	}
	verify(t, v)
}

func testAtomicBatch(t *testing.T, h Harness) {
	ctx := context.Background()
	inst, v := open(t, h, defaultOpts())
	appendAll(t, inst.Store, samples(3))
	head, _ := inst.Store.Head(ctx)
	cases := map[string]func() ([]*audit.Record, int){
		"empty actor": func() ([]*audit.Record, int) {
			b := samples(5)
			b[2].Actor = " "
			return b, 2
		},
		"unknown target type": func() ([]*audit.Record, int) {
			b := samples(4)
			b[3].TargetType = "planet"
			return b, 3
		},
		"invalid utf-8": func() ([]*audit.Record, int) {
			b := samples(3)
			b[0].Context["bad"] = "\xff"
			return b, 0
		},
		"duplicate id in batch": func() ([]*audit.Record, int) {
			b := samples(4)
			b[3].RecordID = b[1].RecordID
			return b, -1
		},
	}
	for name, mk := range cases {
		t.Run(name, func(t *testing.T) {
			batch, bad := mk()
			err := inst.Store.Append(ctx, batch)
			if err == nil {
				t.Fatal("append of a batch with an invalid record succeeded")
			}
			var be *ledger.BatchError
			if bad >= 0 && (!errors.As(err, &be) || be.Index != bad) {
				t.Errorf("error %v does not name record %d of the batch", err, bad)
			}
			if got, _ := inst.Store.Head(ctx); got != head {
				t.Errorf("head moved from %+v to %+v", head, got)
			}
			for _, r := range batch {
				if _, err := inst.Store.Get(ctx, r.RecordID); !errors.Is(err, audit.ErrNotFound) {
					t.Errorf("record %s of the failed batch: Get = %v, want ErrNotFound", r.RecordID, err)
				}
			}
		})
	}
	// A good batch after the failures links to the same tip.
	good := samples(2)
	if err := inst.Store.Append(ctx, good); err != nil {
		t.Fatal(err)
	}
	if good[0].Sequence != head.Size || good[0].PreviousHash != head.Hash {
		t.Errorf("next batch starts at %d after %s, want %d after %s", good[0].Sequence, good[0].PreviousHash, head.Size, head.Hash)
	}
	verify(t, v)
}

// One UUID names one record. A second record with a record_id already in
// the trail is refused with audit.ErrDuplicateID, appended alone, twice in
// one batch or in a stream; another spelling of a UUID (upper case,
// urn:uuid:, braces, no hyphens) is refused as invalid, so that no store
// holds one UUID under two spellings (a UUID column would see a duplicate
// where the chain sees two records). Finding and violation ids too.
func testOneUUIDOneRecord(t *testing.T, h Harness) {
	ctx := context.Background()
	inst, v := open(t, h, defaultOpts())
	recs := samples(3)
	appendAll(t, inst.Store, recs)
	head, _ := inst.Store.Head(ctx)
	id := recs[1].RecordID
	other := audit.NewID()
	for _, spelling := range []string{strings.ToUpper(id), "urn:uuid:" + id, "URN:UUID:" + strings.ToUpper(id), "{" + id + "}",
		strings.ReplaceAll(id, "-", ""), strings.ToUpper(other), "{" + other + "}"} {
		r := Sample(50)
		r.RecordID = spelling
		err := inst.Store.Append(ctx, []*audit.Record{Sample(51), r})
		var be *ledger.BatchError
		if !errors.Is(err, audit.ErrInvalid) || !errors.As(err, &be) || be.Index != 1 || !strings.Contains(err.Error(), "record_id") {
			t.Errorf("record_id %s: Append = %v, want record 1 of the batch refused as invalid", spelling, err)
		}
	}
	for _, mutate := range []func(*audit.Record){
		func(r *audit.Record) {
			r.Findings = []audit.Finding{{FindingID: strings.ToUpper(audit.NewID()), FindingType: "t"}}
		},
		func(r *audit.Record) {
			r.Violations = []audit.Violation{{ViolationID: "urn:uuid:" + audit.NewID(), Rule: "r"}}
		},
	} {
		r := Sample(52)
		mutate(r)
		if err := inst.Store.Append(ctx, []*audit.Record{r}); !errors.Is(err, audit.ErrInvalid) {
			t.Errorf("finding or violation id in another spelling: Append = %v, want ErrInvalid", err)
		}
	}
	dup := func(r *audit.Record, id string) *audit.Record { r.RecordID = id; return r }
	batches := map[string][]*audit.Record{
		"alone":            {dup(Sample(53), id)},
		"after another":    {Sample(54), dup(Sample(55), id)},
		"twice in a batch": {dup(Sample(56), other), dup(Sample(57), other)},
		"twice, one mine":  {Sample(58), dup(Sample(59), recs[2].RecordID), Sample(60)},
	}
	for name, batch := range batches {
		if err := inst.Store.Append(ctx, batch); !errors.Is(err, audit.ErrDuplicateID) {
			t.Errorf("%s: Append = %v, want audit.ErrDuplicateID", name, err)
		}
	}
	if st, ok := inst.Store.(Streamer); ok {
		_, err := st.AppendStream(ctx, func(yield func(*audit.Record, error) bool) {
			for i := range 1500 {
				r := Sample(100 + i)
				if i == 1200 {
					r.RecordID = id
				}
				if !yield(r, nil) {
					return
				}
			}
		})
		if !errors.Is(err, audit.ErrDuplicateID) {
			t.Errorf("AppendStream with a record_id already in the trail = %v, want audit.ErrDuplicateID", err)
		}
	}
	if got, _ := inst.Store.Head(ctx); got != head {
		t.Errorf("refused appends moved the head from %+v to %+v", head, got)
	}
	if _, err := inst.Store.Get(ctx, other); !errors.Is(err, audit.ErrNotFound) {
		t.Errorf("record %s of a refused batch: Get = %v, want ErrNotFound", other, err)
	}
	verify(t, v)
}

func testAppendStream(t *testing.T, h Harness) {
	ctx := context.Background()
	inst, v := open(t, h, defaultOpts())
	st, ok := inst.Store.(Streamer)
	if !ok {
		t.Skipf("%T has no AppendStream", inst.Store)
	}
	n := 2500
	stream := func(n int, fail func(i int, r *audit.Record) error) iter.Seq2[*audit.Record, error] {
		return func(yield func(*audit.Record, error) bool) {
			for i := range n {
				r := Sample(i)
				if fail != nil {
					if err := fail(i, r); err != nil {
						yield(nil, err)
						return
					}
				}
				if !yield(r, nil) {
					return
				}
			}
		}
	}
	appendAll(t, inst.Store, samples(2))
	got, err := st.AppendStream(ctx, stream(n, nil))
	if err != nil || got != n {
		t.Fatalf("AppendStream = %d, %v; want %d", got, err, n)
	}
	head, _ := inst.Store.Head(ctx)
	if head.Size != uint64(n+2) {
		t.Fatalf("head size %d after streaming %d", head.Size, n)
	}
	res := verify(t, v)
	if res.Size != head.Size || res.LastHash != head.Hash {
		t.Fatalf("verify %d %s, head %+v", res.Size, res.LastHash, head)
	}
	// A stream that fails or holds an invalid record appends nothing.
	boom := errors.New("source broke")
	if _, err := st.AppendStream(ctx, stream(1500, func(i int, _ *audit.Record) error {
		if i == 1400 {
			return boom
		}
		return nil
	})); !errors.Is(err, boom) {
		t.Errorf("failing stream: %v, want %v", err, boom)
	}
	_, err = st.AppendStream(ctx, stream(1500, func(i int, r *audit.Record) error {
		if i == 1234 {
			r.Action = ""
		}
		return nil
	}))
	var be *ledger.BatchError
	if !errors.As(err, &be) || be.Index != 1234 {
		t.Errorf("invalid record in stream: %v, want it named as record 1234", err)
	}
	if h2, _ := inst.Store.Head(ctx); h2 != head {
		t.Errorf("failed streams moved the head from %+v to %+v", head, h2)
	}
	if n, err := st.AppendStream(ctx, stream(0, nil)); n != 0 || err != nil {
		t.Errorf("empty stream = %d, %v", n, err)
	}
	more := samples(3)
	if err := inst.Store.Append(ctx, more); err != nil {
		t.Fatal(err)
	}
	verify(t, v)
}

func testProofOfWork(t *testing.T, h Harness) {
	opts := defaultOpts()
	opts.Difficulty = 2
	inst, v := open(t, h, opts)
	if v.Difficulty() != 2 {
		t.Fatalf("difficulty %d, want 2", v.Difficulty())
	}
	recs := samples(5)
	appendAll(t, inst.Store, recs)
	for _, r := range recs {
		if !strings.HasPrefix(r.RecordHash, "00") {
			t.Errorf("record %d hash %s does not meet difficulty 2", r.Sequence, r.RecordHash)
		}
	}
	verify(t, v)
}

func testConcurrent(t *testing.T, h Harness) {
	ctx := context.Background()
	inst, v := open(t, h, defaultOpts())
	writers, each := 16, 40
	if h.Slow {
		each = 15
	}
	var mu sync.Mutex
	var all []string
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				batch := samples(1 + (w+i)%3)
				if err := inst.Store.Append(ctx, batch); err != nil {
					errs <- err
					return
				}
				mu.Lock()
				all = append(all, ids(batch)...)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	head, _ := inst.Store.Head(ctx)
	if head.Size != uint64(len(all)) {
		t.Fatalf("head size %d, appended %d", head.Size, len(all))
	}
	res := verify(t, v)
	if res.Size != uint64(len(all)) {
		t.Fatalf("verified %d records, appended %d", res.Size, len(all))
	}
	stored := ids(collect(t, inst.Store.Range(ctx, 0, head.Size)))
	slices.Sort(stored)
	slices.Sort(all)
	if diff := cmp.Diff(all, stored); diff != "" {
		t.Errorf("stored ids differ from appended ids (-appended +stored):\n%s", diff)
	}
}

func testSchemaNewer(t *testing.T, h Harness) {
	ctx := context.Background()
	inst, _ := open(t, h, defaultOpts())
	if inst.Tamper == nil || inst.Reopen == nil {
		t.Skip("the harness cannot edit the schema version")
	}
	appendAll(t, inst.Store, samples(2))
	if err := inst.Store.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := inst.Reopen(ctx)
	if err != nil {
		t.Fatalf("reopen at the current version: %v", err)
	}
	s.Close()
	if err := inst.Tamper.SetSchemaVersion(ctx, 9999); err != nil {
		t.Fatal(err)
	}
	s, err = inst.Reopen(ctx)
	if err == nil {
		s.Close()
		t.Fatal("a store with schema version 9999 was opened")
	}
	if !errors.Is(err, audit.ErrSchemaNewer) || !strings.Contains(err.Error(), "9999") {
		t.Errorf("error %q does not say the schema (9999) is newer (want audit.ErrSchemaNewer)", err)
	}
}

// newLogKey returns a signer and verifier for a log's tree heads.
func newLogKey(t *testing.T, name string) (note.Signer, note.Verifier) {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		t.Fatal(err)
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return s, v
}

func readRow(t *testing.T, v Verifiable, seq uint64) Row {
	t.Helper()
	var row Row
	found := false
	err := v.ScanRaw(context.Background(), seq, seq+1, func(r *ledger.RawRecord) error {
		var id struct {
			RecordID string `json:"record_id"`
		}
		if err := json.Unmarshal(r.Body, &id); err != nil {
			return err
		}
		row = Row{Seq: r.Seq, ID: id.RecordID, Hash: slices.Clone(r.Hash), Body: slices.Clone(r.Body), Tree: slices.Clone(r.Tree)}
		found = true
		return nil
	})
	if err != nil || !found {
		t.Fatalf("read row %d: %v (found %v)", seq, err, found)
	}
	return row
}

// checkValues checks that the store keeps, beside the records, exactly the
// values and salts of their committed fields that Append disclosed.
func checkValues(t *testing.T, s audit.Store, recs []*audit.Record) {
	t.Helper()
	vr, ok := s.(ledger.ValueReader)
	if !ok {
		t.Fatalf("%T does not implement ledger.ValueReader", s)
	}
	var seqs []uint64
	want := map[uint64]map[string]string{}
	for _, r := range recs {
		if r.Classification == audit.ClassConfidential && len(r.Commitments) == 0 {
			t.Fatalf("record %d is confidential and was appended without commitments", r.Sequence)
		}
		if len(r.Commitments) == 0 {
			continue
		}
		if len(r.Context) != 0 || len(r.Metadata) != 0 {
			t.Fatalf("record %d keeps committed values in the clear: %v %v", r.Sequence, r.Context, r.Metadata)
		}
		seqs = append(seqs, r.Sequence)
		want[r.Sequence] = map[string]string{}
		for f, d := range r.Disclosures {
			v, err := canonical.Marshal(d.Value)
			if err != nil {
				t.Fatal(err)
			}
			want[r.Sequence][f] = d.Salt + " " + string(v)
		}
	}
	if len(seqs) == 0 {
		t.Fatal("no record with commitments among the samples")
	}
	got := map[uint64]map[string]string{}
	err := vr.FieldValues(context.Background(), seqs, func(seq uint64, v ledger.FieldValue) error {
		if got[seq] == nil {
			got[seq] = map[string]string{}
		}
		got[seq][v.Field] = hex.EncodeToString(v.Salt) + " " + string(v.Value)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("stored values of committed fields (-disclosed +stored):\n%s", diff)
	}
}
