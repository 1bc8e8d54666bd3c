package audit

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func validRecord() *Record {
	r := &Record{
		RecordID:   "01936f3e-8a7b-7c6d-9e8f-0a1b2c3d4e5f",
		Timestamp:  time.Date(2025, 11, 1, 9, 24, 2, 867343000, time.UTC),
		Actor:      "ci",
		Action:     "deploy",
		Target:     "svc/api",
		TargetType: TargetService,
		Source:     "cli",
	}
	r.Normalize()
	return r
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Record)
		field  string // "" means valid
	}{
		{"valid", func(*Record) {}, ""},
		{"empty actor", func(r *Record) { r.Actor = "" }, "actor"},
		{"blank actor", func(r *Record) { r.Actor = "  " }, "actor"},
		{"empty action", func(r *Record) { r.Action = "" }, "action"},
		{"empty target", func(r *Record) { r.Target = "" }, "target"},
		{"unknown target type", func(r *Record) { r.TargetType = "database" }, "target_type"},
		{"unknown severity", func(r *Record) { r.Severity = "fatal" }, "severity"},
		{"unknown status", func(r *Record) { r.Status = "archived" }, "status"},
		{"bad id", func(r *Record) { r.RecordID = "not-a-uuid" }, "record_id"},
		{"zero time", func(r *Record) { r.Timestamp = time.Time{} }, "timestamp"},
		{"finding without type", func(r *Record) { r.Findings = []Finding{{Severity: SeverityInfo, Metadata: map[string]any{}}} }, "findings[0].finding_type"},
		{"violation without rule", func(r *Record) { r.Violations = []Violation{{Severity: SeverityError}} }, "violations[0].rule"},
		{"negative line", func(r *Record) { r.Violations = []Violation{{Rule: "x", Severity: SeverityError, LineNumber: -1}} }, "violations[0]"},
		{"bad signature algorithm", func(r *Record) { r.Signatures = []Signature{{Algorithm: "RSA"}} }, "signatures[0].algorithm"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := validRecord()
			tt.change(r)
			err := r.Validate()
			if tt.field == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			var fe *FieldError
			if !errors.As(err, &fe) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("Validate() = %v, want a FieldError wrapped in ErrInvalid", err)
			}
			if fe.Field != tt.field {
				t.Errorf("field = %q, want %q (error %v)", fe.Field, tt.field, err)
			}
		})
	}
}

func TestValidateRefusesValuesWithoutCanonicalForm(t *testing.T) {
	for name, v := range map[string]any{
		"huge integer": int64(1) << 60,
		"invalid utf8": "\xff\xfe",
		"func":         func() {},
	} {
		t.Run(name, func(t *testing.T) {
			r := validRecord()
			r.Context["x"] = v
			if err := r.Validate(); err == nil || !strings.Contains(err.Error(), "context") {
				t.Fatalf("Validate() = %v, want an error naming context", err)
			}
		})
	}
}

