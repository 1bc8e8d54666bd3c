// Package packet makes and checks evidence packets: a zip an auditor
// verifies offline, with nothing but the packet (and, to be sure of whose
// log it is, the log's public key obtained elsewhere).
//
// # Contents
//
//	README.md          what the packet holds and how to verify it
//	report.html        the report of the period, for people
//	report.json        the same report, for programs
//	records.jsonl      the records of the period, one canonical JSON object a
//	                   line (as 'ami-audit export --format jsonl' writes them)
//	proofs.bin         an RFC 6962 inclusion proof of every record in the
//	                   checkpoint's tree, in the order of records.jsonl: the
//	                   raw 32-byte hashes, one proof after another; a proof of
//	                   leaf i in a tree of n leaves has ProofLen(i, n) hashes,
//	                   at most ⌈log₂ n⌉
//	checkpoint.txt     the log's latest signed checkpoint (C2SP signed note)
//	keys/log.pub       the log's public key (C2SP note verifier key)
//	keys/trusted/*.pub the keys of the signers whose signatures count
//	MANIFEST           a signed note by the log key: the origin, the
//	                   checkpoint, the period, and the size and SHA-256 of
//	                   every other file
//
// The manifest is signed only after the whole trail verified, so the log
// key never vouches for records it did not append.
//
// # Verification
//
// Verify checks the manifest's signature, every file against it (nothing
// added, missing or altered), the checkpoint's signature and that it is
// the manifest's, every record's hash, its inclusion proof against the
// checkpoint's root, and every signature on it by a key of the packet. A
// failure names the file (and the record) and wraps ledger.ErrTampered.
package packet

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/ledger"
	"github.com/ami-orchestrator/ami-audit/report"
	"github.com/ami-orchestrator/ami-audit/report/html"
	"github.com/ami-orchestrator/ami-audit/report/jsonfmt"
	"github.com/ami-orchestrator/ami-audit/trail"
)

// Files of a packet.
const (
	FileReadme     = "README.md"
	FileReportHTML = "report.html"
	FileReportJSON = "report.json"
	FileRecords    = "records.jsonl"
	FileProofs     = "proofs.bin"
	FileCheckpoint = "checkpoint.txt"
	FileLogKey     = "keys/log.pub"
	TrustedDir     = "keys/trusted/"
	FileManifest   = "MANIFEST"
)

// ProofLen is the number of hashes in the RFC 6962 inclusion proof of
// leaf i in a tree of n leaves (i < n): at most ⌈log₂ n⌉.
func ProofLen(i, n uint64) int {
	if n <= 1 {
		return 0
	}
	k := uint64(1)
	for k<<1 < n {
		k <<= 1
	}
	if i < k {
		return 1 + ProofLen(i, k)
	}
	return 1 + ProofLen(i-k, n-k)
}

// Options say what Build puts in the packet.
type Options struct {
	// Report is the report of the period (its Integrity and Period say
	// which trail and records).
	Report *report.Report
	// Since and Until bound the period by record time (zero: open).
	Since, Until time.Time
	// Trusted are the signers' public key files or directories (default:
	// the trail's trusted/ folder).
	Trusted []string
	// Now is the time of the packet (default time.Now).
	Now time.Time
}

// Summary is what Build wrote.
type Summary struct {
	Records        uint64
	CheckpointSize uint64
	ProofBytes     uint64
	Files          []string
}

type manifestEntry struct {
	name string
	size int64
	sum  [32]byte
}

