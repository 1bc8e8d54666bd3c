package canonical_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/gowebpki/jcs"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/canonical"
	"github.com/ami-orchestrator/ami-audit/ledger"
)

var update = flag.Bool("update", false, "rewrite testdata/vectors/canonical.json (expected values from the reference implementation and the record encoder)")

// vectorsPath is the published vector file, at the repository root so that
// implementers in other languages find it.
var vectorsPath = filepath.Join("..", "testdata", "vectors", "canonical.json")

// vectorFile is the layout of testdata/vectors/canonical.json.
type vectorFile struct {
	Description []string       `json:"description"`
	Cases       []jsonVector   `json:"cases"`
	Records     []recordVector `json:"records"`
	// MerkleRoots[i] is the RFC 6962 root (base64) of the first i+1 records.
	MerkleRoots []string `json:"merkle_roots"`
	// Commitments are field commitments (canonical form version 2).
	Commitments []commitmentVector `json:"commitments"`
	// Forgetting is a chain that redacted a value and pruned records.
	Forgetting *forgettingVector `json:"forgetting"`
}

// jsonVector is one RFC 8785 case: the canonical form of Input, or an error
// when Input must be refused.
type jsonVector struct {
	Name      string          `json:"name"`
	Input     json.RawMessage `json:"input"`
	Canonical string          `json:"canonical,omitempty"`
	SHA256    string          `json:"sha256,omitempty"`
	Error     string          `json:"error,omitempty"`
}

// recordVector is one complete record in its export form, the bytes its
// hash covers, and its hash.
type recordVector struct {
	Name            string          `json:"name"`
	Record          json.RawMessage `json:"record"`
	Canonical       string          `json:"canonical"`
	RecordHash      string          `json:"record_hash"`
	Export          string          `json:"export"`
	SignerPublicKey string          `json:"signer_public_key,omitempty"`
}

// jsonCases are the inputs of the generic vectors. Their expected canonical
// forms are produced by the reference implementation (github.com/gowebpki/jcs)
// on -update, and checked against this package and scripts/verify_export.py.
var jsonCases = []struct{ name, input string }{
	{"null", `null`},
	{"true", `true`},
	{"false", `false`},
	{"zero", `0`},
	{"minus zero integer", `-0`},
	{"minus zero float", `-0.0`},
	{"one with fraction", `1.0`},
	{"exponent capital", `1E2`},
	{"1e21 uses an exponent", `1e21`},
	{"1e20 does not", `1e20`},
	{"1e-7 uses an exponent", `1e-7`},
	{"0.000001 does not", `0.000001`},
	{"smallest subnormal", `5e-324`},
	{"largest double", `1.7976931348623157e308`},
	{"largest negative double", `-1.7976931348623157e308`},
	{"2^53 written as a float", `9.007199254740992e15`},
	{"20-digit value written as a float", `1.2345678901234568e20`},
	{"~2^68", `2.9514790517935283e20`},
	{"just below 1e21", `9.999999999999997e20`},
	{"1e23 boundary below", `9.999999999999997e22`},
	{"1e23", `1e23`},
	{"1e23 boundary above", `1.0000000000000001e23`},
	{"just below 0.000001", `9.999999999999997e-7`},
	{"thirds", `[333333333.3333332,333333333.33333325,333333333.3333333,333333333.3333334,333333333.33333343]`},
	{"negative small", `-0.0000033333333333333333`},
	{"round to even", `1424953923781206.25`},
	{"max safe integer", `9007199254740991`},
	{"min safe integer", `-9007199254740991`},
	{"underflow to zero", `1e-400`},
	{"one tenth", `0.1`},
	{"trailing zeros dropped", `4.50`},
	{"control characters", `"\u0000\u0001\u001f\u007f"`},
	{"short escapes", `"\b\f\n\r\t"`},
	{"quotes and backslashes", `"\"q\" \\ \/"`},
	{"line and paragraph separators", `"\u2028\u2029"`},
	{"emoji beyond the BMP", `"\ud83d\ude00"`},
	{"non-ASCII escaped and raw", `["\u00e9","é","\u20ac"]`},
	{"unnormalized Unicode", `{"Unnormalized Unicode":"A\u030a"}`},
	{"member order by UTF-16 code units", `{"\ue000":"private use","\ud83d\ude00":"emoji"}`},
	{"member order mixed", `{"b":1,"a":2,"aa":3,"A":4,"":5,"\u00e9":6,"e\u0301":7,"\u20ac":8,"\ud83d\ude02":9,"\ufb33":10}`},
	{"nested", `{"z":[{"b":[],"a":{}}],"y":{"d":{"c":null}}}`},
	{"empty containers", `[[],{},[[]],[{}]]`},
	{"white space dropped", " \t\n{ \"a\" : [ 1 , 2 ] }\r\n "},
	// The examples of RFC 8785 (its reference test data).
	{"rfc8785 arrays", `[56,{"d":true,"10":null,"1":[]}]`},
	{"rfc8785 french", `{"peach":"This sorting order","péché":"is wrong according to French","pêche":"but canonicalization MUST","sin":"ignore locale"}`},
	{"rfc8785 structures", `{"1":{"f":{"f":"hi","F":5},"\n":56.0},"10":{},"":"empty","a":{},"111":[{"e":"yes","E":"no"}],"A":{}}`},
	{"rfc8785 values", `{"numbers":[333333333.33333329,1E30,4.50,2e-3,0.000000000000000000000000001],"string":"\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/","literals":[null,true,false]}`},
	{"rfc8785 weird", `{"\u20ac":"Euro Sign","\r":"Carriage Return","\u000a":"Newline","1":"One","\u0080":"Control\u007f","\ud83d\ude02":"Smiley","\u00f6":"Latin Small Letter O With Diaeresis","\ufb33":"Hebrew Letter Dalet With Dagesh","</script>":"Browser Challenge"}`},
}

