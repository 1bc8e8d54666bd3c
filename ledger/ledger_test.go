package ledger

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	audit "github.com/ami-orchestrator/ami-audit"
)

// memLog is a minimal in-memory store of linked rows, for unit tests.
type memLog struct {
	rows []RawRecord
}

func (m *memLog) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	return BlobHashReader(func(leaf uint64) ([]byte, error) {
		if leaf >= uint64(len(m.rows)) {
			return nil, fmt.Errorf("no leaf %d", leaf)
		}
		return m.rows[leaf].Tree, nil
	}).ReadHashes(indexes)
}

func (m *memLog) tip() audit.Head {
	if len(m.rows) == 0 {
		return audit.Head{Hash: audit.GenesisHash}
	}
	last := m.rows[len(m.rows)-1]
	return audit.Head{Size: uint64(len(m.rows)), Hash: hex.EncodeToString(last.Hash)}
}

func (m *memLog) append(t testing.TB, difficulty int, recs ...*audit.Record) {
	t.Helper()
	entries, _, err := Link(m.tip(), recs, Params{Difficulty: difficulty}, m)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		m.rows = append(m.rows, RawRecord{Seq: e.Record.Sequence, Hash: append([]byte(nil), e.Hash[:]...), Body: e.Body, Tree: e.TreeBlob()})
	}
}

func (m *memLog) ScanRaw(_ context.Context, from, to uint64, fn func(*RawRecord) error) error {
	for i := range m.rows {
		r := m.rows[i]
		if r.Seq < from || r.Seq >= to {
			continue
		}
		if err := fn(&r); err != nil {
			return err
		}
	}
	return nil
}

func rec(i int) *audit.Record {
	r := audit.New("actor", "act", fmt.Sprintf("target-%d", i), audit.TargetFile)
	r.Context = map[string]any{"i": i, "note": "ünïcødé \"quoted\""}
	return r
}

func build(t testing.TB, n, difficulty int) *memLog {
	m := &memLog{}
	for i := 0; i < n; {
		batch := min(1+i%7, n-i)
		var recs []*audit.Record
		for j := 0; j < batch; j++ {
			recs = append(recs, rec(i+j))
		}
		m.append(t, difficulty, recs...)
		i += batch
	}
	return m
}

func TestAccumulatorMatchesTlog(t *testing.T) {
	m := build(t, 300, 0)
	var acc Accumulator
	var out []tlog.Hash
	for i, row := range m.rows {
		out = acc.Add(LeafHash([32]byte(row.Hash)), out)
		want, err := tlog.StoredHashesForRecordHash(int64(i), LeafHash([32]byte(row.Hash)), m)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(out) != fmt.Sprint(want) {
			t.Fatalf("leaf %d: stored hashes differ from tlog", i)
		}
		root, err := TreeRoot(uint64(i+1), m)
		if err != nil {
			t.Fatal(err)
		}
		if acc.Root() != root {
			t.Fatalf("size %d: root %v, tlog %v", i+1, acc.Root(), root)
		}
		fr, err := Frontier(uint64(i+1), m)
		if err != nil || fr.Root() != root || fmt.Sprint(fr.stack) != fmt.Sprint(acc.stack) {
			t.Fatalf("size %d: frontier rebuilt from stored hashes differs (%v)", i+1, err)
		}
	}
	var empty Accumulator
	if r, _ := TreeRoot(0, m); empty.Root() != r || r != tlog.Hash(sha256.Sum256(nil)) {
		t.Error("empty tree root is not SHA-256 of nothing")
	}
}

func TestLinkChainsRecords(t *testing.T) {
	m := build(t, 20, 0)
	prev := audit.GenesisHash
	for i, row := range m.rows {
		f, err := scanChainFields(row.Body)
		if err != nil {
			t.Fatal(err)
		}
		if string(f.previousHash) != prev || f.sequence != uint64(i) {
			t.Fatalf("record %d: previous %s sequence %d", i, f.previousHash, f.sequence)
		}
		sum := sha256.Sum256(row.Body)
		if string(row.Hash) != string(sum[:]) {
			t.Fatalf("record %d: hash is not SHA-256 of body", i)
		}
		prev = hex.EncodeToString(sum[:])
	}
}