// Build writes the packet of the period to w. The trail must verify and
// this machine must hold the log key (the manifest is signed with it).
func Build(ctx context.Context, tr *trail.Trail, o Options, w io.Writer) (*Summary, error) {
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	if !tr.CanSign() {
		return nil, fmt.Errorf("%w: an evidence packet's manifest is signed by the log key", trail.ErrNoPrivateKey)
	}
	cpNote, cp, err := tr.Checkpoint(ctx) // verifies the whole trail first
	if err != nil {
		return nil, err
	}
	zw := zip.NewWriter(w)
	var entries []manifestEntry
	add := func(name string, write func(io.Writer) error) error {
		fw, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: o.Now.UTC()})
		if err != nil {
			return err
		}
		h := sha256.New()
		cw := &countWriter{w: io.MultiWriter(fw, h)}
		if err := write(cw); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		e := manifestEntry{name: name, size: cw.n}
		copy(e.sum[:], h.Sum(nil))
		entries = append(entries, e)
		return nil
	}
	sum := &Summary{CheckpointSize: cp.Size}
	// The records and their proofs: the proofs go to a temporary file
	// while the records are written, so memory stays flat.
	tmp, err := os.CreateTemp("", "ami-audit-proofs-*.bin")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	pw := bufio.NewWriterSize(tmp, 1<<20)
	hr := newCachedHashes(tr.Raw().HashReader(ctx))
	err = add(FileRecords, func(w io.Writer) error {
		bw := bufio.NewWriterSize(w, 1<<20)
		var buf []byte
		f := audit.Filter{Since: o.Since, Until: o.Until, Limit: -1}
		for r, err := range tr.Raw().Query(ctx, f) {
			if err != nil {
				return err
			}
			if r.Sequence >= cp.Size {
				continue // appended after the checkpoint
			}
			if buf, err = r.AppendJSON(buf[:0]); err != nil {
				return fmt.Errorf("record %d: %w", r.Sequence, err)
			}
			buf = append(buf, '\n')
			if _, err := bw.Write(buf); err != nil {
				return err
			}
			proof, err := tlog.ProveRecord(int64(cp.Size), int64(r.Sequence), hr)
			if err != nil {
				return fmt.Errorf("record %d: inclusion proof: %w", r.Sequence, err)
			}
			leaf, err := leafOf(r.RecordHash)
			if err != nil {
				return fmt.Errorf("record %d: %w", r.Sequence, err)
			}
			if err := tlog.CheckRecord(proof, int64(cp.Size), cp.Root, int64(r.Sequence), leaf); err != nil {
				return fmt.Errorf("%w: record %d: the stored tree does not prove it is in the checkpoint (%v); run 'ami-audit verify'", ledger.ErrTampered, r.Sequence, err)
			}
			for _, h := range proof {
				pw.Write(h[:])
			}
			sum.Records++
			sum.ProofBytes += uint64(32 * len(proof))
		}
		return bw.Flush()
	})
	if err != nil {
		return nil, err
	}
	if err := pw.Flush(); err != nil {
		return nil, err
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	if err := add(FileProofs, func(w io.Writer) error { _, err := io.Copy(w, tmp); return err }); err != nil {
		return nil, err
	}
	if err := add(FileCheckpoint, func(w io.Writer) error { _, err := w.Write(cpNote); return err }); err != nil {
		return nil, err
	}
	vkey := verifierKey(tr)
	if err := add(FileLogKey, func(w io.Writer) error { _, err := io.WriteString(w, vkey+"\n"); return err }); err != nil {
		return nil, err
	}
	trusted, err := trustedKeyTexts(tr, o.Trusted)
	if err != nil {
		return nil, err
	}
	for _, k := range trusted {
		if err := add(TrustedDir+k.name+".pub", func(w io.Writer) error { _, err := io.WriteString(w, k.text+"\n"); return err }); err != nil {
			return nil, err
		}
	}
	if o.Report != nil {
		if err := add(FileReportJSON, func(w io.Writer) error { return jsonfmt.New().Format(w, o.Report) }); err != nil {
			return nil, err
		}
		if err := add(FileReportHTML, func(w io.Writer) error { return html.New().Format(w, o.Report) }); err != nil {
			return nil, err
		}
	}
	period := func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return audit.FormatTime(t)
	}
	id := tr.Identity()
	readme := readmeText(id.Origin, trail.Fingerprint(tr.PublicKey()), cp, period(o.Since), period(o.Until), sum.Records, o.Now)
	if err := add(FileReadme, func(w io.Writer) error { _, err := io.WriteString(w, readme); return err }); err != nil {
		return nil, err
	}
	var m strings.Builder
	fmt.Fprintf(&m, "%s\norigin %s\nlog-id %s\nkey %s\ncheckpoint %d %s\nperiod %s %s\nrecords %d\ncreated %s\n",
		trail.ManifestHeader, id.Origin, id.LogID, vkey, cp.Size, base64.StdEncoding.EncodeToString(cp.Root[:]),
		period(o.Since), period(o.Until), sum.Records, audit.FormatTime(o.Now))
	for _, e := range entries {
		fmt.Fprintf(&m, "file %s %d %s\n", e.name, e.size, hex.EncodeToString(e.sum[:]))
		sum.Files = append(sum.Files, e.name)
	}
	signed, err := tr.SignManifest(m.String())
	if err != nil {
		return nil, err
	}
	fw, err := zw.CreateHeader(&zip.FileHeader{Name: FileManifest, Method: zip.Deflate, Modified: o.Now.UTC()})
	if err != nil {
		return nil, err
	}
	if _, err := fw.Write(signed); err != nil {
		return nil, err
	}
	sum.Files = append(sum.Files, FileManifest)
	return sum, zw.Close()
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func leafOf(recordHash string) (tlog.Hash, error) {
	b, err := hex.DecodeString(recordHash)
	if err != nil || len(b) != 32 {
		return tlog.Hash{}, fmt.Errorf("record_hash %q is not 32 bytes of hex", recordHash)
	}
	return ledger.LeafHash([32]byte(b)), nil
}