func TestNormalizeFillsDefaultsOnly(t *testing.T) {
	r := &Record{Actor: "a", Action: "b", Target: "c", TargetType: TargetFile, Severity: SeverityError,
		Findings: []Finding{{FindingType: "secret"}}, Violations: []Violation{{Rule: "S101"}}}
	r.Normalize()
	if r.RecordID == "" || r.Timestamp.IsZero() || r.Classification != ClassInternal || r.Status != StatusRecorded {
		t.Errorf("defaults not filled: %+v", r)
	}
	if r.Severity != SeverityError {
		t.Errorf("severity changed to %q", r.Severity)
	}
	if r.Findings[0].FindingID == "" || r.Findings[0].Severity != SeverityInfo || r.Findings[0].Metadata == nil {
		t.Errorf("finding defaults not filled: %+v", r.Findings[0])
	}
	if r.Violations[0].ViolationID == "" || r.Violations[0].Severity != SeverityWarning {
		t.Errorf("violation defaults not filled: %+v", r.Violations[0])
	}
	if err := r.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestNewIDIsUUIDv7AndOrdered(t *testing.T) {
	a, b := NewID(), NewID()
	if a[14] != '7' {
		t.Errorf("%s is not a version 7 UUID", a)
	}
	if a >= b {
		t.Errorf("ids not time-ordered: %s then %s", a, b)
	}
}

func TestParseSeverity(t *testing.T) {
	for in, want := range map[string]Severity{"ERROR": SeverityError, "Warning": SeverityWarning, "warn": SeverityWarning, "fatal": SeverityCritical, "trace": SeverityDebug, " info ": SeverityInfo,
		"HIGH": SeverityError, "medium": SeverityWarning, "moderate": SeverityWarning, "low": SeverityInfo, "Critical": SeverityCritical} {
		got, err := ParseSeverity(in)
		if err != nil || got != want {
			t.Errorf("ParseSeverity(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := ParseSeverity("loud"); err == nil {
		t.Error("ParseSeverity(loud) succeeded")
	}
}

func TestHashCoversFieldsButNotSignaturesOrStatus(t *testing.T) {
	base := validRecord()
	h0, err := base.Hash()
	if err != nil {
		t.Fatal(err)
	}
	changes := map[string]func(*Record){
		"actor":          func(r *Record) { r.Actor = "mallory" },
		"action":         func(r *Record) { r.Action = "delete" },
		"target":         func(r *Record) { r.Target = "svc/db" },
		"target_type":    func(r *Record) { r.TargetType = TargetModule },
		"source":         func(r *Record) { r.Source = "x" },
		"reason":         func(r *Record) { r.Reason = "y" },
		"timestamp":      func(r *Record) { r.Timestamp = r.Timestamp.Add(time.Nanosecond) },
		"context":        func(r *Record) { r.Context = map[string]any{"k": 1} },
		"metadata":       func(r *Record) { r.Metadata = map[string]any{"k": 1} },
		"previous_hash":  func(r *Record) { r.PreviousHash = "ab" },
		"nonce":          func(r *Record) { r.Nonce = 1 },
		"sequence":       func(r *Record) { r.Sequence = 7 },
		"severity":       func(r *Record) { r.Severity = SeverityCritical },
		"classification": func(r *Record) { r.Classification = ClassRestricted },
		"record_id":      func(r *Record) { r.RecordID = "01936f3e-8a7b-7c6d-9e8f-0a1b2c3d4e60" },
		"findings":       func(r *Record) { r.Findings = []Finding{{FindingType: "t", Severity: SeverityInfo}} },
		"violations":     func(r *Record) { r.Violations = []Violation{{Rule: "r", Severity: SeverityInfo}} },
	}
	for name, change := range changes {
		r := validRecord()
		change(r)
		h, err := r.Hash()
		if err != nil {
			t.Fatal(name, err)
		}
		if h == h0 {
			t.Errorf("changing %s does not change the hash", name)
		}
	}
	r := validRecord()
	r.Status = StatusExported
	r.Signatures = []Signature{{Signer: "a", Algorithm: AlgorithmEd25519, Signature: "x"}}
	r.RecordHash = "whatever"
	if h, _ := r.Hash(); h != h0 {
		t.Error("status, signatures or record_hash changed the hash")
	}
}

func TestCanonicalFormOfARecord(t *testing.T) {
	r := validRecord()
	r.Reason = "release \"1.4\"\n"
	r.Context = map[string]any{"z": 1.5, "a": []any{"é", true, nil}}
	r.Findings = []Finding{{FindingID: "f1", FindingType: "secret", Severity: SeverityCritical, Description: "key", Metadata: map[string]any{}}}
	r.Violations = []Violation{{ViolationID: "v1", Rule: "S101", Severity: SeverityWarning, Message: "assert", LineNumber: 3}}
	b, err := r.AppendCanonical(nil)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"action":"deploy","actor":"ci","classification":"internal","context":{"a":["é",true,null],"z":1.5},` +
		`"findings":[{"description":"key","finding_id":"f1","finding_type":"secret","metadata":{},"severity":"critical"}],` +
		`"metadata":{},"nonce":0,"previous_hash":"","reason":"release \"1.4\"\n","record_id":"01936f3e-8a7b-7c6d-9e8f-0a1b2c3d4e5f",` +
		`"sequence":0,"severity":"info","source":"cli","target":"svc/api","target_type":"service","timestamp":"2025-11-01T09:24:02.867343000Z",` +
		`"violations":[{"line_number":3,"message":"assert","rule":"S101","severity":"warning","violation_id":"v1"}]}`
	if string(b) != want {
		t.Errorf("canonical form\n got %s\nwant %s", b, want)
	}
}

func TestJSONRoundTrip(t *testing.T) {
	r := validRecord()
	r.Context = map[string]any{"n": 3, "f": 0.1, "s": "x"}
	r.RecordHash, _ = r.Hash()
	b, err := r.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	var back Record
	if err := back.UnmarshalJSON(b); err != nil {
		t.Fatal(err)
	}
	h, err := back.Hash()
	if err != nil || h != r.RecordHash {
		t.Fatalf("hash after round trip = %s, %v; want %s", h, err, r.RecordHash)
	}
}

// Records read from JSON (stored, exported, in a proof) match member names
// exactly: another spelling of a field, which encoding/json would take for
// it, is refused with the member named, and so is an unknown member.
func TestUnmarshalJSONIsStrict(t *testing.T) {
	r := validRecord()
	r.Findings = []Finding{{FindingID: "f1", FindingType: "secret", Severity: SeverityCritical, Metadata: map[string]any{}}}
	r.Violations = []Violation{{ViolationID: "v1", Rule: "S101", Severity: SeverityWarning, LineNumber: 3}}
	r.Signatures = []Signature{{Signer: "alice", Signature: "c2ln", Algorithm: AlgorithmEd25519, Timestamp: r.Timestamp}}
	r.RecordHash, _ = r.Hash()
	good, err := r.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	var back Record
	if err := back.UnmarshalJSON(good); err != nil {
		t.Fatal(err)
	}
	if h, _ := back.Hash(); h != r.RecordHash || back.Signatures[0] != r.Signatures[0] || back.Violations[0] != r.Violations[0] {
		t.Fatalf("round trip changed the record: %+v", back)
	}
	for _, tc := range []struct {
		old, new string // a replacement in the exported form
		field    string
		sentinel error
	}{
		{`"actor":"ci"`, `"actor":"ci","Actor":"mallory"`, "Actor", ErrFieldSpelling},
		{`"action":"deploy"`, `"ACTION":"deploy"`, "ACTION", ErrFieldSpelling},
		{`"source":"cli"`, `"ſource":"cli"`, "ſource", ErrFieldSpelling},
		{`"finding_type":"secret"`, `"FINDING_TYPE":"secret"`, "findings[0].FINDING_TYPE", ErrFieldSpelling},
		{`"rule":"S101"`, `"Rule":"S101"`, "violations[0].Rule", ErrFieldSpelling},
		{`"signer":"alice"`, `"Signer":"alice"`, "signatures[0].Signer", ErrFieldSpelling},
		{`"actor":"ci"`, `"actor":"ci","owner":"x"`, "owner", ErrUnknownField},
		{`"rule":"S101"`, `"rule":"S101","fix":"x"`, "violations[0].fix", ErrUnknownField},
	} {
		b := strings.Replace(string(good), tc.old, tc.new, 1)
		var x Record
		err := x.UnmarshalJSON([]byte(b))
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != tc.field || !errors.Is(err, tc.sentinel) {
			t.Errorf("%s: error %v, want a FieldError on %s wrapping %v", tc.new, err, tc.field, tc.sentinel)
		}
	}
	// A zero timestamp is refused, not taken for "absent".
	b := strings.Replace(string(good), `"timestamp":"2025-11-01T09:24:02.867343000Z","violations"`, `"timestamp":"0001-01-01T00:00:00Z","violations"`, 1)
	var x Record
	if err := x.UnmarshalJSON([]byte(b)); err == nil || !strings.Contains(err.Error(), "zero time") {
		t.Errorf("zero timestamp: %v", err)
	}
}

func TestInt(t *testing.T) {
	m := map[string]any{"int": 3, "int64": int64(4), "float": float64(5), "number": json.Number("6"), "text": "7", "bad": json.Number("x")}
	for k, want := range map[string]int64{"int": 3, "int64": 4, "float": 5, "number": 6, "text": 0, "bad": 0, "missing": 0} {
		if got := Int(m, k); got != want {
			t.Errorf("Int(%s) = %d, want %d", k, got, want)
		}
	}
}
