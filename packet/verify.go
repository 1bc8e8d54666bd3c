package packet

import (
	"archive/zip"
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/internal/plural"
	"github.com/ami-orchestrator/ami-audit/ledger"
	"github.com/ami-orchestrator/ami-audit/trail"
)

// Failure names the file of a packet (and the record, for records) that
// failed, and why. It wraps ledger.ErrTampered.
type Failure struct {
	File   string
	Record string // "line N (record S)", when a record failed
	Reason string
}

func (f *Failure) Error() string {
	if f.Record != "" {
		return fmt.Sprintf("%s: %s: %s", f.File, f.Record, f.Reason)
	}
	return fmt.Sprintf("%s: %s", f.File, f.Reason)
}

func (f *Failure) Unwrap() error { return ledger.ErrTampered }

// Result is what a verified packet holds.
type Result struct {
	Origin         string
	KeyFingerprint string
	CheckpointSize uint64
	Records        uint64
	Signatures     int
	Period         [2]string
	Checks         []string
}

// manifest is a parsed MANIFEST.
type manifest struct {
	origin, logID, vkey string
	cpSize              uint64
	cpRoot              string
	period              [2]string
	records             uint64
	files               map[string]manifestFile
	order               []string
}

type manifestFile struct {
	size int64
	sum  string
}

func fail(file, format string, args ...any) error {
	return &Failure{File: file, Reason: fmt.Sprintf(format, args...)}
}

