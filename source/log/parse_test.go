package log

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	audit "github.com/ami-orchestrator/ami-audit"
)

func TestParseTimestamp(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		in    string
		want  string // RFC 3339 in UTC, "" = not a timestamp
		n     int
		naive bool
	}{
		{"2025-11-01T09:24:02.867343Z", "2025-11-01T09:24:02.867343Z", 27, false},
		{"2025-11-01T10:24:02+01:00 rest", "2025-11-01T09:24:02Z", 25, false},
		{"2025-11-01T04:24:02-0500", "2025-11-01T09:24:02Z", 24, false},
		{"2025-11-01T11:24:02+02", "2025-11-01T09:24:02Z", 22, false},
		{"2025-11-01 09:24:02,123 - x", "2025-11-01T09:24:02.123Z", 23, true},
		{"2025-11-01 09:24:02.5 UTC", "2025-11-01T09:24:02.5Z", 25, false},
		{"2025-11-01 09:24 | x", "2025-11-01T09:24:00Z", 16, true},
		{"2025-11-01T09:24:02.123456789123Z", "2025-11-01T09:24:02.123456789Z", 33, false},
		{"2016-12-31T23:59:60Z", "2016-12-31T23:59:59.999999999Z", 20, false},
		{"2025-02-29T00:00:00Z", "", 0, false},
		{"2024-02-29T00:00:00Z", "2024-02-29T00:00:00Z", 20, false},
		{"2025-13-01T00:00:00Z", "", 0, false},
		{"2025-11-01T24:00:00Z", "", 0, false},
		{"2025-11-01T09:24:02+15:00", "", 0, false},
		{"2025-11-01T09:24:02abc", "", 0, false},
		{"2025-11-01", "", 0, false},
		{"not a time at all", "", 0, false},
		{"", "", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			ns, n, naive, ok := parseTimestamp(tt.in, time.UTC)
			got := ""
			if ok {
				got = time.Unix(0, ns).UTC().Format(time.RFC3339Nano)
			}
			if got != tt.want || (ok && (n != tt.n || naive != tt.naive)) {
				t.Errorf("parseTimestamp(%q) = %q n=%d naive=%v, want %q n=%d naive=%v", tt.in, got, n, naive, tt.want, tt.n, tt.naive)
			}
		})
	}
	// a timestamp without a zone is taken in the given one
	ns, _, naive, ok := parseTimestamp("2025-07-01 12:00:00", paris)
	if !ok || !naive || time.Unix(0, ns).UTC() != time.Date(2025, 7, 1, 10, 0, 0, 0, time.UTC) {
		t.Errorf("Paris summer time: %v", time.Unix(0, ns).UTC())
	}
}

