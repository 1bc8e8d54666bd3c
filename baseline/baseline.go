// Package baseline saves the audited state of a repository (package
// state: file hashes and modes, dependencies, services, with the hashes of
// its configuration files listed apart) as a signed JSON document, and
// reads one back only after its signature checks.
//
// # Format
//
//	{
//	  "format": "ami-audit-baseline/1",
//	  "created": "2026-01-02T03:04:05.000000000Z",
//	  "trail": {"origin": "…", "log_id": "…", "size": 1234, "root": "<base64>"},
//	  "config_patterns": ["*.yaml", …],
//	  "config_files": {"deploy/app.yaml": "<sha256>", …},
//	  "state": {"at": …, "files": {…}, "dependencies": {…}, "services": {…}},
//	  "signatures": [{"signer": "…", "key_hash": "<8 hex digits>", "algorithm": "Ed25519", "signature": "<base64>"}]
//	}
//
// The trail member names the log the state was read from and its tree
// (size and root) at that moment: a later comparison checks that the
// trail still holds that tree. Each signature is an Ed25519 signature, by
// a C2SP note key (package keys), of the message
// "ami-audit baseline v1\n" followed by the RFC 8785 canonical form of the
// document without its signatures member, so any language can check it.
//
// Load refuses a document whose format it does not know, that has no
// signature, whose signatures are by no trusted key, or whose trusted
// signature does not check — one altered after it was signed. Those
// errors wrap ledger.ErrTampered: the command line exits with status 3.
package baseline

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/canonical"
	"github.com/ami-orchestrator/ami-audit/ledger"
	"github.com/ami-orchestrator/ami-audit/state"
)

// Format names this version of the document.
const Format = "ami-audit-baseline/1"

// context is what a signature covers beside the document.
const signedPrefix = "ami-audit baseline v1\n"

// MaxBytes bounds a baseline file read: a baseline of a million files is
// about 150 MB.
const MaxBytes = 1 << 30

// Errors Load returns; the first three wrap ledger.ErrTampered.
var (
	ErrUnsigned     = fmt.Errorf("%w: the baseline is not signed", ledger.ErrTampered)
	ErrUntrusted    = fmt.Errorf("%w: the baseline is signed by no trusted key", ledger.ErrTampered)
	ErrBadSignature = fmt.Errorf("%w: the baseline's signature does not check (it was altered after it was signed)", ledger.ErrTampered)
	ErrFormat       = errors.New("not an ami-audit baseline")
)

// Trail names the log a baseline was read from and its tree then.
type Trail struct {
	Origin string `json:"origin"`
	LogID  string `json:"log_id"`
	Size   uint64 `json:"size"`
	Root   string `json:"root"`
}

// Signature is one signer's signature of the baseline.
type Signature struct {
	Signer    string `json:"signer"`
	KeyHash   string `json:"key_hash"`
	Algorithm string `json:"algorithm"`
	Signature string `json:"signature"`
}

// Baseline is a saved state.
type Baseline struct {
	Format         string            `json:"format"`
	Created        time.Time         `json:"created"`
	Trail          Trail             `json:"trail"`
	ConfigPatterns []string          `json:"config_patterns"`
	ConfigFiles    map[string]string `json:"config_files"`
	State          *state.State      `json:"state"`
	Signatures     []Signature       `json:"signatures"`
}

// New makes an unsigned baseline of st, read from the trail tr at its tree
// of size and root. patterns are the configuration files' (state.DefaultConfig
// when nil).
func New(st *state.State, tr Trail, patterns []string, now time.Time) *Baseline {
	if patterns == nil {
		patterns = state.DefaultConfig
	}
	st.At = st.At.UTC()
	b := &Baseline{Format: Format, Created: now.UTC(), Trail: tr, ConfigPatterns: slices.Clone(patterns),
		ConfigFiles: map[string]string{}, State: st}
	for p, f := range st.Files {
		if state.IsConfig(patterns, p) {
			b.ConfigFiles[p] = f.SHA256
		}
	}
	return b
}

