package audit

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func confidentialRecord() *Record {
	r := validRecord()
	r.Classification = ClassConfidential
	r.Context = map[string]any{"user_email": "ana@example.org", "n": json.Number("3")}
	r.Metadata = map[string]any{"ticket": "DPO-118"}
	return r
}

func TestCommitValues(t *testing.T) {
	r := confidentialRecord()
	if err := r.CommitValues(DefaultCommitted); err != nil {
		t.Fatal(err)
	}
	if len(r.Context) != 0 || len(r.Metadata) != 0 {
		t.Fatalf("committed values stay in the clear: %v %v", r.Context, r.Metadata)
	}
	want := []string{"context.n", "context.user_email", "metadata.ticket"}
	if diff := cmp.Diff(want, sortedKeys(r.Commitments)); diff != "" {
		t.Fatalf("commitments (-want +got):\n%s", diff)
	}
	if r.Disclosures["context.user_email"].Value != "ana@example.org" {
		t.Errorf("disclosures: %v", r.Disclosures)
	}
	if err := r.CheckDisclosures(); err != nil {
		t.Fatal(err)
	}
	body, err := r.AppendCanonical(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, leak := range []string{"ana@example.org", "DPO-118", "disclosures"} {
		if strings.Contains(string(body), leak) {
			t.Errorf("the hashed form holds %q: %s", leak, body)
		}
	}
	if !strings.Contains(string(body), `"canonical_version":2,"classification":"confidential","commitments":{`) {
		t.Errorf("the hashed form does not say its version and commitments in order: %s", body)
	}
	// The salts are fresh: the same values commit differently.
	other := confidentialRecord()
	other.CommitValues(DefaultCommitted)
	if other.Commitments["context.user_email"] == r.Commitments["context.user_email"] {
		t.Error("two commitments to the same value are equal: the salt is not random")
	}
	// A record of a classification not committed keeps its values.
	plain := validRecord()
	plain.Context = map[string]any{"k": "v"}
	if err := plain.CommitValues(DefaultCommitted); err != nil || len(plain.Commitments) != 0 || plain.Context["k"] != "v" {
		t.Errorf("an internal record was committed: %v %v", plain.Commitments, err)
	}
	// A copy keeps its commitments; a disclosure that does not match is refused.
	c := r.Clone()
	c.Disclosures = map[string]Disclosure{"context.user_email": {Salt: r.Disclosures["context.n"].Salt, Value: "ana@example.org"}}
	if err := c.CommitValues(DefaultCommitted); !errors.Is(err, ErrCommitment) {
		t.Errorf("a disclosure under another salt: %v, want ErrCommitment", err)
	}
}

func TestCommittedRoundTrip(t *testing.T) {
	r := confidentialRecord()
	if err := r.CommitValues(DefaultCommitted); err != nil {
		t.Fatal(err)
	}
	h, err := r.Hash()
	if err != nil {
		t.Fatal(err)
	}
	r.RecordHash = h
	for _, rec := range []*Record{r, r.Masked()} {
		b, err := rec.AppendJSON(nil)
		if err != nil {
			t.Fatal(err)
		}
		var back Record
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		if got, _ := back.Hash(); got != h {
			t.Errorf("read back from %s it hashes to %s, want %s", b, got, h)
		}
		if err := back.CheckDisclosures(); err != nil || len(back.Disclosures) != len(rec.Disclosures) {
			t.Errorf("disclosures read back: %v (%v)", back.Disclosures, err)
		}
	}
	if len(r.Masked().Disclosures) != 0 || len(r.Disclosures) != 3 {
		t.Error("Masked does not drop the disclosures of a copy only")
	}
}

func TestCommitmentValidation(t *testing.T) {
	base := func() *Record {
		r := confidentialRecord()
		r.CommitValues(DefaultCommitted)
		return r
	}
	tests := []struct {
		name   string
		change func(*Record)
		field  string
	}{
		{"committed and in the clear", func(r *Record) { r.Context["user_email"] = "x" }, "context"},
		{"not a context or metadata member", func(r *Record) { r.Commitments["actor"] = strings.Repeat("a", 64) }, "commitments"},
		{"no section", func(r *Record) { r.Commitments["user_email"] = strings.Repeat("a", 64) }, "commitments"},
		{"commitment not hex", func(r *Record) { r.Commitments["context.n"] = strings.Repeat("A", 64) }, "commitments"},
		{"disclosure of nothing committed", func(r *Record) { r.Disclosures["context.other"] = Disclosure{} }, "disclosures"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := base()
			tt.change(r)
			var fe *FieldError
			if err := r.Validate(); !errors.As(err, &fe) || fe.Field != tt.field {
				t.Errorf("Validate() = %v, want a FieldError naming %s", err, tt.field)
			}
		})
	}
}

func TestCanonicalVersionRead(t *testing.T) {
	r := confidentialRecord()
	r.CommitValues(DefaultCommitted)
	b, _ := r.Masked().AppendJSON(nil)
	for name, edit := range map[string]func(string) string{
		"a newer version":             func(s string) string { return strings.Replace(s, `"canonical_version":2`, `"canonical_version":3`, 1) },
		"commitments without version": func(s string) string { return strings.Replace(s, `"canonical_version":2,`, ``, 1) },
		"version without commitments": func(s string) string {
			i := strings.Index(s, `"commitments":`)
			j := strings.Index(s, `,"context"`)
			return s[:i-1] + s[j:]
		},
	} {
		var back Record
		if err := json.Unmarshal([]byte(edit(string(b))), &back); err == nil {
			t.Errorf("%s: read without an error", name)
		}
	}
}

func TestPrunedRemains(t *testing.T) {
	r := &Record{RecordID: "01936f3e-8a7b-7c6d-9e8f-0a1b2c3d4e5f", RecordHash: strings.Repeat("ab", 32), Sequence: 7, Status: StatusRecorded,
		Pruned: &Pruning{Policy: "logs", RetentionSequence: 9}}
	b, err := r.AppendJSON(nil)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"pruned":{"policy":"logs","retention_sequence":9},"record_hash":"` + r.RecordHash + `","record_id":"01936f3e-8a7b-7c6d-9e8f-0a1b2c3d4e5f","sequence":7,"signatures":[],"status":"recorded"}`
	if string(b) != want {
		t.Errorf("remains\n got  %s\n want %s", b, want)
	}
	if _, err := r.AppendCanonical(nil); !errors.Is(err, ErrPruned) {
		t.Errorf("the hashed form of a pruned record: %v, want ErrPruned", err)
	}
	var back Record
	if err := json.Unmarshal(b, &back); err != nil || back.Pruned == nil || *back.Pruned != *r.Pruned || back.RecordHash != r.RecordHash {
		t.Errorf("read back as %+v (%v)", back, err)
	}
	if err := r.CommitValues(DefaultCommitted); err == nil {
		t.Error("a pruned record was committed")
	}
}
