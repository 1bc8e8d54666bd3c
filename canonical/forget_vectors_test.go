package canonical_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"testing"
	"time"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/canonical"
	"github.com/ami-orchestrator/ami-audit/ledger"
)

// commitmentVector is one field commitment: the commitment to Value as
// the field named Field, with the salt (hex).
type commitmentVector struct {
	Name       string          `json:"name"`
	Field      string          `json:"field"`
	Salt       string          `json:"salt"`
	Value      json.RawMessage `json:"value"`
	Commitment string          `json:"commitment"`
}

// forgettingVector is a chain in export form that forgot: a record with
// commitments, some values disclosed and one redacted, two pruned records,
// and the redaction and retention records that say so.
type forgettingVector struct {
	Description string            `json:"description"`
	Export      []json.RawMessage `json:"export"`
	MerkleRoot  string            `json:"merkle_root"`
	Pruned      []uint64          `json:"pruned"`
	Redacted    []string          `json:"redacted"`
}

var commitmentCases = []struct{ name, field, value string }{
	{"string", "context.user_email", `"ana@example.org"`},
	{"number", "metadata.ticket", `118`},
	{"object with Unicode", "context.profile", `{"name":"Zoë","roles":["admin","ops"],"active":true}`},
	{"null", "context.gone", `null`},
	{"key with a dot and a quote", `context.a."b`, `"x"`},
	{"empty key", "metadata.", `""`},
}

// salt returns a made-up salt: 32 bytes of b.
func salt(b byte) []byte { return bytes.Repeat([]byte{b}, audit.SaltSize) }

func buildCommitmentVectors(t *testing.T) []commitmentVector {
	t.Helper()
	var out []commitmentVector
	for i, c := range commitmentCases {
		v, err := canonical.Decode([]byte(c.value))
		if err != nil {
			t.Fatal(err)
		}
		s := salt(byte(i + 1))
		cm, err := audit.Commitment(c.field, s, v)
		if err != nil {
			t.Fatal(err)
		}
		// The same from the canonical bytes, as a store keeps them.
		b, err := canonical.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if cm2, err := audit.CommitmentOf(c.field, s, b); err != nil || cm2 != cm {
			t.Fatalf("%s: CommitmentOf = %s, %v; Commitment = %s", c.name, cm2, err, cm)
		}
		out = append(out, commitmentVector{Name: c.name, Field: c.field, Salt: hex.EncodeToString(s), Value: b, Commitment: cm})
	}
	return out
}

// buildForgettingVector links a small chain, redacts a value and prunes two
// records the way the trail does, and returns it in export form.
func buildForgettingVector(t *testing.T) *forgettingVector {
	t.Helper()
	at := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	rec := func(id, actor, action, target string, tt audit.TargetType) *audit.Record {
		r := &audit.Record{RecordID: "01940000-0000-7000-8000-0000000000" + id, Timestamp: at, Actor: actor, Action: action, Target: target, TargetType: tt, Source: "cli"}
		r.Normalize()
		return r
	}
	login := rec("01", "ci", "login", "svc/api", audit.TargetService)
	login.Classification = audit.ClassConfidential
	login.Commitments, login.Disclosures = map[string]string{}, map[string]audit.Disclosure{}
	for i, kv := range []struct {
		field string
		value any
	}{{"context.user_email", "ana@example.org"}, {"context.ip", "10.0.0.1"}, {"metadata.ticket", json.Number("118")}} {
		s := salt(byte(0x10 + i))
		c, err := audit.Commitment(kv.field, s, kv.value)
		if err != nil {
			t.Fatal(err)
		}
		login.Commitments[kv.field] = c
		login.Disclosures[kv.field] = audit.Disclosure{Salt: hex.EncodeToString(s), Value: kv.value}
	}
	recs := []*audit.Record{
		rec("00", "ci", "deploy", "svc/api", audit.TargetService),
		login,
		rec("02", "svc", "restart", "logs/api.log", audit.TargetLog),
	}
	// link gives r the next sequence and links it to the record before.
	var linked []*audit.Record
	link := func(r *audit.Record) {
		r.Sequence, r.PreviousHash = uint64(len(linked)), audit.GenesisHash
		if len(linked) > 0 {
			r.PreviousHash = linked[len(linked)-1].RecordHash
		}
		h, err := r.Hash()
		if err != nil {
			t.Fatal(err)
		}
		r.RecordHash = h
		linked = append(linked, r)
	}
	for _, r := range recs {
		link(r)
	}
	// Redaction of context.user_email of record 1.
	claim := ledger.RedactionClaim{RecordID: login.RecordID, Sequence: 1, RecordHash: login.RecordHash, Fields: []string{"context.user_email"}}
	red, err := ledger.NewRedactionRecord(claim, login, "dpo", "erasure request 2025-118")
	if err != nil {
		t.Fatal(err)
	}
	red.RecordID, red.Timestamp = "01940000-0000-7000-8000-000000000003", at.Add(time.Hour)
	red.Normalize()
	recs = append(recs, red)
	link(red)
	delete(login.Disclosures, "context.user_email")
	later := rec("04", "svc", "restart", "logs/api.log", audit.TargetLog)
	recs = append(recs, later)
	link(later)
	// Retention prunes the two log records.
	d := ledger.NewSequenceDigest()
	d.Add(2)
	d.Add(4)
	pc := ledger.PolicyClaim{Policy: "logs", Keep: "90d", Cutoff: "2025-04-01T00:00:00.000000000Z"}
	d.Claim(&pc)
	ret, err := ledger.NewRetentionRecord(ledger.RetentionClaim{AppliedAt: "2025-06-30T00:00:00.000000000Z", Policies: []ledger.PolicyClaim{pc}, Holds: []string{}},
		"example.org/trail", "dpo", "retention policies logs (90d)")
	if err != nil {
		t.Fatal(err)
	}
	ret.RecordID, ret.Timestamp = "01940000-0000-7000-8000-000000000005", at.Add(24*time.Hour)
	ret.Normalize()
	recs = append(recs, ret)
	link(ret)
	v := &forgettingVector{Description: "Records 2 and 4 were pruned by record 5 (policy logs); context.user_email of record 1 was redacted by record 3. " +
		"Record 1 discloses its other values with their salts. A verifier checks the chain, the tree, every disclosed value against its commitment, " +
		"that no redacted value is disclosed, and that each policy's record count and SHA-256 of the pruned sequence numbers (8 bytes each, big-endian) match.",
		Pruned: []uint64{2, 4}, Redacted: []string{"context.user_email"}}
	var acc ledger.Accumulator
	for _, r := range recs {
		sum, _ := hex.DecodeString(r.RecordHash)
		acc.Add(ledger.LeafHash([32]byte(sum)), nil)
		out := r
		if r.Sequence == 2 || r.Sequence == 4 {
			out = &audit.Record{RecordID: r.RecordID, RecordHash: r.RecordHash, Sequence: r.Sequence, Status: r.Status,
				Pruned: &audit.Pruning{Policy: "logs", RetentionSequence: 5}}
		}
		b, err := out.AppendJSON(nil)
		if err != nil {
			t.Fatal(err)
		}
		v.Export = append(v.Export, b)
	}
	root := acc.Root()
	v.MerkleRoot = base64.StdEncoding.EncodeToString(root[:])
	return v
}