// message is what a signature covers.
func (b *Baseline) message() ([]byte, error) {
	c := *b
	c.Signatures = nil
	raw, err := json.Marshal(struct {
		Format         string            `json:"format"`
		Created        string            `json:"created"`
		Trail          Trail             `json:"trail"`
		ConfigPatterns []string          `json:"config_patterns"`
		ConfigFiles    map[string]string `json:"config_files"`
		State          *state.State      `json:"state"`
	}{c.Format, audit.FormatTime(c.Created), c.Trail, orEmpty(c.ConfigPatterns), c.ConfigFiles, c.State})
	if err != nil {
		return nil, err
	}
	body, err := canonical.Transform(raw)
	if err != nil {
		return nil, err
	}
	return append([]byte(signedPrefix), body...), nil
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// Sign adds signer's signature (replacing an earlier one by the same key).
func (b *Baseline) Sign(signer note.Signer) error {
	msg, err := b.message()
	if err != nil {
		return err
	}
	sig, err := signer.Sign(msg)
	if err != nil {
		return fmt.Errorf("sign the baseline: %w", err)
	}
	hash := fmt.Sprintf("%08x", signer.KeyHash())
	b.Signatures = slices.DeleteFunc(b.Signatures, func(s Signature) bool { return s.Signer == signer.Name() && s.KeyHash == hash })
	b.Signatures = append(b.Signatures, Signature{Signer: signer.Name(), KeyHash: hash, Algorithm: "Ed25519",
		Signature: base64.StdEncoding.EncodeToString(sig)})
	return nil
}

// Write writes the baseline as indented JSON.
func (b *Baseline) Write(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(b)
}

// Load reads a baseline and checks it: a known format, and a signature by
// one of trusted that checks (every signature by a trusted key must
// check). It returns the baseline and the names of the keys that signed it.
func Load(r io.Reader, trusted []note.Verifier) (*Baseline, []string, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxBytes+1))
	if err != nil {
		return nil, nil, err
	}
	if len(data) > MaxBytes {
		return nil, nil, fmt.Errorf("%w: larger than %d bytes", ErrFormat, MaxBytes)
	}
	var b Baseline
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrFormat, err)
	}
	if b.Format != Format {
		return nil, nil, fmt.Errorf("%w: format %q (want %q)", ErrFormat, b.Format, Format)
	}
	if b.State == nil {
		return nil, nil, fmt.Errorf("%w: no state", ErrFormat)
	}
	if len(b.Signatures) == 0 {
		return nil, nil, ErrUnsigned
	}
	msg, err := b.message()
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrFormat, err)
	}
	var signers []string
	for _, s := range b.Signatures {
		v := find(trusted, s)
		if v == nil {
			continue
		}
		sig, err := base64.StdEncoding.DecodeString(s.Signature)
		if err != nil || s.Algorithm != "Ed25519" || !v.Verify(msg, sig) {
			return nil, nil, fmt.Errorf("%w: %s's signature", ErrBadSignature, s.Signer)
		}
		signers = append(signers, s.Signer)
	}
	if len(signers) == 0 {
		var names []string
		for _, s := range b.Signatures {
			names = append(names, s.Signer)
		}
		return nil, nil, fmt.Errorf("%w (signed by %s)", ErrUntrusted, strings.Join(names, ", "))
	}
	b.State.Files = nonNil(b.State.Files)
	b.State.Dependencies = nonNil(b.State.Dependencies)
	b.State.Services = nonNil(b.State.Services)
	return &b, signers, nil
}

func nonNil[V any](m map[string]V) map[string]V {
	if m == nil {
		return map[string]V{}
	}
	return m
}

// find returns the trusted verifier of a signature's key.
func find(trusted []note.Verifier, s Signature) note.Verifier {
	h, err := strconv.ParseUint(s.KeyHash, 16, 32)
	if err != nil {
		return nil
	}
	for _, v := range trusted {
		if v.Name() == s.Signer && v.KeyHash() == uint32(h) {
			return v
		}
	}
	return nil
}
