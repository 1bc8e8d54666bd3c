package log

import (
	"testing"
	"time"

	audit "github.com/ami-orchestrator/ami-audit"
)

// TestLines: lines read one by one give the records Collect's entries
// would, and the lines that are no entry give none.
func TestLines(t *testing.T) {
	src, err := New(Config{Level: audit.SeverityInfo, Actor: "logs"})
	if err != nil {
		t.Fatal(err)
	}
	sample := []byte(`{"timestamp":"2025-11-01T09:24:02.867343Z","level":"ERROR","logger":"api","message":"timeout password=hunter2"}` + "\n")
	format, _ := Detect(sample, false, nil)
	if format != FormatJSON {
		t.Fatalf("format %s", format)
	}
	l := src.Lines("logs/api.log", format)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	r := l.Entry(sample[:len(sample)-1], 7, now)
	if r == nil {
		t.Fatal("no record")
	}
	if err := r.Validate(); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"file": "logs/api.log", "line": int64(7), "level": "error", "logger": "api", "message": "timeout password=hunter2"} // masking is the collector's step
	for k, v := range want {
		if r.Context[k] != v {
			t.Errorf("context %s = %v, want %v", k, r.Context[k], v)
		}
	}
	if r.Action != ActionEntry || r.Target != "logs/api.log" || r.Actor != "api" || r.Severity != audit.SeverityError ||
		!r.Timestamp.Equal(time.Date(2025, 11, 1, 9, 24, 2, 867343000, time.UTC)) {
		t.Errorf("record %+v", r)
	}
	for _, line := range []string{"", "   ", `{"level":"debug","message":"below the level"}`} {
		if r := l.Entry([]byte(line), 8, now); r != nil {
			t.Errorf("%q gave a record", line)
		}
	}
	// a private key block written into a log: its lines are no entries
	for i, line := range []string{`{"level":"error","message":"-----BEGIN OPENSSH PRIVATE KEY-----"}`, "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ", "-----END OPENSSH PRIVATE KEY-----"} {
		if r := l.Entry([]byte(line), int64(20+i), now); r != nil && i > 0 {
			t.Errorf("key line %d gave a record: %v", i, r.Context)
		}
	}
	// a line without a time takes now
	if r := l.Entry([]byte(`{"level":"warning","message":"m"}`), 9, now); r == nil || !r.Timestamp.Equal(now) || r.Context["untimed"] != true {
		t.Errorf("untimed line: %+v", r)
	}
}

// FuzzLines: no line, in any format, makes the line parser panic or build
// an invalid record.
func FuzzLines(f *testing.F) {
	f.Add(byte(0), []byte(`{"timestamp":"2025-11-01T09:24:02Z","level":"INFO","message":"x"}`))
	f.Add(byte(1), []byte("2025-12-01 10:00:00.123 | ERROR    | m:f:1 - boom"))
	f.Add(byte(2), []byte("=== ERRORS ==="))
	f.Add(byte(3), []byte(`ts=2025-01-01T00:00:00Z level=error msg="a \" b"`))
	f.Add(byte(4), []byte(`{"type":"user","message":{"content":[{"type":"text","text":"hi"}]},"timestamp":"2025-01-01T00:00:00Z"}`))
	f.Add(byte(5), []byte("\x1b[31mERROR\x1b[0m plain"))
	formats := []Format{FormatJSON, FormatLoguru, FormatSectioned, FormatLogfmt, FormatTranscript, FormatPlain, FormatText}
	src, _ := New(Config{Level: audit.SeverityDebug, MaxLineBytes: 512})
	f.Fuzz(func(t *testing.T, fi byte, line []byte) {
		l := src.Lines("f.log", formats[int(fi)%len(formats)])
		if r := l.Entry(line, 1, time.Unix(0, 0)); r != nil {
			if err := r.Validate(); err != nil {
				t.Fatalf("invalid record from %q: %v", line, err)
			}
		}
	})
}
