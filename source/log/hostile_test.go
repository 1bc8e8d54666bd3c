package log

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	audit "github.com/ami-orchestrator/ami-audit"
)

func write(t *testing.T, path string, data []byte) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func hasWarning(f *FileSummary, sub string) bool {
	return slices.ContainsFunc(f.Warnings, func(w string) bool { return strings.Contains(w, sub) })
}

// TestHugeLine streams a line of 1 GiB through a pipe: it is cut at
// MaxLineBytes with a warning, never held whole, and the next line is read
// normally.
func TestHugeLine(t *testing.T) {
	size := int64(1 << 30)
	if testing.Short() {
		size = 64 << 20
	}
	fifo := filepath.Join(t.TempDir(), "huge.log")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("no named pipes here: %v", err) // not Linux
	}
	errc := make(chan error, 1)
	go func() {
		f, err := os.OpenFile(fifo, os.O_WRONLY, 0)
		if err != nil {
			errc <- err
			return
		}
		defer f.Close()
		chunk := bytes.Repeat([]byte("x"), 1<<20)
		if _, err := f.WriteString(`{"timestamp":"2025-11-01T00:00:00Z","level":"ERROR","message":"`); err != nil {
			errc <- err
			return
		}
		for n := int64(0); n < size; n += int64(len(chunk)) {
			if _, err := f.Write(chunk); err != nil {
				errc <- err
				return
			}
		}
		_, err = f.WriteString("\"}\n" + `{"timestamp":"2025-11-01T00:00:01Z","level":"ERROR","message":"after the huge line"}` + "\n")
		errc <- err
	}()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, sum := collect(t, Config{}, fifo)
	runtime.ReadMemStats(&after)
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	f := sum.Files[0]
	if f.Format != FormatJSON || f.Lines != 2 || f.Truncated != 1 || f.Entries != 1 || f.Malformed != 1 {
		t.Errorf("format %s lines %d truncated %d entries %d malformed %d; want json 2 1 1 1", f.Format, f.Lines, f.Truncated, f.Entries, f.Malformed)
	}
	if !hasWarning(f, fmt.Sprintf("line 1 is %d bytes, cut to %d", size+int64(len(`{"timestamp":"2025-11-01T00:00:00Z","level":"ERROR","message":"`))+2, 1<<20)) {
		t.Errorf("warnings %q", f.Warnings)
	}
	if len(sum.Patterns) != 1 || sum.Patterns[0].Template != "after the huge line" {
		t.Errorf("patterns %v", sum.Patterns)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 32<<20 {
		t.Errorf("allocated %d MiB reading a %d MiB line; it must not be held", alloc>>20, size>>20)
	}
}

func TestBinaryGarbage(t *testing.T) {
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(1, 1))
	junk := make([]byte, 1<<20)
	for i := range junk {
		junk[i] = byte(r.UintN(256))
	}
	write(t, filepath.Join(dir, "core.dump"), junk)
	write(t, filepath.Join(dir, "ok.log"), []byte("2025-11-01T00:00:00Z ERROR fine\n"))
	recs, sum := collect(t, Config{}, dir)
	f := sum.Files[0]
	if f.Format != FormatBinary || !f.Skipped || f.Lines != 0 || !hasWarning(f, "binary data") {
		t.Errorf("binary file: %+v", f)
	}
	if recs[0].Severity != audit.SeverityWarning {
		t.Errorf("binary file record severity %s", recs[0].Severity)
	}
	if sum.Files[1].Entries != 1 {
		t.Errorf("the good file beside it was not read")
	}
}

func gz(t *testing.T, data []byte) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write(data)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func jsonLines(n int, level string) []byte {
	var b bytes.Buffer
	for i := range n {
		fmt.Fprintf(&b, `{"timestamp":"2025-11-01T%02d:%02d:%02dZ","level":%q,"message":"request %d failed with status 500"}`+"\n", i/3600%24, i/60%60, i%60, level, i)
	}
	return b.Bytes()
}

