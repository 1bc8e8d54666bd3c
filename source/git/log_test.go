package git

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

const (
	h1 = "1111111111111111111111111111111111111111"
	h2 = "2222222222222222222222222222222222222222"
	h3 = "3333333333333333333333333333333333333333"
)

// header builds one commit's format output as git prints it with -z.
func header(hash, parents, msg string) string {
	f := []string{hash, parents, "Ann", "ann@example.com", "2024-01-02T03:04:05+01:00", "Cid", "cid@example.com", "2024-01-02T04:00:00Z", "N", "", "", msg}
	return "\x01" + strings.Join(f, "\x00") + "\x00"
}

func TestLogParser(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []Commit
	}{
		{
			name: "files, binary and rename",
			in: header(h2, h1, "Second\n\nBody\n") + "\n" +
				"3\t1\tsrc/a.go\x00" + "-\t-\tlogo.png\x00" + "0\t0\t\x00old name\x00new\nname\x00" +
				header(h1, "", "First\n"),
			want: []Commit{
				{Hash: h2, Parents: []string{h1}, Message: "Second\n\nBody\n", Files: []FileChange{
					{Path: "src/a.go", Added: 3, Removed: 1},
					{Path: "logo.png", Binary: true},
					{Path: "new\nname", OldPath: "old name"},
				}},
				{Hash: h1, Message: "First\n"},
			},
		},
		{
			name: "merge without files, then a commit with files",
			in:   header(h3, h1+" "+h2, "Merge\n") + header(h2, h1, "x") + "\n1\t0\tf\x00",
			want: []Commit{
				{Hash: h3, Parents: []string{h1, h2}, Message: "Merge\n"},
				{Hash: h2, Parents: []string{h1}, Message: "x", Files: []FileChange{{Path: "f", Added: 1}}},
			},
		},
		{
			name: "raw entries give objects and gitlinks",
			in: header(h2, h1, "Raw\n") + "\n" +
				":100644 100644 " + h1 + " " + h3 + " M\x00src/a.go\x00" +
				":000000 160000 0000000000000000000000000000000000000000 " + h2 + " A\x00lib\x00" +
				":100644 100644 " + h1 + " " + h1 + " R100\x00old\x00new\x00" +
				":100644 000000 " + h3 + " 0000000000000000000000000000000000000000 D\x00gone\x00" +
				"3\t1\tsrc/a.go\x00" + "1\t0\tlib\x00" + "0\t0\t\x00old\x00new\x00" + "0\t4\tgone\x00",
			want: []Commit{{Hash: h2, Parents: []string{h1}, Message: "Raw\n", Files: []FileChange{
				{Path: "src/a.go", Added: 3, Removed: 1, Blob: h3},
				{Path: "lib", Added: 1, Gitlink: true},
				{Path: "new", OldPath: "old", Blob: h1},
				{Path: "gone", Removed: 4},
			}}},
		},
		{name: "empty", in: "", want: nil},
		{name: "stray newlines", in: "\n\n" + header(h1, "", "m") + "\n\n", want: []Commit{{Hash: h1, Message: "m"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// One byte at a time too: the parser must not depend on how
			// the pipe delivers the bytes.
			for _, r := range []io.Reader{strings.NewReader(tt.in), iotest.OneByteReader(strings.NewReader(tt.in))} {
				got, err := parseAll(r)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("(-want +got):\n%s", diff)
				}
			}
		})
	}
}

// parseAll parses every commit, keeping the fields the table compares.
func parseAll(r io.Reader) ([]Commit, error) {
	p := newLogParser(r)
	var out []Commit
	var c Commit
	for {
		err := p.Next(&c)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		if c.AuthorName != "Ann" || c.AuthorTime.IsZero() || c.CommitTime.IsZero() || c.Signature != "N" {
			return out, errors.New("header fields misread")
		}
		x := Commit{Hash: c.Hash, Message: c.Message}
		if len(c.Parents) > 0 {
			x.Parents = append([]string(nil), c.Parents...)
		}
		if len(c.Files) > 0 {
			x.Files = append([]FileChange(nil), c.Files...)
		}
		out = append(out, x)
	}
}

func TestLogParserErrors(t *testing.T) {
	tests := []struct {
		name, in, msg string
	}{
		{"no marker", "garbage", "format marker"},
		{"truncated header", "\x01" + h1 + "\x00" + h2, "inside a commit header"},
		{"bad hash", header("xyz", "", "m"), "bad commit hash"},
		{"bad parent", header(h1, "nope", "m"), "bad parent"},
		{"bad count", header(h1, "", "m") + "\nx\t1\tf\x00", "bad line count"},
		{"no tabs", header(h1, "", "m") + "\n12\x00", "bad --numstat entry"},
		{"truncated rename", header(h1, "", "m") + "\n1\t1\t\x00old\x00", "rename entry"},
		{"truncated entry", header(h1, "", "m") + "\n1\t1\tpa", "inside a --numstat entry"},
		{"bad raw entry", header(h1, "", "m") + "\n:100644 M\x00f\x00", "bad --raw entry"},
		{"truncated raw rename", header(h1, "", "m") + "\n:100644 100644 " + h1 + " " + h2 + " R100\x00old\x00", "--raw rename entry"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseAll(strings.NewReader(tt.in))
			if err == nil || !errors.Is(err, ErrLogFormat) || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("err = %v, want ErrLogFormat mentioning %q", err, tt.msg)
			}
		})
	}
}