// Verify checks the packet in r with nothing else. key, when not nil, is
// the log key the packet must be signed by (obtained elsewhere); without
// it, the packet's own keys/log.pub is used and its fingerprint reported
// for the reader to compare.
func Verify(r io.ReaderAt, size int64, key note.Verifier) (*Result, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotPacket, err)
	}
	files := map[string]*zip.File{}
	for _, f := range zr.File {
		if _, dup := files[f.Name]; dup {
			return nil, fail(f.Name, "the zip holds two files of this name")
		}
		files[f.Name] = f
	}
	read := func(name string) ([]byte, error) {
		f := files[name]
		if f == nil {
			return nil, fail(name, "missing from the packet")
		}
		rc, err := f.Open()
		if err != nil {
			return nil, fail(name, "cannot be read: %v", err)
		}
		defer rc.Close()
		b, err := io.ReadAll(rc)
		if err != nil {
			return nil, fail(name, "cannot be read (altered?): %v", err)
		}
		return b, nil
	}
	if files[FileManifest] == nil {
		return nil, ErrNotPacket
	}
	raw, err := read(FileManifest)
	if err != nil {
		return nil, err
	}
	m, err := parseManifest(raw)
	if err != nil {
		return nil, err
	}
	v, err := note.NewVerifier(m.vkey)
	if err != nil {
		return nil, fail(FileManifest, "its key line does not hold a log key: %v", err)
	}
	if _, err := note.Open(raw, note.VerifierList(v)); err != nil {
		return nil, fail(FileManifest, "its signature does not verify with the key it names (the manifest was altered): %v", err)
	}
	res := &Result{Origin: m.origin, KeyFingerprint: trail.Fingerprint(v), CheckpointSize: m.cpSize, Records: m.records, Period: m.period}
	res.Checks = append(res.Checks, fmt.Sprintf("MANIFEST: signed by %s", res.KeyFingerprint))
	if key != nil && (key.Name() != v.Name() || key.KeyHash() != v.KeyHash()) {
		return res, fail(FileManifest, "signed by %s, not by the log key given (%s): another log's packet, or one re-signed", res.KeyFingerprint, trail.Fingerprint(key))
	}
	if v.Name() != m.origin {
		return res, fail(FileManifest, "its key is named %q, not after the log %q", v.Name(), m.origin)
	}
	// Every file is the manifest's, byte for byte.
	for _, f := range zr.File {
		if f.Name == FileManifest {
			continue
		}
		if _, ok := m.files[f.Name]; !ok {
			return res, fail(f.Name, "not in the signed manifest (added to the packet)")
		}
	}
	for _, name := range m.order {
		want := m.files[name]
		b, err := read(name)
		if err != nil {
			return res, err
		}
		sum := sha256.Sum256(b)
		if int64(len(b)) != want.size || hex.EncodeToString(sum[:]) != want.sum {
			return res, fail(name, "altered: its size or SHA-256 differs from the signed manifest")
		}
	}
	res.Checks = append(res.Checks, fmt.Sprintf("files: %s, each as the manifest says", plural.Count(len(m.order), "file")))
	// The log key file is the manifest's key.
	if b, err := read(FileLogKey); err != nil {
		return res, err
	} else if strings.TrimSpace(string(b)) != m.vkey {
		return res, fail(FileLogKey, "not the key the signed manifest names")
	}
	// The checkpoint.
	cpNote, err := read(FileCheckpoint)
	if err != nil {
		return res, err
	}
	cp, _, err := ledger.OpenCheckpoint(cpNote, note.VerifierList(v))
	if err != nil {
		return res, fail(FileCheckpoint, "%v", err)
	}
	if cp.Origin != m.origin || cp.Size != m.cpSize || base64.StdEncoding.EncodeToString(cp.Root[:]) != m.cpRoot {
		return res, fail(FileCheckpoint, "not the checkpoint the manifest names (size %d)", m.cpSize)
	}
	res.Checks = append(res.Checks, fmt.Sprintf("checkpoint.txt: %s, size %d, signed by the log key", cp.Origin, cp.Size))
	// The signers' keys.
	var trusted []note.Verifier
	for _, name := range m.order {
		if !strings.HasPrefix(name, TrustedDir) {
			continue
		}
		b, _ := read(name)
		tv, err := note.NewVerifier(strings.TrimSpace(string(b)))
		if err != nil {
			return res, fail(name, "not a public key: %v", err)
		}
		trusted = append(trusted, tv)
	}
	// The records and their proofs.
	recs, err := read(FileRecords)
	if err != nil {
		return res, err
	}
	proofs, err := read(FileProofs)
	if err != nil {
		return res, err
	}
	n, sigs, err := checkRecords(recs, proofs, cp, trusted)
	if err != nil {
		return res, err
	}
	if n != m.records {
		return res, fail(FileRecords, "holds %d records, the manifest says %d", n, m.records)
	}
	res.Signatures = sigs
	res.Checks = append(res.Checks, fmt.Sprintf("records.jsonl: %s, each hashing to its record_hash and included in the checkpoint's tree (proofs.bin)", plural.Count(n, "record")))
	if sigs > 0 {
		res.Checks = append(res.Checks, fmt.Sprintf("signatures: %s by the packet's signers, all valid", plural.Count(sigs, "signature")))
	}
	if b, err := read(FileReportJSON); err == nil {
		var rep struct {
			Integrity *struct {
				Origin string `json:"origin"`
			} `json:"integrity"`
		}
		if err := json.Unmarshal(b, &rep); err != nil || rep.Integrity == nil || rep.Integrity.Origin != m.origin {
			return res, fail(FileReportJSON, "not a report of log %s", m.origin)
		}
	}
	return res, nil
}