// cachedHashes keeps the tree hashes read, so that the upper levels the
// proofs of neighbouring records share are read once.
type cachedHashes struct {
	hr    tlog.HashReader
	cache map[int64]tlog.Hash
}

const maxCached = 1 << 20

func newCachedHashes(hr tlog.HashReader) *cachedHashes {
	return &cachedHashes{hr: hr, cache: map[int64]tlog.Hash{}}
}

func (c *cachedHashes) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	var missing []int64
	for _, i := range indexes {
		if _, ok := c.cache[i]; !ok {
			missing = append(missing, i)
		}
	}
	if len(missing) > 0 {
		got, err := c.hr.ReadHashes(missing)
		if err != nil {
			return nil, err
		}
		if len(c.cache)+len(got) > maxCached {
			clear(c.cache)
		}
		for k, i := range missing {
			c.cache[i] = got[k]
		}
	}
	for k, i := range indexes {
		h, ok := c.cache[i]
		if !ok {
			return nil, fmt.Errorf("tree hash %d not read", i)
		}
		out[k] = h
	}
	return out, nil
}

func verifierKey(tr *trail.Trail) string {
	if k := tr.Identity().LogKey; k != "" {
		return k
	}
	return ""
}

type keyText struct{ name, text string }

// trustedKeyTexts reads the trusted signers' key files as text.
func trustedKeyTexts(tr *trail.Trail, paths []string) ([]keyText, error) {
	vs, err := tr.TrustedKeys(paths)
	if err != nil || len(vs) == 0 {
		return nil, err
	}
	if len(paths) == 0 {
		paths = []string{path.Join(tr.Dir(), trail.TrustedDir)}
	}
	var out []keyText
	seen := map[string]bool{}
	for _, p := range paths {
		files := []string{p}
		if fi, err := os.Stat(p); err == nil && fi.IsDir() {
			entries, err := os.ReadDir(p)
			if err != nil {
				return nil, err
			}
			files = nil
			for _, e := range entries {
				if strings.HasSuffix(e.Name(), ".pub") {
					files = append(files, path.Join(p, e.Name()))
				}
			}
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				return nil, err
			}
			text := strings.TrimSpace(string(b))
			v, err := note.NewVerifier(text)
			if err != nil || !slices.ContainsFunc(vs, func(x note.Verifier) bool { return x.Name() == v.Name() && x.KeyHash() == v.KeyHash() }) {
				continue
			}
			if seen[v.Name()] {
				continue
			}
			seen[v.Name()] = true
			out = append(out, keyText{name: safeName(v.Name()), text: text})
		}
	}
	return out, nil
}

// safeName makes a key name a file name.
func safeName(s string) string {
	return strings.Map(func(c rune) rune {
		if c == '/' || c == '\\' || c < 0x20 || c == ':' {
			return '_'
		}
		return c
	}, s)
}

func readmeText(origin, fingerprint string, cp ledger.Checkpoint, since, until string, records uint64, now time.Time) string {
	var b bytes.Buffer
	fmt.Fprintf(&b, `# Evidence packet

Log: %s
Log key: %s (compare this fingerprint with one you obtained from the
operator by another way: the packet's own key proves only that the packet
is unchanged since the key holder made it)
Checkpoint: tree size %d
Period: %s to %s
Records: %d
Made: %s

## Files

- report.html, report.json: the report of the period (integrity, records,
  findings, compliance assessment with its evidence)
- records.jsonl: the records of the period, one canonical JSON object a line
- proofs.bin: an inclusion proof of every record in the checkpoint's tree,
  in the order of records.jsonl (raw 32-byte SHA-256 hashes, RFC 6962)
- checkpoint.txt: the log's signed checkpoint (C2SP tlog-checkpoint)
- keys/log.pub: the log's public key; keys/trusted/: the signers' keys
- MANIFEST: the size and SHA-256 of every other file, signed by the log key

## Verify it

With ami-audit:

    ami-audit verify --packet THIS.zip [--key log.pub]

With Python 3's standard library only:

    python3 verify_export.py --packet THIS.zip [--key log.pub]

Both check the manifest's signature, every file against it (nothing added,
missing or altered), the checkpoint's signature, every record's SHA-256
over its RFC 8785 canonical form, its inclusion proof against the signed
root, and the signatures on the records. They exit with status 0 when all
hold and 3 naming the file (and record) that failed.
`, origin, fingerprint, cp.Size, since, until, records, audit.FormatTime(now))
	return b.String()
}

// ErrNotPacket: the file is not an evidence packet.
var ErrNotPacket = errors.New("not an evidence packet (no MANIFEST)")