// errorCases must be refused by every implementation of the ami-audit form.
var errorCases = []struct{ name, input, err string }{
	{"integer beyond 2^53 that is not a double", `9007199254740993`, "integer beyond ±(2^53-1) that a double cannot hold exactly"},
	{"negative integer beyond 2^53", `-9007199254740993`, "integer beyond ±(2^53-1) that a double cannot hold exactly"},
	{"21-digit integer", `123456789012345678901`, "integer beyond ±(2^53-1) that a double cannot hold exactly"},
	{"nested integer beyond 2^53", `{"count":18446744073709551615}`, "integer beyond ±(2^53-1) that a double cannot hold exactly"},
	{"number overflows a double", `1e400`, "number beyond the range of a double"},
}

// vectorRecords builds the record vectors: a chain of three records that
// together use every field and every optional-member rule.
func vectorRecords(t *testing.T) ([]*audit.Record, map[int]ed25519.PublicKey) {
	t.Helper()
	at := func(s string) time.Time {
		ts, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return ts
	}
	minimal := &audit.Record{
		RecordID:   "01890a5d-ac96-774b-bcce-b302099a8057",
		Timestamp:  at("2024-01-02T03:04:05Z"),
		Actor:      "ci",
		Action:     "deploy",
		Target:     "svc/api",
		TargetType: audit.TargetService,
	}
	full := &audit.Record{
		RecordID:       "01890a5d-ac96-774b-bcce-b302099a8058",
		Timestamp:      at("2024-01-02T04:04:05.123456789+01:00"), // written in UTC
		Actor:          "Zoë <zoe@example.com>",
		Action:         "quality_scan",
		Target:         "modules/ami-core/src/\"quoted\" path.py",
		TargetType:     audit.TargetQuality,
		Source:         "quality_source",
		Reason:         "nightly scan\nline two\ttabbed",
		Severity:       audit.SeverityError,
		Classification: audit.ClassConfidential,
		Context: map[string]any{
			"floats":       []any{0.1, -0.5, 1e21, 1e-7, 123.456, json.Number("2.50")},
			"integers":     []any{0, -1, 9007199254740991, json.Number("42")},
			"unicode":      "naïve café — 日本語 \U0001F600",
			"controls":     "\x00\x1f\x7f\u2028",
			"\ue000":       "private use key sorts after the emoji key",
			"\U0001F600":   "emoji key",
			"nested":       map[string]any{"b": map[string]any{"z": nil, "a": true}, "a": []any{map[string]any{}, []any{}}},
			"empty_string": "",
		},
		Metadata: map[string]any{"tool": "ruff", "version": "0.4.1"},
		Findings: []audit.Finding{
			{
				FindingID:      "01890a5d-ac96-774b-bcce-b302099a8100",
				FindingType:    "complexity",
				Severity:       audit.SeverityWarning,
				Description:    "function is too complex",
				Location:       "src/core.py:10",
				Recommendation: "split it",
				Metadata:       map[string]any{"cyclomatic": 31},
			},
			{
				FindingID:   "01890a5d-ac96-774b-bcce-b302099a8101",
				FindingType: "coverage",
				Description: "no tests", // no location, no recommendation, no metadata
			},
		},
		Violations: []audit.Violation{
			{ViolationID: "01890a5d-ac96-774b-bcce-b302099a8200", Rule: "E501", Severity: audit.SeverityError,
				Message: "line too long (120 > 88)", FilePath: "src/core.py", LineNumber: 12, ColumnNumber: 89},
			{ViolationID: "01890a5d-ac96-774b-bcce-b302099a8201", Rule: "D100", Message: "missing docstring"}, // no file, line, column
			{ViolationID: "01890a5d-ac96-774b-bcce-b302099a8202", Rule: "W291", Message: "trailing whitespace", FilePath: "src/b.py", LineNumber: 3},
		},
	}
	signed := &audit.Record{
		RecordID:   "01890a5d-ac96-774b-bcce-b302099a8059",
		Timestamp:  at("2024-01-02T05:00:00.000000001Z"),
		Actor:      "alice",
		Action:     "approve",
		Target:     "release/1.4",
		TargetType: audit.TargetGit,
		Status:     audit.StatusVerified,
	}
	recs := []*audit.Record{minimal, full, signed}
	// Link them as a store would: sequence, previous_hash, proof of work 2
	// for the last record, record_hash.
	prev := audit.GenesisHash
	for i, r := range recs {
		r.Normalize()
		r.Sequence = uint64(i)
		r.PreviousHash = prev
		difficulty := 0
		if r == signed {
			difficulty = 2
		}
		for {
			h, err := r.Hash()
			if err != nil {
				t.Fatal(err)
			}
			if strings.HasPrefix(h, strings.Repeat("0", difficulty)) {
				r.RecordHash = h
				break
			}
			r.Nonce++
		}
		if err := r.Validate(); err != nil {
			t.Fatal(err)
		}
		prev = r.RecordHash
	}
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))
	sig := ed25519.Sign(key, ledger.SignedMessage(signed.RecordHash))
	signed.Signatures = []audit.Signature{{Signer: "alice", Signature: base64.StdEncoding.EncodeToString(sig),
		Algorithm: audit.AlgorithmEd25519, Timestamp: at("2024-01-02T05:00:01Z")}}
	return recs, map[int]ed25519.PublicKey{2: key.Public().(ed25519.PublicKey)}
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// buildVectors computes the vector file: JSON cases from the reference
// implementation, records from the record encoder, each cross-checked with
// the reference implementation before it is written.
func buildVectors(t *testing.T) *vectorFile {
	t.Helper()
	vf := &vectorFile{Description: []string{
		"Test vectors of the ami-audit canonical form (docs/canonical-form.md).",
		"cases: canonical is the RFC 8785 form of input (UTF-8), sha256 its hex SHA-256; a case with error must be refused.",
		"records: a chain of records in export form; canonical is the record without record_hash, signatures and status,",
		"record_hash = hex SHA-256(canonical), export is the canonical form of the whole record.",
		"merkle_roots[i] is the RFC 6962 tree root (base64) of the first i+1 records: leaf = SHA-256(0x00 || record_hash bytes).",
		"The last record is signed: Ed25519 over \"ami-audit record signature v1\\n\" + record_hash + \"\\n\", key signer_public_key (base64).",
		"commitments: field commitments of canonical form version 2: commitment = hex SHA-256(\"ami-audit field commitment v1\\n\" || JSON string of field || \"\\n\" || salt bytes || canonical JSON of value).",
		"forgetting: a chain in export form that redacted a value and pruned two records, with its Merkle root; a verifier must accept it.",
		"Generated by 'go test ./canonical -run TestVectors -update'; checked by that test and by scripts/verify_export.py --vectors.",
	}}
	for _, c := range jsonCases {
		var in bytes.Buffer
		if err := json.Compact(&in, []byte(c.input)); err != nil {
			t.Fatalf("case %q: %v", c.name, err)
		}
		out, err := jcs.Transform([]byte(c.input))
		if err != nil {
			t.Fatalf("case %q: reference implementation: %v", c.name, err)
		}
		vf.Cases = append(vf.Cases, jsonVector{Name: c.name, Input: in.Bytes(), Canonical: string(out), SHA256: sha256Hex(out)})
	}
	for _, c := range errorCases {
		vf.Cases = append(vf.Cases, jsonVector{Name: c.name, Input: json.RawMessage(c.input), Error: c.err})
	}
	recs, pubs := vectorRecords(t)
	var tree ledger.Accumulator
	names := []string{"minimal record, first of the chain", "every field: findings, violations with and without optional members, nested context", "proof of work 2, signed, status verified"}
	for i, r := range recs {
		body, err := r.AppendCanonical(nil)
		if err != nil {
			t.Fatal(err)
		}
		export, err := r.AppendJSON(nil)
		if err != nil {
			t.Fatal(err)
		}
		v := recordVector{Name: names[i], Record: export, Canonical: string(body), RecordHash: sha256Hex(body), Export: string(export)}
		if pub, ok := pubs[i]; ok {
			v.SignerPublicKey = base64.StdEncoding.EncodeToString(pub)
		}
		vf.Records = append(vf.Records, v)
		tree.Add(ledger.LeafHash(sha256.Sum256(body)), nil)
		root := tree.Root()
		vf.MerkleRoots = append(vf.MerkleRoots, base64.StdEncoding.EncodeToString(root[:]))
	}
	vf.Commitments = buildCommitmentVectors(t)
	vf.Forgetting = buildForgettingVector(t)
	return vf
}