// checkRecords checks every record line and its proof.
func checkRecords(recs, proofs []byte, cp ledger.Checkpoint, trusted []note.Verifier) (uint64, int, error) {
	var n uint64
	sigs := 0
	off := 0
	sc := bufio.NewScanner(bytes.NewReader(recs))
	sc.Buffer(make([]byte, 0, 1<<20), 64<<20)
	line := 0
	for sc.Scan() {
		line++
		b := sc.Bytes()
		if len(bytes.TrimSpace(b)) == 0 {
			continue
		}
		var hdr struct {
			Sequence *uint64 `json:"sequence"`
			RecordID string  `json:"record_id"`
		}
		if err := json.Unmarshal(b, &hdr); err != nil || hdr.Sequence == nil {
			return n, sigs, &Failure{File: FileRecords, Record: fmt.Sprintf("line %d", line), Reason: "not a record"}
		}
		seq := *hdr.Sequence
		where := fmt.Sprintf("line %d (record %d, %s)", line, seq, hdr.RecordID)
		bad := func(format string, args ...any) error {
			return &Failure{File: FileRecords, Record: where, Reason: fmt.Sprintf(format, args...)}
		}
		sum, claimed, err := trail.RecordHashOf(b)
		pruned := errors.Is(err, audit.ErrPruned)
		if err != nil && !pruned {
			return n, sigs, bad("%v", err)
		}
		if !pruned && hex.EncodeToString(sum[:]) != claimed {
			return n, sigs, bad("does not hash to its record_hash (it was changed)")
		}
		raw, err := hex.DecodeString(claimed)
		if err != nil || len(raw) != 32 {
			return n, sigs, bad("record_hash is not 32 bytes of hex")
		}
		if seq >= cp.Size {
			return n, sigs, bad("sequence %d is beyond the checkpoint's size %d", seq, cp.Size)
		}
		k := ProofLen(seq, cp.Size)
		if off+32*k > len(proofs) {
			return n, sigs, &Failure{File: FileProofs, Record: where, Reason: "ends before this record's proof"}
		}
		var proof tlog.RecordProof
		for i := range k {
			proof = append(proof, tlog.Hash(proofs[off+32*i:off+32*i+32]))
		}
		off += 32 * k
		if err := tlog.CheckRecord(proof, int64(cp.Size), cp.Root, int64(seq), ledger.LeafHash([32]byte(raw))); err != nil {
			return n, sigs, &Failure{File: FileProofs, Record: where, Reason: "the proof does not lead to the checkpoint's root: " + err.Error()}
		}
		if len(trusted) > 0 && !pruned {
			var r audit.Record
			if err := json.Unmarshal(b, &r); err == nil && len(r.Signatures) > 0 {
				r.RecordHash = claimed
				c := ledger.CheckSignatures(&r, trusted)
				if len(c.Invalid) > 0 {
					return n, sigs, bad("the signature by %s does not verify", c.Invalid[0])
				}
				sigs += len(c.Valid)
			}
		}
		n++
	}
	if err := sc.Err(); err != nil {
		return n, sigs, &Failure{File: FileRecords, Record: fmt.Sprintf("line %d", line+1), Reason: err.Error()}
	}
	if off != len(proofs) {
		return n, sigs, fail(FileProofs, "holds %d bytes more than the records' proofs", len(proofs)-off)
	}
	return n, sigs, nil
}

func parseManifest(raw []byte) (*manifest, error) {
	text, _, ok := bytes.Cut(raw, []byte("\n\n"))
	if !ok {
		return nil, fail(FileManifest, "not a signed note")
	}
	lines := strings.Split(string(text), "\n")
	if len(lines) == 0 || lines[0] != trail.ManifestHeader {
		return nil, fail(FileManifest, "does not start with %q", trail.ManifestHeader)
	}
	m := &manifest{files: map[string]manifestFile{}}
	bad := func(l string) error { return fail(FileManifest, "line %q does not parse", l) }
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) == 0 {
			return nil, bad(l)
		}
		var err error
		switch {
		case f[0] == "origin" && len(f) == 2:
			m.origin = f[1]
		case f[0] == "log-id" && len(f) == 2:
			m.logID = f[1]
		case f[0] == "key" && len(f) == 2:
			m.vkey = f[1]
		case f[0] == "checkpoint" && len(f) == 3:
			m.cpSize, err = strconv.ParseUint(f[1], 10, 64)
			m.cpRoot = f[2]
		case f[0] == "period" && len(f) == 3:
			m.period = [2]string{f[1], f[2]}
		case f[0] == "records" && len(f) == 2:
			m.records, err = strconv.ParseUint(f[1], 10, 64)
		case f[0] == "created" && len(f) == 2:
		case f[0] == "file" && len(f) == 4:
			size, err2 := strconv.ParseInt(f[2], 10, 64)
			if err2 != nil || len(f[3]) != 64 || f[1] == FileManifest || strings.Contains(f[1], "..") {
				return nil, bad(l)
			}
			if _, dup := m.files[f[1]]; dup {
				return nil, bad(l)
			}
			m.files[f[1]] = manifestFile{size: size, sum: f[3]}
			m.order = append(m.order, f[1])
		default:
			return nil, bad(l)
		}
		if err != nil {
			return nil, bad(l)
		}
	}
	if m.origin == "" || m.vkey == "" || m.cpSize == 0 {
		return nil, fail(FileManifest, "lacks its origin, key or checkpoint")
	}
	for _, need := range []string{FileRecords, FileProofs, FileCheckpoint, FileLogKey} {
		if !slices.Contains(m.order, need) {
			return nil, fail(FileManifest, "does not list %s", need)
		}
	}
	return m, nil
}