func TestLongMessage(t *testing.T) {
	long := strings.Repeat("x", maxField+1000)
	got, err := parseAll(strings.NewReader(header(h1, "", long) + header(h2, "", "short")))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || len(got[0].Message) != maxField || got[1].Message != "short" {
		t.Fatalf("got %d commits, first message %d bytes", len(got), len(got[0].Message))
	}
}

func TestEscape(t *testing.T) {
	tests := []struct{ in, out string }{
		{"plain ünïcode", "plain ünïcode"},
		{"a\xffb", `a\xffb`},
		{`back\slash` + "\xfe", `back\\slash\xfe`},
		{"\xe2\x82", `\xe2\x82`}, // a truncated sequence
		{"new\nline\x80", "new\nline\\x80"},
	}
	for _, tt := range tests {
		got, esc := Escape(tt.in)
		if got != tt.out || esc != (tt.in != tt.out) {
			t.Errorf("Escape(%q) = %q, %v; want %q", tt.in, got, esc, tt.out)
		}
		if esc && Unescape(got) != tt.in {
			t.Errorf("Unescape(%q) = %q, want %q", got, Unescape(got), tt.in)
		}
	}
}

func FuzzEscape(f *testing.F) {
	for _, s := range []string{"", "abc", "a\xffb", `\x41`, "\\\xff", "\xc3", "ü\x80\\"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, esc := Escape(s)
		if !utf8.ValidString(e) {
			t.Fatalf("Escape(%q) = %q is not UTF-8", s, e)
		}
		if esc && Unescape(e) != s {
			t.Fatalf("Unescape(Escape(%q)) = %q", s, Unescape(e))
		}
		if !esc && e != s {
			t.Fatalf("valid %q changed to %q", s, e)
		}
	})
}

// FuzzParseLog feeds arbitrary bytes to the log parser: it must never
// panic or loop, and every commit it accepts must make a valid record.
func FuzzParseLog(f *testing.F) {
	f.Add([]byte(header(h2, h1, "Second\n\nBody\n") + "\n3\t1\tsrc/a.go\x00-\t-\tlogo.png\x000\t0\t\x00old\x00new\x00" + header(h1, "", "First\n")))
	f.Add([]byte(header(h3, h1+" "+h2, "Merge\xff\n") + header(h2, h1, "x") + "\n1\t0\tf\xfe\x00"))
	f.Add([]byte("\x01" + h1 + "\x00\x00\x00\x00bad date\x00\x00\x00\x00\x00\x00\x00\x00"))
	f.Add([]byte{})
	f.Add([]byte("\n\x01"))
	f.Add([]byte(header(h2, h1, "r") + "\n:100644 160000 " + h1 + " " + h2 + " M\x00lib\x00:100644 100644 " + h1 + " " + h3 + " R090\x00a\x00b\x001\t1\tlib\x000\t0\t\x00a\x00b\x00"))
	src := &Source{cfg: Config{}}
	f.Fuzz(func(t *testing.T, in []byte) {
		p := newLogParser(bytes.NewReader(in))
		var c Commit
		for i := 0; ; i++ {
			if i > len(in)+1 {
				t.Fatalf("parser loops: %d commits from %d bytes", i, len(in))
			}
			err := p.Next(&c)
			if err != nil {
				if err != io.EOF && !errors.Is(err, ErrLogFormat) {
					t.Fatalf("unexpected error kind: %v", err)
				}
				return
			}
			c.Repo = "."
			r := src.commitRecord(&c)
			if err := r.Validate(); err != nil {
				t.Fatalf("record of parsed commit is invalid: %v", err)
			}
		}
	})
}

var c0 = time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)

// FuzzParseBlame checks the blame parser never panics and that what it
// accepts summarises consistently.
func FuzzParseBlame(f *testing.F) {
	f.Add([]byte(h1 + " 1 1 2\nauthor Ann\nauthor-mail <ann@x>\nauthor-time 1700000000\nsummary s\nfilename f\n" + h2 + " 3 3 1\nauthor B\xff\nfilename f\n" + h1 + " 5 4 1\nfilename f\n"))
	f.Add([]byte(h1 + " 1 1 0\nfilename f\n"))
	f.Add([]byte("not blame\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		commits, groups, err := parseBlame(bytes.NewReader(in))
		if err != nil {
			if !errors.Is(err, ErrBlameFormat) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		b := summarizeBlame(commits, groups, c0)
		var n, aged int64
		for _, a := range b.Authors {
			n += a.Lines
		}
		for _, a := range b.Ages {
			aged += a.Lines
		}
		if n != b.Lines || aged != b.Lines {
			t.Fatalf("lines %d, by author %d, by age %d", b.Lines, n, aged)
		}
		src := &Source{cfg: Config{}}
		b.Path = "f"
		if err := src.blameRecord(&b).Validate(); err != nil {
			t.Fatal(err)
		}
	})
}