func TestLinkRefusesInvalidRecordNamingIt(t *testing.T) {
	m := &memLog{}
	bad := rec(1)
	bad.Actor = ""
	_, _, err := Link(m.tip(), []*audit.Record{rec(0), bad}, Params{}, m)
	var be *BatchError
	if !errors.As(err, &be) || be.Index != 1 || !strings.Contains(err.Error(), "actor") {
		t.Fatalf("err = %v, want BatchError for record 2 naming actor", err)
	}
}

func TestProofOfWork(t *testing.T) {
	m := build(t, 5, 2)
	for _, row := range m.rows {
		if !strings.HasPrefix(hex.EncodeToString(row.Hash), "00") {
			t.Fatalf("hash %x does not meet difficulty 2", row.Hash)
		}
	}
	if _, err := VerifyChain(context.Background(), m, VerifyOptions{Difficulty: 2}); err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyChain(context.Background(), build(t, 5, 0), VerifyOptions{Difficulty: 1}); err == nil {
		// Some hashes may start with 0 by chance; five in a row is 1 in 16^5.
		t.Fatal("difficulty not enforced")
	}
	if _, _, err := Link(audit.Head{}, []*audit.Record{rec(0)}, Params{Difficulty: MaxDifficulty + 1}, nil); err == nil {
		t.Error("difficulty beyond the maximum accepted")
	}
}

func TestVerifyChainCatchesTampering(t *testing.T) {
	ctx := context.Background()
	good := build(t, 40, 0)
	res, err := VerifyChain(ctx, good, VerifyOptions{RootsAt: []uint64{10, 40}})
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := TreeRoot(40, good); res.Root != want || res.RootsAt[40] != want || res.Size != 40 {
		t.Fatal("verified root differs from tree root")
	}
	clone := func() *memLog {
		c := &memLog{rows: make([]RawRecord, len(good.rows))}
		for i, r := range good.rows {
			c.rows[i] = RawRecord{Seq: r.Seq, Hash: append([]byte(nil), r.Hash...), Body: append([]byte(nil), r.Body...), Tree: append([]byte(nil), r.Tree...)}
		}
		return c
	}
	tests := []struct {
		name   string
		tamper func(*memLog)
		seq    uint64
		reason string
	}{
		{"changed field", func(m *memLog) {
			m.rows[12].Body = []byte(strings.Replace(string(m.rows[12].Body), `"actor":"actor"`, `"actor":"mallory"`, 1))
		}, 12, "record_hash mismatch"},
		{"deleted middle row", func(m *memLog) { m.rows = append(m.rows[:7], m.rows[8:]...) }, 7, "missing"},
		{"swapped rows", func(m *memLog) {
			m.rows[20].Body, m.rows[21].Body = m.rows[21].Body, m.rows[20].Body
			m.rows[20].Hash, m.rows[21].Hash = m.rows[21].Hash, m.rows[20].Hash
		}, 20, "stored at 20"},
		{"rows out of order", func(m *memLog) { m.rows[20], m.rows[21] = m.rows[21], m.rows[20] }, 20, "missing"},
		{"deleted first row", func(m *memLog) { m.rows = m.rows[1:] }, 0, "missing"},
		{"changed tree hash", func(m *memLog) { m.rows[5].Tree[0] ^= 1 }, 5, "Merkle"},
		{"hash recomputed for changed body", func(m *memLog) {
			b := []byte(strings.Replace(string(m.rows[30].Body), `"action":"act"`, `"action":"hid"`, 1))
			sum := sha256.Sum256(b)
			m.rows[30].Body, m.rows[30].Hash = b, sum[:]
		}, 30, "Merkle tree hash"},
		{"hash and tree recomputed for changed body", func(m *memLog) {
			b := []byte(strings.Replace(string(m.rows[30].Body), `"action":"act"`, `"action":"hid"`, 1))
			sum := sha256.Sum256(b)
			m.rows[30].Body, m.rows[30].Hash = b, sum[:]
			tree, err := tlog.StoredHashesForRecordHash(30, LeafHash(sum), m)
			if err != nil {
				t.Fatal(err)
			}
			m.rows[30].Tree = (&Entry{Tree: tree}).TreeBlob()
		}, 31, "previous_hash mismatch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := clone()
			tt.tamper(m)
			_, err := VerifyChain(ctx, m, VerifyOptions{})
			var ce *ChainError
			if !errors.As(err, &ce) || !errors.Is(err, ErrTampered) {
				t.Fatalf("err = %v, want a ChainError", err)
			}
			if ce.Seq != tt.seq || !strings.Contains(ce.Reason, tt.reason) {
				t.Errorf("got %v, want record %d and %q", ce, tt.seq, tt.reason)
			}
		})
	}
}

