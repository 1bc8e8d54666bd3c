package baseline

import (
	"bytes"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/mod/sumdb/note"

	"github.com/ami-orchestrator/ami-audit/ledger"
	"github.com/ami-orchestrator/ami-audit/state"
)

func key(t testing.TB, name string) (note.Signer, note.Verifier) {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		t.Fatal(err)
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return s, v
}

func sample() *state.State {
	st := state.New(time.Date(2026, 1, 2, 3, 4, 5, 6, time.FixedZone("x", 3600)))
	st.Files["src/main.go"] = state.File{SHA256: strings.Repeat("a", 64), Mode: "0644", Size: 120, Type: "file"}
	st.Files["deploy/app.yaml"] = state.File{SHA256: strings.Repeat("b", 64), Mode: "0600", Size: 9}
	d := state.Dependency{Module: "app", Ecosystem: "pypi", Group: "main", Name: "django", Version: "2.0.1", Spec: "==2.0.1"}
	st.Dependencies[d.Key()] = d
	st.Services["db"] = state.Service{State: "up", Kind: "compose"}
	return st
}

func saved(t testing.TB, signers ...note.Signer) []byte {
	t.Helper()
	b := New(sample(), Trail{Origin: "example.org/log", LogID: "abc", Size: 42, Root: "cm9vdA=="}, nil, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	for _, s := range signers {
		if err := b.Sign(s); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := b.Write(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestRoundTrip(t *testing.T) {
	s, v := key(t, "log")
	alice, av := key(t, "alice")
	data := saved(t, s, alice)
	b, signers, err := Load(bytes.NewReader(data), []note.Verifier{v, av})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"log", "alice"}, signers); diff != "" {
		t.Errorf("signers (-want +got):\n%s", diff)
	}
	want := sample()
	want.At = want.At.UTC()
	if diff := cmp.Diff(want, b.State); diff != "" {
		t.Errorf("state (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]string{"deploy/app.yaml": strings.Repeat("b", 64)}, b.ConfigFiles); diff != "" {
		t.Errorf("configuration files (-want +got):\n%s", diff)
	}
	// One trusted key is enough.
	if _, _, err := Load(bytes.NewReader(data), []note.Verifier{av}); err != nil {
		t.Errorf("alice alone: %v", err)
	}
}

func TestRefused(t *testing.T) {
	s, v := key(t, "log")
	_, other := key(t, "log") // same name, another key
	good := string(saved(t, s))
	tests := []struct {
		name    string
		data    string
		trusted []note.Verifier
		want    error
	}{
		{"a file hash altered", strings.Replace(good, strings.Repeat("a", 64), strings.Repeat("c", 64), 1), []note.Verifier{v}, ErrBadSignature},
		{"a mode altered", strings.Replace(good, `"0600"`, `"0666"`, 1), []note.Verifier{v}, ErrBadSignature},
		{"the tree altered", strings.Replace(good, `"size": 42`, `"size": 43`, 1), []note.Verifier{v}, ErrBadSignature},
		{"a service added", strings.Replace(good, `"db": {`, `"cache": {"state": "up"}, "db": {`, 1), []note.Verifier{v}, ErrBadSignature},
		{"the signature altered", strings.Replace(good, `"signature": "`, `"signature": "A`, 1), []note.Verifier{v}, ErrBadSignature},
		{"unsigned", string(saved(t)), []note.Verifier{v}, ErrUnsigned},
		{"another key of the same name", good, []note.Verifier{other}, ErrUntrusted},
		{"no trusted key", good, nil, ErrUntrusted},
		{"an unknown member", strings.Replace(good, `"format"`, `"extra": 1, "format"`, 1), []note.Verifier{v}, ErrFormat},
		{"another format", strings.Replace(good, Format, "ami-audit-baseline/9", 1), []note.Verifier{v}, ErrFormat},
		{"not JSON", "baseline", []note.Verifier{v}, ErrFormat},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.data == good {
				if _, _, err := Load(strings.NewReader(good), []note.Verifier{v}); err != nil {
					t.Fatalf("the untouched baseline does not load: %v", err)
				}
			}
			_, _, err := Load(strings.NewReader(tt.data), tt.trusted)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if tt.want != ErrFormat && !errors.Is(err, ledger.ErrTampered) {
				t.Errorf("%v does not wrap ErrTampered", err)
			}
		})
	}
}

// FuzzLoad: a hostile baseline never panics, and one that loads checked.
func FuzzLoad(f *testing.F) {
	s, v := key(f, "log")
	f.Add(saved(f, s))
	f.Add(saved(f))
	f.Add([]byte(`{"format":"ami-audit-baseline/1","state":{},"signatures":[{"signer":"log","key_hash":"zz"}]}`))
	f.Add([]byte(`{"format":"ami-audit-baseline/1","state":{"files":null},"signatures":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, signers, err := Load(bytes.NewReader(data), []note.Verifier{v})
		if err != nil {
			return
		}
		if len(signers) == 0 || b.State == nil || b.State.Files == nil {
			t.Fatalf("loaded without a signer or a state: %v %+v", signers, b)
		}
	})
}
