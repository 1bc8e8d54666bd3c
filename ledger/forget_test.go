package ledger

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	audit "github.com/ami-orchestrator/ami-audit"
)

// rows serves a fixed list of rows.
type rows []RawRecord

func (rs rows) ScanRaw(_ context.Context, from, to uint64, fn func(*RawRecord) error) error {
	for i := range rs {
		if rs[i].Seq >= from && rs[i].Seq < to {
			if err := fn(&rs[i]); err != nil {
				return err
			}
		}
	}
	return nil
}

// chainOf links bodies as stored rows: each body's hash and tree hashes
// are right, so verification gets to read what they say.
func chainOf(bodies ...[]byte) rows {
	var acc Accumulator
	var out rows
	for i, b := range bodies {
		sum := sha256.Sum256(b)
		r := RawRecord{Seq: uint64(i), Hash: sum[:], Body: b}
		for _, h := range acc.Add(LeafHash(sum), nil) {
			r.Tree = append(r.Tree, h[:]...)
		}
		out = append(out, r)
	}
	return out
}

// FuzzForgettingRow feeds verification a stored record body of any shape
// (commitments, a redaction or retention claim, anything), with a stored
// value and a pruning mark: it must answer, never panic.
func FuzzForgettingRow(f *testing.F) {
	committed := &audit.Record{RecordID: "01940000-0000-7000-8000-000000000001", Actor: "a", Action: "login", Target: "t", TargetType: audit.TargetFile,
		Classification: audit.ClassConfidential, Context: map[string]any{"user": "ana"}}
	committed.Timestamp = committed.Timestamp.AddDate(2025, 0, 0)
	committed.Normalize()
	committed.CommitValues(audit.DefaultCommitted)
	body, _ := committed.AppendCanonical(nil)
	salt, _ := hex.DecodeString(committed.Disclosures["context.user"].Salt)
	f.Add(body, "context.user", salt, []byte(`"ana"`), false)
	red := strings.Replace(string(body), `"action":"login"`, `"action":"record_redacted"`, 1)
	red = strings.Replace(red, `"source":""`, `"source":"ami-audit"`, 1)
	f.Add([]byte(red), "", []byte{}, []byte{}, false)
	f.Add([]byte(`{"action":"retention_applied","source":"ami-audit","context":{"policies":[{"policy":"p","records":1}]},"previous_hash":"0","sequence":0}`), "", []byte{}, []byte{}, false)
	f.Add([]byte{}, "", []byte{}, []byte{}, true)
	f.Fuzz(func(t *testing.T, body []byte, field string, salt, value []byte, pruned bool) {
		chain := chainOf(body)
		if field != "" {
			chain[0].Values = []FieldValue{{Field: field, Salt: salt, Value: value}}
		}
		if pruned {
			chain[0].Body = nil
			chain[0].Pruned = &audit.Pruning{Policy: field, RetentionSequence: uint64(len(value))}
		}
		VerifyChain(context.Background(), chain, VerifyOptions{})
	})
}

func TestForgettingRowFindings(t *testing.T) {
	r := &audit.Record{RecordID: "01940000-0000-7000-8000-000000000001", Actor: "a", Action: "login", Target: "t", TargetType: audit.TargetFile,
		Classification: audit.ClassConfidential, Context: map[string]any{"user": "ana"}, PreviousHash: audit.GenesisHash}
	r.Timestamp = r.Timestamp.AddDate(2025, 0, 0)
	r.Normalize()
	if err := r.CommitValues(audit.DefaultCommitted); err != nil {
		t.Fatal(err)
	}
	body, _ := r.AppendCanonical(nil)
	salt, _ := hex.DecodeString(r.Disclosures["context.user"].Salt)
	tests := []struct {
		name   string
		values []FieldValue
		pruned *audit.Pruning
		empty  bool
		want   string
	}{
		{"its value", []FieldValue{{"context.user", salt, []byte(`"ana"`)}}, nil, false, ""},
		{"another value", []FieldValue{{"context.user", salt, []byte(`"eve"`)}}, nil, false, "does not match its commitment"},
		{"the value in another form", []FieldValue{{"context.user", salt, []byte(` "ana"`)}}, nil, false, "does not match its commitment"},
		{"a value of no commitment", []FieldValue{{"context.user", salt, []byte(`"ana"`)}, {"context.x", salt, []byte(`1`)}}, nil, false, "does not commit to"},
		{"no value and no redaction", nil, nil, false, "no redaction record"},
		{"the body emptied", nil, nil, true, "no retention record pruned it"},
		{"pruned by no record", nil, &audit.Pruning{Policy: "p", RetentionSequence: 5}, true, "beyond the log's 1 records"},
		{"pruned yet holding its body", nil, &audit.Pruning{Policy: "p", RetentionSequence: 5}, false, "still holds its content"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			chain := chainOf(body)
			chain[0].Values, chain[0].Pruned = tt.values, tt.pruned
			if tt.empty {
				chain[0].Body = nil
			}
			_, err := VerifyChain(context.Background(), chain, VerifyOptions{})
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("verify: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("verify: %v, want an error saying %q", err, tt.want)
			}
		})
	}
}