func TestCheckpointAgainstTruncationAndRewrite(t *testing.T) {
	ctx := context.Background()
	m := build(t, 30, 0)
	res, _ := VerifyChain(ctx, m, VerifyOptions{})
	cp := Checkpoint{Origin: "test/log", Size: res.Size, Root: res.Root}

	// The log grows: the checkpoint is consistent with it.
	m.append(t, 0, rec(100), rec(101))
	res2, err := VerifyChain(ctx, m, VerifyOptions{RootsAt: []uint64{cp.Size}})
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckCheckpoint(cp, res2, m); err != nil {
		t.Fatalf("grown log does not extend checkpoint: %v", err)
	}

	// Truncated tail.
	short := &memLog{rows: m.rows[:25]}
	res3, _ := VerifyChain(ctx, short, VerifyOptions{RootsAt: []uint64{cp.Size}})
	var ce *ChainError
	if err := CheckCheckpoint(cp, res3, short); !errors.As(err, &ce) || ce.Seq != 25 {
		t.Fatalf("truncation: %v, want record 25 missing", err)
	}

	// Tail rewritten from record 20 with recomputed hashes.
	rewritten := &memLog{rows: append([]RawRecord(nil), m.rows[:20]...)}
	for i := 20; i < 32; i++ {
		r := rec(i)
		r.Actor = "mallory"
		rewritten.append(t, 0, r)
	}
	res4, err := VerifyChain(ctx, rewritten, VerifyOptions{RootsAt: []uint64{cp.Size}})
	if err != nil {
		t.Fatalf("a rewritten tail is a valid chain on its own: %v", err)
	}
	if err := CheckCheckpoint(cp, res4, rewritten); !errors.Is(err, ErrTampered) {
		t.Fatalf("rewrite not caught by checkpoint: %v", err)
	}
}

func TestCheckpointText(t *testing.T) {
	_, vkey, signer := newKey(t, "example.com/log")
	v, _ := note.NewVerifier(vkey)
	cp := Checkpoint{Origin: "example.com/log", Size: 12, Root: tlog.Hash{1, 2, 3}}
	msg, err := cp.Sign(signer)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(msg), "example.com/log\n12\nAQID") {
		t.Errorf("not a C2SP checkpoint: %q", msg)
	}
	got, _, err := OpenCheckpoint(msg, note.VerifierList(v))
	if err != nil || got != cp {
		t.Fatalf("OpenCheckpoint = %+v, %v", got, err)
	}
	tampered := strings.Replace(string(msg), "\n12\n", "\n13\n", 1)
	if _, _, err := OpenCheckpoint([]byte(tampered), note.VerifierList(v)); err == nil {
		t.Error("altered checkpoint accepted")
	}
	_, otherV, _ := newKey(t, "example.com/log")
	ov, _ := note.NewVerifier(otherV)
	if _, _, err := OpenCheckpoint(msg, note.VerifierList(ov)); err == nil {
		t.Error("checkpoint accepted with another log's key")
	}
	for _, bad := range []string{"", "origin\n", "origin\n01\nAAAA\n", "origin\n-1\n" + strings.Repeat("A", 44) + "\n", "origin\n3\nnot base64\n"} {
		if _, err := ParseCheckpoint(bad); err == nil {
			t.Errorf("ParseCheckpoint(%q) accepted", bad)
		}
	}
}

func newKey(t testing.TB, name string) (skey, vkey string, s note.Signer) {
	skey, vkey, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		t.Fatal(err)
	}
	s, err = note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	return skey, vkey, s
}