func TestCompressed(t *testing.T) {
	dir := t.TempDir()
	full := gz(t, jsonLines(5000, "ERROR"))
	// logrotate may concatenate members; both are read
	write(t, filepath.Join(dir, "a.log.1.gz"), append(slices.Clone(full), gz(t, jsonLines(10, "INFO"))...))
	write(t, filepath.Join(dir, "b.log.2.gz"), full[:len(full)/2])
	write(t, filepath.Join(dir, "c.log.gz"), []byte("\x1f\x8bnot really gzip"))
	write(t, filepath.Join(dir, "d.log.zst"), []byte("\x28\xb5\x2f\xfdzstd"))
	_, sum := collect(t, Config{}, dir)
	a, b, c, d := sum.Files[0], sum.Files[1], sum.Files[2], sum.Files[3]
	if a.Lines != 5010 || a.Incomplete || a.Compression != "gzip" {
		t.Errorf("concatenated gzip: lines %d incomplete %v", a.Lines, a.Incomplete)
	}
	if !b.Incomplete || b.Lines == 0 || b.Lines >= 5000 || !hasWarning(b, "gzip stream ends early") {
		t.Errorf("truncated gzip: lines %d incomplete %v warnings %q", b.Lines, b.Incomplete, b.Warnings)
	}
	if !c.Skipped || !hasWarning(c, "gzip") {
		t.Errorf("bad gzip header: %+v", c)
	}
	if !d.Skipped || !hasWarning(d, "not supported") {
		t.Errorf("zstd: %+v", d)
	}
}

func TestInvalidUTF8(t *testing.T) {
	dir := t.TempDir()
	data := []byte("{\"timestamp\":\"2025-11-01T00:00:00Z\",\"level\":\"ERROR\",\"message\":\"bad \xff\xfe byte 1\"}\n" +
		"2025-11-01T00:00:01Z ERROR also \xc3\x28 bad\n")
	write(t, filepath.Join(dir, "bad-\xff-name.log"), data)
	recs, sum := collect(t, Config{}, dir) // collect validates every record
	f := sum.Files[0]
	if !f.PathEscaped || !utf8.ValidString(f.Path) || !strings.Contains(f.Path, `\xff`) {
		t.Errorf("path %q escaped %v", f.Path, f.PathEscaped)
	}
	if f.InvalidUTF8 != 1 || f.Entries != 1 {
		t.Errorf("invalid UTF-8 lines %d entries %d; want 1 1 (the second line is malformed JSON)", f.InvalidUTF8, f.Entries)
	}
	for _, r := range recs {
		if r.Action == ActionPattern && r.Context["template"] != "bad \uFFFD byte <*>" {
			t.Errorf("template %q", r.Context["template"])
		}
	}
}

func TestEmptyAndBlank(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "empty.log"), nil)
	write(t, filepath.Join(dir, "blank.log"), []byte("\n\n   \n"))
	_, sum := collect(t, Config{}, dir)
	for _, f := range sum.Files {
		if f.Format != FormatEmpty || f.Entries != 0 {
			t.Errorf("%s: format %s entries %d", f.Path, f.Format, f.Entries)
		}
	}
}

func TestNoLogs(t *testing.T) {
	src, _ := New(Config{})
	_, err := src.Run(context.Background(), t.TempDir(), func(*audit.Record) error { return nil })
	if !errors.Is(err, ErrNoLogs) {
		t.Errorf("empty directory: %v", err)
	}
	_, err = src.Run(context.Background(), filepath.Join(t.TempDir(), "missing"), func(*audit.Record) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("missing directory: %v", err)
	}
}

func TestStops(t *testing.T) {
	dir := t.TempDir()
	for i := range 20 {
		write(t, filepath.Join(dir, fmt.Sprintf("f%02d.log", i)), jsonLines(2000, "ERROR"))
	}
	src, _ := New(Config{Each: true, Jobs: 4})
	stop := errors.New("stop")
	n := 0
	_, err := src.Run(context.Background(), dir, func(*audit.Record) error {
		if n++; n == 100 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 100 {
		t.Errorf("emit error: %v after %d records", err, n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n = 0
	_, err = src.Run(ctx, dir, func(*audit.Record) error {
		if n++; n == 100 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

// TestDeterministic: the records do not depend on how many files are read
// at once.
func TestDeterministic(t *testing.T) {
	dir := t.TempDir()
	for i := range 12 {
		var b bytes.Buffer
		for j := range 300 {
			fmt.Fprintf(&b, `{"ts":"2025-11-01T00:%02d:%02dZ","level":"error","msg":"w%d job %d failed after %dms"}`+"\n", j/60, j%60, i%3, j, j*7)
		}
		write(t, filepath.Join(dir, fmt.Sprintf("f%02d.log", i)), b.Bytes())
	}
	shape := func(jobs int) []string {
		recs, _ := collect(t, Config{Jobs: jobs}, dir)
		var out []string
		for _, r := range recs {
			out = append(out, fmt.Sprint(r.Action, r.Target, r.Timestamp, r.Context["template"], r.Context["count"]))
		}
		return out
	}
	if diff := cmp.Diff(shape(1), shape(4)); diff != "" {
		t.Errorf("records differ between 1 and 4 readers:\n%s", diff)
	}
}