func writeVectors(t *testing.T, vf *vectorFile) {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(vf); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(vectorsPath), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(vectorsPath, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readVectors(t *testing.T) *vectorFile {
	t.Helper()
	b, err := os.ReadFile(vectorsPath)
	if err != nil {
		t.Fatalf("%v (run 'go test ./canonical -run TestVectors -update' to create it)", err)
	}
	var vf vectorFile
	if err := json.Unmarshal(b, &vf); err != nil {
		t.Fatalf("%s: %v", vectorsPath, err)
	}
	return &vf
}

// TestVectors checks the encoder against every published vector, and that
// the published vectors are what the reference implementation and the
// record encoder produce now.
func TestVectors(t *testing.T) {
	if *update {
		writeVectors(t, buildVectors(t))
	}
	vf := readVectors(t)
	if len(vf.Cases) < len(jsonCases)+len(errorCases) || len(vf.Records) == 0 {
		t.Fatalf("%s holds %d cases and %d records; run with -update", vectorsPath, len(vf.Cases), len(vf.Records))
	}
	for _, c := range vf.Cases {
		t.Run("case/"+c.Name, func(t *testing.T) {
			got, err := canonical.Transform(c.Input)
			if c.Error != "" {
				if err == nil {
					t.Errorf("Transform(%s) = %q, want it refused (%s)", c.Input, got, c.Error)
				}
				return
			}
			if err != nil {
				t.Fatalf("Transform(%s): %v", c.Input, err)
			}
			if string(got) != c.Canonical {
				t.Errorf("Transform(%s)\n got  %q\n want %q", c.Input, got, c.Canonical)
			}
			if h := sha256Hex(got); h != c.SHA256 {
				t.Errorf("sha256 = %s, want %s", h, c.SHA256)
			}
			ref, err := jcs.Transform(c.Input)
			if err != nil || string(ref) != c.Canonical {
				t.Errorf("reference implementation gives %q, %v; the vector says %q", ref, err, c.Canonical)
			}
		})
	}
	for _, c := range vf.Records {
		t.Run("record/"+c.Name, func(t *testing.T) { checkRecordVector(t, c) })
	}
	// The file holds what the code produces today (a change of the record
	// encoding or of a case shows here, not silently).
	compact := cmp.Transformer("compact", func(m json.RawMessage) string {
		var b bytes.Buffer
		if err := json.Compact(&b, m); err != nil {
			return "invalid JSON: " + string(m)
		}
		return b.String()
	})
	if diff := cmp.Diff(buildVectors(t), vf, compact); diff != "" {
		t.Errorf("%s is stale (-computed +file); if the change is intended, run with -update:\n%s", vectorsPath, diff)
	}
}

func checkRecordVector(t *testing.T, c recordVector) {
	// The record read from its export form hashes to record_hash ...
	var r audit.Record
	if err := json.Unmarshal(c.Record, &r); err != nil {
		t.Fatal(err)
	}
	body, err := r.AppendCanonical(nil)
	if err != nil {
		t.Fatal(err)
	}
	if string(body) != c.Canonical {
		t.Errorf("canonical form\n got  %s\n want %s", body, c.Canonical)
	}
	if h := sha256Hex(body); h != c.RecordHash || h != r.RecordHash {
		t.Errorf("hash %s, vector %s, record_hash member %s", h, c.RecordHash, r.RecordHash)
	}
	export, err := r.AppendJSON(nil)
	if err != nil || string(export) != c.Export {
		t.Errorf("export form\n got  %s (%v)\n want %s", export, err, c.Export)
	}
	// ... and so does the generic route any other language takes: drop
	// record_hash, signatures and status, canonicalize, hash. Both with this
	// package and with the reference implementation.
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(c.Record, &obj); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"record_hash", "signatures", "status"} {
		if _, ok := obj[k]; !ok {
			t.Errorf("export form lacks %q", k)
		}
		delete(obj, k)
	}
	stripped, _ := json.Marshal(obj)
	for name, transform := range map[string]func([]byte) ([]byte, error){"canonical": canonical.Transform, "reference": jcs.Transform} {
		got, err := transform(stripped)
		if err != nil || string(got) != c.Canonical {
			t.Errorf("%s.Transform(export minus unhashed members) = %s, %v\nwant %s", name, got, err, c.Canonical)
		}
		whole, err := transform(c.Record)
		if err != nil || string(whole) != c.Export {
			t.Errorf("%s.Transform(export) is not the export form itself: %s, %v", name, whole, err)
		}
	}
	// A signed record's signature checks with the published key.
	if c.SignerPublicKey != "" {
		pub, err := base64.StdEncoding.DecodeString(c.SignerPublicKey)
		if err != nil || len(r.Signatures) == 0 {
			t.Fatalf("signed vector: key %v, %d signatures", err, len(r.Signatures))
		}
		sig, _ := base64.StdEncoding.DecodeString(r.Signatures[0].Signature)
		msg := fmt.Sprintf("ami-audit record signature v1\n%s\n", r.RecordHash)
		if !ed25519.Verify(ed25519.PublicKey(pub), []byte(msg), sig) {
			t.Error("the record signature does not verify with signer_public_key")
		}
	}
}