func TestSignaturesAndQuorum(t *testing.T) {
	r := rec(0)
	r.RecordHash = strings.Repeat("ab", 32)
	var verifiers []note.Verifier
	var signers []note.Signer
	for _, name := range []string{"alice", "bob", "carol"} {
		_, vkey, s := newKey(t, name)
		v, _ := note.NewVerifier(vkey)
		verifiers, signers = append(verifiers, v), append(signers, s)
	}
	for _, s := range signers[:2] {
		sig, err := SignRecord(s, r.RecordHash, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		r.Signatures = append(r.Signatures, sig)
	}
	_, mallory, ms := newKey(t, "mallory")
	_ = mallory
	msig, _ := SignRecord(ms, r.RecordHash, time.Now())
	r.Signatures = append(r.Signatures, msig)
	c := CheckSignatures(r, verifiers)
	if len(c.Valid) != 2 || len(c.Invalid) != 0 || len(c.Unknown) != 1 {
		t.Fatalf("check = %+v", c)
	}
	// A signature moved to another record does not verify.
	other := rec(1)
	other.RecordHash = strings.Repeat("cd", 32)
	other.Signatures = []audit.Signature{r.Signatures[0]}
	if c := CheckSignatures(other, verifiers); len(c.Invalid) != 1 {
		t.Fatalf("replayed signature accepted: %+v", c)
	}
	// A forged signature in a trusted signer's name does not verify.
	forged := r.Signatures[2]
	forged.Signer = "carol"
	r.Signatures = append(r.Signatures, forged)
	if c := CheckSignatures(r, verifiers); len(c.Invalid) != 1 || c.Invalid[0] != "carol" {
		t.Fatalf("forged signature: %+v", c)
	}
	for in, want := range map[string]Quorum{"2/3": {2, 3}, "4-of-5": {4, 5}} {
		if q, err := ParseQuorum(in); err != nil || q != want {
			t.Errorf("ParseQuorum(%q) = %v, %v", in, q, err)
		}
	}
	for _, bad := range []string{"3/2", "0/3", "x", "2"} {
		if _, err := ParseQuorum(bad); err == nil {
			t.Errorf("ParseQuorum(%q) accepted", bad)
		}
	}
}

func FuzzScanChainFields(f *testing.F) {
	m := build(f, 3, 0)
	for _, r := range m.rows {
		f.Add(r.Body)
	}
	f.Add([]byte(`{"context":{"previous_hash":"x"},"previous_hash":"y"}`))
	f.Add([]byte(`{"a":"\\\"","b":[{"c":"]}"}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		scanChainFields(b) // must not panic or hang
	})
}

func TestScanChainFieldsIgnoresNestedKeys(t *testing.T) {
	f, err := scanChainFields([]byte(`{"context":{"previous_hash":"x","sequence":9},"previous_hash":"y","record_id":"id","sequence":3}`))
	if err != nil || string(f.previousHash) != "y" || f.sequence != 3 || string(f.recordID) != "id" {
		t.Fatalf("got %+v, %v", f, err)
	}
}

func TestVerifyChainAcrossChunks(t *testing.T) {
	ctx := context.Background()
	m := &memLog{}
	var recs []*audit.Record
	for i := 0; i < 5000; i++ {
		recs = append(recs, rec(i))
	}
	m.append(t, 0, recs...)
	res, err := VerifyChain(ctx, m, VerifyOptions{RootsAt: []uint64{1024, 4999}})
	if err != nil || res.Size != 5000 {
		t.Fatalf("VerifyChain = %d, %v", res.Size, err)
	}
	for _, n := range []uint64{1024, 4999} {
		if want, _ := TreeRoot(n, m); res.RootsAt[n] != want {
			t.Errorf("root at %d wrong", n)
		}
	}
	m.rows[3001].Body[10] ^= 1
	_, err = VerifyChain(ctx, m, VerifyOptions{})
	var ce *ChainError
	if !errors.As(err, &ce) || ce.Seq != 3001 {
		t.Fatalf("err = %v, want record 3001", err)
	}
	boom := errors.New("disk on fire")
	_, err = VerifyChain(ctx, failingScanner{m, 2500, boom}, VerifyOptions{})
	if !errors.Is(err, boom) {
		t.Fatalf("read error lost: %v", err)
	}
}

type failingScanner struct {
	m    *memLog
	at   uint64
	fail error
}

func (f failingScanner) ScanRaw(ctx context.Context, from, to uint64, fn func(*RawRecord) error) error {
	return f.m.ScanRaw(ctx, from, to, func(r *RawRecord) error {
		if r.Seq == f.at {
			return f.fail
		}
		return fn(r)
	})
}

func TestVerifyChainChecksIndexedColumns(t *testing.T) {
	m := build(t, 10, 0)
	for i := range m.rows {
		var r audit.Record
		if err := r.UnmarshalJSON(m.rows[i].Body); err != nil {
			t.Fatal(err)
		}
		m.rows[i].Indexed = &IndexedFields{[]byte(audit.FormatTime(r.Timestamp)), []byte(r.Actor), []byte(r.Action), []byte(r.Target), []byte(r.TargetType), []byte(r.Severity)}
	}
	if _, err := VerifyChain(context.Background(), m, VerifyOptions{}); err != nil {
		t.Fatalf("untouched columns: %v", err)
	}
	for i, name := range IndexedNames {
		saved := m.rows[6].Indexed[i]
		m.rows[6].Indexed[i] = []byte("forged")
		_, err := VerifyChain(context.Background(), m, VerifyOptions{})
		var ce *ChainError
		if !errors.As(err, &ce) || ce.Seq != 6 || !strings.Contains(ce.Reason, name+" column") {
			t.Errorf("%s column changed: %v", name, err)
		}
		m.rows[6].Indexed[i] = saved
	}
	if !sameString([]byte(`"a\"b\u00e9"`), []byte(`a"bé`)) || sameString([]byte(`"ab"`), []byte("ac")) {
		t.Error("sameString wrong")
	}
}

// sizedLog reports its size, so VerifyChain reads it in parallel blocks.
type sizedLog struct{ *memLog }

func (s sizedLog) Head(context.Context) (audit.Head, error) {
	return audit.Head{Size: s.rows[len(s.rows)-1].Seq + 1}, nil
}

func TestVerifyChainParallelBlocks(t *testing.T) {
	ctx := context.Background()
	m := &memLog{}
	var recs []*audit.Record
	for i := 0; i < 3*blockRows+17; i++ {
		recs = append(recs, rec(i))
	}
	m.append(t, 0, recs...)
	want, _ := VerifyChain(ctx, m, VerifyOptions{})
	got, err := VerifyChain(ctx, sizedLog{m}, VerifyOptions{RootsAt: []uint64{blockRows + 1}})
	if err != nil || got.Root != want.Root || got.Size != want.Size || got.LastHash != want.LastHash {
		t.Fatalf("parallel = %+v, %v; sequential = %+v", got, err, want)
	}
	if r, _ := TreeRoot(blockRows+1, m); got.RootsAt[blockRows+1] != r {
		t.Error("root at a block boundary wrong")
	}
	saved := m.rows[2*blockRows+5].Body[20]
	m.rows[2*blockRows+5].Body[20] ^= 1
	_, err = VerifyChain(ctx, sizedLog{m}, VerifyOptions{})
	var ce *ChainError
	if !errors.As(err, &ce) || ce.Seq != 2*blockRows+5 {
		t.Fatalf("err = %v, want record %d", err, 2*blockRows+5)
	}
	m.rows[2*blockRows+5].Body[20] = saved
	// A deleted row in the last block, and a read error.
	gap := &memLog{rows: append(append([]RawRecord(nil), m.rows[:3*blockRows]...), m.rows[3*blockRows+1:]...)}
	if _, err := VerifyChain(ctx, sizedLog{gap}, VerifyOptions{}); !errors.As(err, &ce) || ce.Seq != 3*blockRows {
		t.Fatalf("gap: %v", err)
	}
	boom := errors.New("disk on fire")
	if _, err := VerifyChain(ctx, sizedFailing{failingScanner{m, blockRows + 3, boom}}, VerifyOptions{}); !errors.Is(err, boom) {
		t.Fatalf("read error lost: %v", err)
	}
}

type sizedFailing struct{ failingScanner }

func (s sizedFailing) Head(ctx context.Context) (audit.Head, error) { return sizedLog{s.m}.Head(ctx) }
