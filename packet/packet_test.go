package packet_test

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/ami-orchestrator/ami-audit/compliance"
	"github.com/ami-orchestrator/ami-audit/compliance/compliancetest"
	"github.com/ami-orchestrator/ami-audit/ledger"
	"github.com/ami-orchestrator/ami-audit/packet"
	"github.com/ami-orchestrator/ami-audit/report/trailreport"
)

func build(t *testing.T) ([]byte, *compliancetest.Scenario) {
	t.Helper()
	ctx := context.Background()
	sc := compliancetest.New(t)
	cats, err := compliance.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	res, err := trailreport.Build(ctx, sc.Trail, trailreport.Options{Catalogs: cats, Now: compliancetest.Now})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	sum, err := packet.Build(ctx, sc.Trail, packet.Options{Report: res.Report, Now: compliancetest.Now}, &buf)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Records != sc.Size {
		t.Fatalf("packet holds %d records, want %d", sum.Records, sc.Size)
	}
	return buf.Bytes(), sc
}

func verify(b []byte, key note.Verifier) (*packet.Result, error) {
	return packet.Verify(bytes.NewReader(b), int64(len(b)), key)
}

func TestProofLen(t *testing.T) {
	for n := uint64(1); n < 300; n++ {
		for i := range n {
			got := packet.ProofLen(i, n)
			if bound := int(math.Ceil(math.Log2(float64(n)))); got > bound {
				t.Fatalf("ProofLen(%d, %d) = %d > ⌈log₂ n⌉ = %d", i, n, got, bound)
			}
		}
	}
}

// A packet verifies with nothing else, and with the log key given.
func TestVerifyOffline(t *testing.T) {
	b, sc := build(t)
	res, err := verify(b, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Records != sc.Size || res.Signatures != 2 || res.Origin != "example.org/compliance" {
		t.Errorf("result %+v", res)
	}
	if _, err := verify(b, sc.Trail.PublicKey()); err != nil {
		t.Errorf("with the log key: %v", err)
	}
	// Another log's key: refused.
	_, other, err := note.GenerateKey(nil, "example.org/compliance")
	if err != nil {
		t.Fatal(err)
	}
	ov, _ := note.NewVerifier(other)
	if _, err := verify(b, ov); !errors.Is(err, ledger.ErrTampered) || !strings.Contains(err.Error(), "MANIFEST") {
		t.Errorf("with another key: %v", err)
	}
}

// rewrite returns the packet with one file changed by edit (or added or
// removed).
func rewrite(t *testing.T, b []byte, name string, edit func([]byte) []byte) []byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	for _, f := range zr.File {
		rc, _ := f.Open()
		content, _ := io.ReadAll(rc)
		rc.Close()
		if f.Name == name {
			if content = edit(content); content == nil {
				continue
			}
		}
		w, _ := zw.Create(f.Name)
		w.Write(content)
	}
	if name == "extra.txt" {
		w, _ := zw.Create(name)
		w.Write(edit(nil))
	}
	zw.Close()
	return out.Bytes()
}

// Altering any file of the packet fails verification, naming the file.
func TestAlteredFilesNamed(t *testing.T) {
	b, _ := build(t)
	zr, _ := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	flip := func(c []byte) []byte {
		c = bytes.Clone(c)
		i := len(c) / 2
		c[i] ^= 0x01
		return c
	}
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
	}
	if len(names) < 8 {
		t.Fatalf("packet files: %v", names)
	}
	for _, name := range names {
		t.Run("alter "+name, func(t *testing.T) {
			_, err := verify(rewrite(t, b, name, flip), nil)
			if !errors.Is(err, ledger.ErrTampered) || !strings.Contains(err.Error(), name) {
				t.Errorf("altered %s: %v", name, err)
			}
		})
		if name == packet.FileManifest {
			continue
		}
		t.Run("remove "+name, func(t *testing.T) {
			_, err := verify(rewrite(t, b, name, func([]byte) []byte { return nil }), nil)
			if !errors.Is(err, ledger.ErrTampered) || !strings.Contains(err.Error(), name) {
				t.Errorf("removed %s: %v", name, err)
			}
		})
	}
	_, err := verify(rewrite(t, b, "extra.txt", func([]byte) []byte { return []byte("x") }), nil)
	if !errors.Is(err, ledger.ErrTampered) || !strings.Contains(err.Error(), "extra.txt") {
		t.Errorf("added file: %v", err)
	}
}
