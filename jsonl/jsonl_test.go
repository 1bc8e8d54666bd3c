package jsonl

import (
	"errors"
	"strings"
	"testing"

	audit "github.com/ami-orchestrator/ami-audit"
)

func collect(t *testing.T, in string) ([]*audit.Record, error) {
	t.Helper()
	var out []*audit.Record
	for r, err := range Read(strings.NewReader(in), "test") {
		if err != nil {
			return out, err
		}
		out = append(out, r)
	}
	return out, nil
}

func TestReadValid(t *testing.T) {
	in := `{"actor":"ci","action":"deploy","target":"svc/api","target_type":"service","severity":"ERROR","context":{"n":1.5,"big":9007199254740991}}

{"actor":"bob","action":"edit","target":"a.py","target_type":"file","timestamp":"2025-11-01T09:24:02.867343Z","source":"editor","findings":[{"finding_type":"secret","severity":"Critical"}]}` + "\r\n"
	recs, err := collect(t, in)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 {
		t.Fatalf("%d records", len(recs))
	}
	if recs[0].Severity != audit.SeverityError || recs[0].Source != "test" || recs[1].Source != "editor" {
		t.Errorf("fields: %+v %+v", recs[0], recs[1])
	}
	if recs[1].Timestamp.Nanosecond() != 867343000 || recs[1].Findings[0].Severity != audit.SeverityCritical {
		t.Errorf("timestamp or finding: %+v", recs[1])
	}
}

func TestReadErrorsNameLineAndField(t *testing.T) {
	good := `{"actor":"a","action":"b","target":"c","target_type":"file"}`
	tests := []struct {
		name, line string
		want       string
	}{
		{"empty actor", `{"actor":"","action":"b","target":"c","target_type":"file"}`, "actor"},
		{"unknown target type", `{"actor":"a","action":"b","target":"c","target_type":"db"}`, "target_type"},
		{"typo field", `{"actr":"a","action":"b","target":"c","target_type":"file"}`, "actr"},
		{"wrong type", `{"actor":5,"action":"b","target":"c","target_type":"file"}`, "actor"},
		{"bad json", `{"actor":"a",`, "JSON"},
		{"assigned hash", `{"actor":"a","action":"b","target":"c","target_type":"file","record_hash":"x"}`, "record_hash"},
		{"signatures", `{"actor":"a","action":"b","target":"c","target_type":"file","signatures":[]}`, "signatures"},
		{"bad severity", `{"actor":"a","action":"b","target":"c","target_type":"file","severity":"loud"}`, "severity"},
		{"bad timestamp", `{"actor":"a","action":"b","target":"c","target_type":"file","timestamp":"yesterday"}`, "timestamp"},
		{"huge integer", `{"actor":"a","action":"b","target":"c","target_type":"file","context":{"n":12345678901234567890}}`, "context"},
		{"two values", good + " {}", "more than one"},
		{"array", `[1]`, "object"},
		{"duplicate member", `{"actor":"a","actor":"b","action":"b","target":"c","target_type":"file"}`, "duplicate"},
		{"lone surrogate", `{"actor":"\ud800","action":"b","target":"c","target_type":"file"}`, "surrogate"},
		{"invalid utf-8", "{\"actor\":\"\xff\",\"action\":\"b\",\"target\":\"c\",\"target_type\":\"file\"}", "UTF-8"},
		// Names are exact: encoding/json would take these for the fields
		// and let the last spelling win.
		{"second spelling", `{"actor":"alice","Actor":"mallory","action":"b","target":"c","target_type":"file"}`, `Actor: field names are exact: did you mean "actor"?`},
		{"upper case", `{"actor":"a","ACTION":"b","target":"c","target_type":"file"}`, `ACTION: field names are exact: did you mean "action"?`},
		{"unicode folding", `{"actor":"a","action":"b","target":"c","target_type":"file","ſource":"x"}`, `ſource: field names are exact: did you mean "source"?`},
		{"escaped spelling", `{"actor":"a","\u0041ction":"b","target":"c","target_type":"file"}`, `Action: field names are exact`},
		{"nested spelling", `{"actor":"a","action":"b","target":"c","target_type":"file","findings":[{"finding_type":"x"},{"FINDING_TYPE":"y"}]}`, `findings[1].FINDING_TYPE: field names are exact: did you mean "findings[1].finding_type"?`},
		{"violation spelling", `{"actor":"a","action":"b","target":"c","target_type":"file","violations":[{"rule":"r","Rule":"s"}]}`, `violations[0].Rule: field names are exact`},
		{"nested unknown", `{"actor":"a","action":"b","target":"c","target_type":"file","findings":[{"finding_type":"x","score":3}]}`, `findings[0].score: unknown field`},
		{"assigned spelling", `{"actor":"a","action":"b","target":"c","target_type":"file","Record_Hash":"x"}`, `Record_Hash: field names are exact: did you mean "record_hash"?`},
		{"dashed name", `{"actor":"a","action":"b","target":"c","target-type":"file"}`, `target-type: unknown field (did you mean "target_type"?)`},
		{"zero timestamp", `{"actor":"a","action":"b","target":"c","target_type":"file","timestamp":"0001-01-01T00:00:00Z"}`, "timestamp: 0001-01-01T00:00:00Z is the zero time"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs, err := collect(t, good+"\n"+good+"\n"+tt.line+"\n"+good+"\n")
			var le *LineError
			if !errors.As(err, &le) || le.Line != 3 {
				t.Fatalf("err = %v, want an error on line 3", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to mention %q", err, tt.want)
			}
			if len(recs) != 2 {
				t.Errorf("%d records before the error, want 2", len(recs))
			}
		})
	}
}

func TestReadRefusesLongLine(t *testing.T) {
	in := `{"actor":"a","action":"b","target":"c","target_type":"file"}` + "\n" + strings.Repeat("x", MaxLine+10) + "\n"
	_, err := collect(t, in)
	var le *LineError
	if !errors.As(err, &le) || le.Line != 2 || !strings.Contains(err.Error(), "MiB") {
		t.Fatalf("err = %v", err)
	}
}

func FuzzRead(f *testing.F) {
	f.Add(`{"actor":"a","action":"b","target":"c","target_type":"file","context":{"x":[1,2,{"y":null}]}}` + "\n\n{}")
	f.Add(`{"actor":"a","action":"b","target":"c","target_type":"file","timestamp":"2025-01-01T00:00:00Z","findings":[{"finding_type":"t"}],"violations":[{"rule":"r","line_number":3}]}`)
	f.Add("\xff\xfe{\"actor\":\"\xff\"}")
	f.Add(`{"actor":"a","Actor":"b","action":"b","target":"c","target_type":"file","ſource":"s","findings":[{"FINDING_TYPE":"t"}]}`)
	f.Fuzz(func(t *testing.T, in string) {
		for r, err := range Read(strings.NewReader(in), "fuzz") {
			if err != nil {
				return
			}
			// Every record the reader accepts has a canonical form and a hash.
			if _, err := r.Hash(); err != nil {
				t.Fatalf("accepted record has no hash: %v", err)
			}
			if err := r.Validate(); err != nil {
				t.Fatalf("accepted record is invalid: %v", err)
			}
		}
	})
}