// rawScanner serves rows of a chain in memory.
type rawScanner []ledger.RawRecord

func (s rawScanner) ScanRaw(_ context.Context, from, to uint64, fn func(*ledger.RawRecord) error) error {
	for i := range s {
		if s[i].Seq >= from && s[i].Seq < to {
			if err := fn(&s[i]); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkForgettingVector verifies the published chain with the ledger, as
// a store holding it would be verified: bodies, values, pruning marks.
func checkForgettingVector(t *testing.T, v *forgettingVector) {
	var rows rawScanner
	var acc ledger.Accumulator
	for _, line := range v.Export {
		var r audit.Record
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatal(err)
		}
		sum, _ := hex.DecodeString(r.RecordHash)
		row := ledger.RawRecord{Seq: r.Sequence, Hash: sum, Pruned: r.Pruned}
		if r.Pruned == nil {
			var err error
			if row.Body, err = r.AppendCanonical(nil); err != nil {
				t.Fatal(err)
			}
			if s := sha256.Sum256(row.Body); !bytes.Equal(s[:], sum) {
				t.Fatalf("record %d does not hash to its record_hash", r.Sequence)
			}
			for f, d := range r.Disclosures {
				val, _ := canonical.Marshal(d.Value)
				s, _ := hex.DecodeString(d.Salt)
				row.Values = append(row.Values, ledger.FieldValue{Field: f, Salt: s, Value: val})
			}
		}
		for _, h := range acc.Add(ledger.LeafHash([32]byte(sum)), nil) {
			row.Tree = append(row.Tree, h[:]...)
		}
		rows = append(rows, row)
	}
	res, err := ledger.VerifyChain(context.Background(), rows, ledger.VerifyOptions{})
	if err != nil {
		t.Fatalf("the ledger refuses the forgetting vector: %v", err)
	}
	if got := base64.StdEncoding.EncodeToString(res.Root[:]); got != v.MerkleRoot {
		t.Errorf("root %s, vector %s", got, v.MerkleRoot)
	}
	f := res.Forgotten
	if f.Pruned != uint64(len(v.Pruned)) || f.RedactedFields != uint64(len(v.Redacted)) || len(f.Retentions) != 1 || len(f.Redactions) != 1 {
		t.Errorf("the ledger reports %+v", f)
	}
	// Disclosing the redacted value again is caught.
	rows[1].Values = append(rows[1].Values, ledger.FieldValue{Field: "context.user_email", Salt: salt(0x10), Value: []byte(`"ana@example.org"`)})
	if _, err := ledger.VerifyChain(context.Background(), rows, ledger.VerifyOptions{}); err == nil {
		t.Error("a value back after its redaction is not caught")
	}
}

func TestForgettingVectorsAreCurrent(t *testing.T) {
	vf := readVectors(t) // TestVectors checks that they are what the code produces
	for _, c := range vf.Commitments {
		v, err := canonical.Decode(c.Value)
		if err != nil {
			t.Fatal(err)
		}
		s, _ := hex.DecodeString(c.Salt)
		if err := (audit.Disclosure{Salt: c.Salt, Value: v}).Check(c.Field, c.Commitment); err != nil || len(s) != audit.SaltSize {
			t.Errorf("%s: %v", c.Name, err)
		}
	}
	if vf.Forgetting == nil {
		t.Fatal("no forgetting vector; run with -update")
	}
	checkForgettingVector(t, vf.Forgetting)
}