func TestParseTimeValue(t *testing.T) {
	tests := []struct{ in, want string }{
		{"1761987840", "2025-11-01T09:04:00Z"},
		{"1761987840.25", "2025-11-01T09:04:00.25Z"},
		{"1761987840250", "2025-11-01T09:04:00.25Z"},
		{"1761987840250000", "2025-11-01T09:04:00.25Z"},
		{"1761987840250000000", "2025-11-01T09:04:00.25Z"},
		{"1.76198784e9", "2025-11-01T09:04:00Z"},
		{"Sat, 01 Nov 2025 09:04:00 +0000", "2025-11-01T09:04:00Z"},
		{"01/Nov/2025:10:04:00 +0100", "2025-11-01T09:04:00Z"},
		{"0", ""},
		{"99999999999999999999999", ""},
		{"yesterday", ""},
	}
	for _, tt := range tests {
		ns, _, ok := parseTimeValue(tt.in, time.UTC)
		got := ""
		if ok {
			got = time.Unix(0, ns).UTC().Format(time.RFC3339Nano)
		}
		if got != tt.want {
			t.Errorf("parseTimeValue(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestParseLevel(t *testing.T) {
	tests := map[string]audit.Severity{
		"TRACE": "debug", "debug": "debug", "D": "debug", "Verbose": "debug",
		"INFO": "info", "[info]": "info", "notice": "info", "SUCCESS": "info", "I": "info",
		"WARN": "warning", "Warning:": "warning", "W": "warning",
		"ERROR": "error", "err": "error", "Exception": "error", "SEVERE": "error", "E": "error",
		"CRITICAL": "critical", "fatal": "critical", "PANIC": "critical", "alert": "critical", "emerg": "critical", "F": "critical",
		"": "", "bogus": "", "errors": "", "x": "",
	}
	for in, want := range tests {
		lv, ok := parseLevel(in)
		got := audit.Severity("")
		if ok {
			got = lv.severity()
		}
		if got != want {
			t.Errorf("parseLevel(%q) = %q, want %q", in, got, want)
		}
	}
	for n, want := range map[float64]audit.Severity{10: "debug", 20: "debug", 30: "info", 40: "warning", 50: "error", 60: "critical", 5: "", 200: ""} {
		lv, ok := numericLevel(n)
		got := audit.Severity("")
		if ok {
			got = lv.severity()
		}
		if got != want {
			t.Errorf("numericLevel(%v) = %q, want %q", n, got, want)
		}
	}
}

func TestKeywordLevel(t *testing.T) {
	tests := map[string]audit.Severity{
		"ERROR could not bind":         "error",
		"[WARN] low disk":              "warning",
		"job FATAL: oom":               "critical",
		"no error found":               "",
		"ERRORS were counted":          "",
		"Traceback (most recent call)": "error",
		"Error: bad":                   "error",
		"panic: runtime error":         "error",
		"xINFO":                        "",
	}
	for in, want := range tests {
		lv, ok := keywordLevel(in)
		got := audit.Severity("")
		if ok {
			got = lv.severity()
		}
		if got != want {
			t.Errorf("keywordLevel(%q) = %q, want %q", in, got, want)
		}
	}
}

// lineResult is a parsed line, for comparison.
type lineResult struct {
	Kind    lineKind
	Time    string
	Level   audit.Severity
	Msg     string
	Logger  string
	Section string
}

func parseOne(p *parser, line string) lineResult {
	var out parsed
	k := p.parse([]byte(line), &out)
	r := lineResult{Kind: k, Msg: string(out.msg), Logger: string(out.logger), Section: out.section}
	if k == lkEntry || k == lkMalformed && len(out.msg) > 0 {
		r.Level = out.lv.severity()
	}
	if out.hasTime {
		r.Time = time.Unix(0, out.ns).UTC().Format(time.RFC3339Nano)
	}
	return r
}

func TestParsers(t *testing.T) {
	tests := []struct {
		format Format
		lines  []string
		want   []lineResult
	}{
		{FormatJSON, []string{
			`{"timestamp":"2025-11-01T09:24:02.867343Z","level":"INFO","logger":"audit:x","message":"audit_progress","current":3}`,
			`{"ts":1761987840,"severity":"warn","msg":"a \"quoted\" \u00e9 \ud83d\ude00"}`,
			`{"level":50,"time":1761987840000,"msg":"pino"}`,
			`{"nested":{"message":"inner"},"text":"outer"}`,
			`{"message":"no level but ERROR inside"}`,
			`{"event":"structlog","level":"bogus"}`,
			`[1,2]`,
			`{"message":"cut`,
			``,
		}, []lineResult{
			{lkEntry, "2025-11-01T09:24:02.867343Z", "info", "audit_progress", "audit:x", ""},
			{lkEntry, "2025-11-01T09:04:00Z", "warning", "a \"quoted\" é 😀", "", ""},
			{lkEntry, "2025-11-01T09:04:00Z", "error", "pino", "", ""},
			{lkEntry, "", "info", "outer", "", ""},
			{lkEntry, "", "error", "no level but ERROR inside", "", ""},
			{lkEntry, "", "info", "structlog", "", ""},
			{lkMalformed, "", "", "", "", ""},
			{lkMalformed, "", "", "", "", ""},
			{lkBlank, "", "", "", "", ""},
		}},
		{FormatLogfmt, []string{
			`ts=2025-11-01T09:00:00Z level=info msg="listening on port 8080" logger=api`,
			`time="2025-11-01 09:00:09" lvl=ERROR msg=unquoted extra`,
			`just words`,
		}, []lineResult{
			{lkEntry, "2025-11-01T09:00:00Z", "info", "listening on port 8080", "api", ""},
			{lkEntry, "2025-11-01T09:00:09Z", "error", "unquoted", "", ""},
			{lkMalformed, "", "", "", "", ""},
		}},
		{FormatLoguru, []string{
			"2025-12-01 10:00:00.123 | ERROR    | module:function:42 - message - with dash",
			"2025-12-01 10:00:00.123 | SUCCESS  | m:f:1 - ok",
			"  File \"x.py\", line 1",
			"2025-12-01 10:00:00.123 | NOPE | m - x",
		}, []lineResult{
			{lkEntry, "2025-12-01T10:00:00.123Z", "error", "message - with dash", "module", ""},
			{lkEntry, "2025-12-01T10:00:00.123Z", "info", "ok", "m", ""},
			{lkContinuation, "", "", "", "", ""},
			{lkContinuation, "", "", "", "", ""},
		}},
		{FormatPlain, []string{
			"2025-11-01T10:00:00+01:00 ERROR disk full",
			"2025-11-01 09:30:00,123 - worker.pool - WARNING - queue deep",
			"2025-11-01T09:00:00Z [error] bracketed",
			"2025-11-01T09:00:00Z starting the error handler",
			"2025-11-01T09:00:00Z INFO",
			"continuation",
		}, []lineResult{
			{lkEntry, "2025-11-01T09:00:00Z", "error", "disk full", "", ""},
			{lkEntry, "2025-11-01T09:30:00.123Z", "warning", "queue deep", "", ""},
			{lkEntry, "2025-11-01T09:00:00Z", "error", "bracketed", "", ""},
			{lkEntry, "2025-11-01T09:00:00Z", "info", "starting the error handler", "", ""},
			{lkEntry, "2025-11-01T09:00:00Z", "info", "", "", ""},
			{lkContinuation, "", "", "", "", ""},
		}},
		{FormatSectioned, []string{
			"before any section",
			"=== RUN ===",
			"Started: 2025-11-02T08:00:00Z",
			"working",
			"=== STDERR ===",
			"boom",
			"2025-11-02T08:01:00Z INFO own time",
			"after",
		}, []lineResult{
			{lkEntry, "", "info", "before any section", "", ""},
			{lkHeader, "", "", "", "", ""},
			{lkEntry, "2025-11-02T08:00:00Z", "info", "Started: 2025-11-02T08:00:00Z", "", "RUN"},
			{lkEntry, "2025-11-02T08:00:00Z", "info", "working", "", "RUN"},
			{lkHeader, "", "", "", "", ""},
			{lkEntry, "2025-11-02T08:00:00Z", "error", "boom", "", "STDERR"},
			{lkEntry, "2025-11-02T08:01:00Z", "info", "own time", "", "STDERR"},
			{lkEntry, "2025-11-02T08:01:00Z", "error", "after", "", "STDERR"},
		}},
		{FormatTranscript, []string{
			`{"type":"system","level":"warning","content":"context low","sessionId":"s","uuid":"u","timestamp":"2025-10-27T11:00:00Z"}`,
			`{"type":"assistant","isApiErrorMessage":true,"message":{"content":[{"type":"text","text":"API Error: 500"}]},"sessionId":"s","uuid":"u","timestamp":"2025-10-27T11:00:01Z"}`,
			`{"type":"summary","summary":"Fixing the build","leafUuid":"x"}`,
			`{"type":"user","sessionId":"s","message":{"content":"cut`,
		}, []lineResult{
			{lkEntry, "2025-10-27T11:00:00Z", "warning", "system: context low", "s", ""},
			{lkEntry, "2025-10-27T11:00:01Z", "error", "assistant: API Error: 500", "s", ""},
			{lkEntry, "", "info", "summary: Fixing the build", "", ""},
			{lkMalformed, "", "info", "transcript line unreadable", "", ""},
		}},
		{FormatText, []string{"ERROR boom", "2025-11-01T09:00:00Z plain with time"}, []lineResult{
			{lkEntry, "", "error", "ERROR boom", "", ""},
			{lkEntry, "2025-11-01T09:00:00Z", "info", "plain with time", "", ""},
		}},
	}
	for _, tt := range tests {
		t.Run(string(tt.format), func(t *testing.T) {
			p := newParser(tt.format, time.UTC)
			var got []lineResult
			for _, l := range tt.lines {
				got = append(got, parseOne(p, l))
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestDetect(t *testing.T) {
	tests := []struct {
		name  string
		lines []string
		want  Format
	}{
		{"json", []string{`{"a":1}`, `{"message":"x"}`, "garbage"}, FormatJSON},
		{"transcript", []string{`{"sessionId":"s","uuid":"u","type":"user"}`}, FormatTranscript},
		{"json beats a minority of transcript lines", []string{`{"sessionId":"s","uuid":"u","type":"user"}`, `{"a":1}`, `{"a":2}`}, FormatJSON},
		{"loguru", []string{"2025-12-01 10:00:00.123 | ERROR    | m:f:1 - x", "Traceback", "  File"}, FormatLoguru},
		{"logfmt", []string{`level=info msg="x"`, `level=warn msg=y`}, FormatLogfmt},
		{"plain", []string{"2025-12-01T10:00:00Z ERROR x", "  at foo"}, FormatPlain},
		{"sectioned", []string{"=== HEAD ===", "2025-12-01T10:00:00Z ERROR x"}, FormatSectioned},
		{"text", []string{"hello", "world"}, FormatText},
		{"empty", []string{"", "  "}, FormatEmpty},
		{"one long cut JSON line", []string{`{"timestamp":"2025-11-01T00:00:00Z","message":"xxxxxxxx`}, FormatJSON},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var sample [][]byte
			for _, l := range tt.lines {
				sample = append(sample, []byte(l))
			}
			got, why := detect(sample, time.UTC)
			if got != tt.want || why == "" {
				t.Errorf("detect = %s (%s), want %s", got, why, tt.want)
			}
		})
	}
}

func TestHistogramCoarsens(t *testing.T) {
	h := newHistogram(16)
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	for i := range 100 { // one entry per second for 100 s
		h.add(base+int64(i)*int64(time.Second), 1)
	}
	if len(h.m) > 16 || time.Duration(h.res) != 8*time.Second {
		t.Errorf("%d buckets at %v; want at most 16 at 8s", len(h.m), time.Duration(h.res))
	}
	var n int64
	for _, b := range h.m {
		n += b.n
	}
	if n != 100 {
		t.Errorf("coarsening lost entries: %d", n)
	}
	tl := h.timeline(60)
	var sum int64
	for _, c := range tl.Counts {
		sum += c
	}
	if sum != 100 || len(tl.Counts) > 60 {
		t.Errorf("timeline holds %d in %d steps", sum, len(tl.Counts))
	}
}

func TestMisraGries(t *testing.T) {
	var b hbucket
	for _, id := range []int64{1, 1, 1, 2, 2, 3, 4, 1} {
		b.vote(id, 1)
	}
	got := map[int64]int64{}
	for i := range b.ids {
		if b.cnt[i] > 0 {
			got[b.ids[i]] = b.cnt[i]
		}
	}
	// 1 appears 4 times of 8: with 3 counters its count is at least 4-8/4
	if got[1] < 2 {
		t.Errorf("summary %v lost the majority pattern", got)
	}
}

// Fuzzing: every parser must take any line without panicking and keep its
// invariants; the JSON scanner must agree with encoding/json on valid
// objects; the whole source must take any file.

func FuzzParseLine(f *testing.F) {
	seeds := []string{
		`{"timestamp":"2025-11-01T09:24:02Z","level":"INFO","message":"x"}`,
		`{"a":{"b":[1,"}",{"c":null}]},"msg":"\u0041\ud800"}`,
		`ts=2025-11-01T09:00:00Z level=info msg="a \" b"`,
		"2025-12-01 10:00:00.123 | ERROR    | m:f:1 - x",
		"2025-11-01 09:30:00,123 - w - WARNING - q",
		"=== X ===",
		`{"type":"user","sessionId":"s","uuid":"u","message":{"content":[{"type":"tool_result","is_error":true,"content":[{"text":"e"}]}]}}`,
		"\xff\xfe\x00",
	}
	formats := []Format{FormatJSON, FormatTranscript, FormatLogfmt, FormatLoguru, FormatPlain, FormatSectioned, FormatText}
	for i, s := range seeds {
		f.Add(uint8(i), []byte(s))
	}
	f.Fuzz(func(t *testing.T, which uint8, line []byte) {
		p := newParser(formats[int(which)%len(formats)], time.UTC)
		var out parsed
		for range 2 {
			k := p.parse(line, &out)
			if k > lkMalformed || out.lv >= numLevels {
				t.Fatalf("kind %d level %d", k, out.lv)
			}
			if out.hasTime {
				if y := time.Unix(0, out.ns).UTC().Year(); y < 1 || y > 9999 {
					// epoch values are bounded by int64 nanoseconds
					if !(y >= 1677 && y <= 2262) {
						t.Fatalf("year %d", y)
					}
				}
			}
		}
	})
}

func FuzzJSONScan(f *testing.F) {
	for _, s := range []string{
		`{"message":"x","level":"error"}`, `{"message":"a\nb\u00e9"}`, `{}`, `{"a":[{"message":"no"}],"message":"yes"}`,
		`{"message":1}`, ` { "message" : "sp" } `, `{"message":"x",}`, `{"m":tru}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		var sc jsonScanner
		var fl jsonFields
		err := sc.scan(line, &fl)
		var obj map[string]json.RawMessage
		if json.Unmarshal(line, &obj) != nil || bytes.Contains(line, []byte(`\`)) && !utf8.Valid(line) {
			return
		}
		if err != nil {
			t.Fatalf("valid object %q: %v", line, err)
		}
		if len(obj) != fl.members && !hasDuplicateKeys(line) {
			t.Fatalf("%q: %d members, scanner saw %d", line, len(obj), fl.members)
		}
		// with a single message-like member, the scanner reads what
		// encoding/json reads
		var msgKeys []string
		for k := range obj {
			if classifyKey([]byte(k)) == kMsg {
				msgKeys = append(msgKeys, k)
			}
		}
		if len(msgKeys) != 1 || hasDuplicateKeys(line) || !utf8.Valid(line) {
			return
		}
		var want string
		if json.Unmarshal(obj[msgKeys[0]], &want) != nil {
			return
		}
		if string(fl.msg) != want && !strings.ContainsRune(want, utf8.RuneError) {
			t.Fatalf("%q: message %q, encoding/json %q", line, fl.msg, want)
		}
	})
}

func hasDuplicateKeys(line []byte) bool {
	d := json.NewDecoder(bytes.NewReader(line))
	seen := map[string]bool{}
	if _, err := d.Token(); err != nil {
		return false
	}
	for d.More() {
		tok, err := d.Token()
		if err != nil {
			return false
		}
		k := fmt.Sprint(tok)
		if seen[k] {
			return true
		}
		seen[k] = true
		var skip json.RawMessage
		if d.Decode(&skip) != nil {
			return false
		}
	}
	return false
}

func FuzzTimestamp(f *testing.F) {
	for _, s := range []string{"2025-11-01T09:24:02.867343Z", "2025-11-01 09:24:02,1 -05:30", "2016-12-31T23:59:60+14:00", "9999-12-31T23:59:59-01:00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ns, n, _, ok := parseTimestamp(s, time.UTC)
		if !ok {
			return
		}
		if n <= 0 || n > len(s) {
			t.Fatalf("%q: consumed %d", s, n)
		}
		if want, err := time.Parse(time.RFC3339Nano, s); err == nil && n == len(s) && want.Second() != 60 {
			if got := time.Unix(0, ns); !got.Equal(want) {
				t.Fatalf("%q: %v, time.Parse %v", s, got.UTC(), want.UTC())
			}
		}
		_, _, _ = parseTimeValue(s, time.UTC)
		_, _ = epochString(s)
	})
}

// FuzzSource runs the whole source over a file of arbitrary bytes, plain
// and gzipped: no error, no panic, every record valid.
func FuzzSource(f *testing.F) {
	for _, name := range []string{"formats/app.json.log", "formats/agent.loguru.log", "formats/agent-cli/exec-1234.log", "formats/api.logfmt"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, false)
	}
	f.Add([]byte("\x1f\x8b\x08\x00"), false)
	f.Add([]byte("2025-11-01T00:00:00Z ERROR x\n"), true)
	f.Fuzz(func(t *testing.T, data []byte, compress bool) {
		if compress {
			data = gz(t, data)
		}
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "f.log"), data, 0o644); err != nil {
			t.Fatal(err)
		}
		src, err := New(Config{Level: audit.SeverityDebug, Each: true, MaxLineBytes: 512, MaxPatterns: 4, MaxBuckets: 16})
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() {
			_, err := src.Run(context.Background(), dir, func(r *audit.Record) error { return r.Validate() })
			done <- err
		}()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("%v", err)
			}
		case <-time.After(10 * time.Second):
			buf := make([]byte, 1<<20)
			t.Fatalf("Run hangs on %q:\n%s", data, buf[:runtime.Stack(buf, true)])
		}
	})
}

// FuzzDetect: any first bytes give one of the formats and a reason.
func FuzzDetect(f *testing.F) {
	for _, s := range []string{
		"{\"a\":1}\n{\"b\":2}\n", "=== A ===\nx\n", "2025-12-01 10:00:00.123 | ERROR | m - x\n",
		"level=info msg=x\n", "2025-12-01T10:00:00Z WARN x\n", "\x00\x01\x02", "",
	} {
		f.Add([]byte(s), true)
	}
	known := []Format{FormatJSON, FormatTranscript, FormatLogfmt, FormatLoguru, FormatPlain, FormatSectioned, FormatText, FormatEmpty}
	f.Fuzz(func(t *testing.T, data []byte, whole bool) {
		got, why := detect(sampleLines(data, whole), time.UTC)
		if !slices.Contains(known, got) || why == "" {
			t.Fatalf("detect = %q (%q)", got, why)
		}
		_ = looksBinary(data)
		_ = stripANSI(bytes.Clone(data))
	})
}
