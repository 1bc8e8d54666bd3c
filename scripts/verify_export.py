#!/usr/bin/env python3
"""Verify an ami-audit trail export with nothing but the Python standard library.

This is an independent implementation of the byte format described in
docs/canonical-form.md: RFC 8785 canonical JSON, SHA-256 record hashes, the
previous_hash chain and the RFC 6962 Merkle tree. It shares no code with
ami-audit, so a trail that passes here was not checked by the program that
wrote it.

  ami-audit export --format jsonl --output trail.jsonl
  python3 verify_export.py trail.jsonl [--difficulty N] [--checkpoint cp.txt]
  python3 verify_export.py --proof proof.json [--proof proof2.json]
  python3 verify_export.py --vectors testdata/vectors/canonical.json
  python3 verify_export.py --packet evidence.zip [--key log.pub]

Exit status, the same table as ami-audit's: 0 every check passed, 1 a file
could not be read, 2 usage error (bad arguments, a file that is not what the
option wants), 3 verification failed (the first failing record is named by
sequence and id).

An evidence packet (--packet, written by 'ami-audit report --export packet')
is checked completely: the signed manifest, every file in it, the signed
checkpoint, every record's hash and inclusion proof, and the signatures on
the records, with the Ed25519 verification of RFC 8032 written out here in
plain Python (slow, but there are few signatures to check per packet and
the standard library has none). For an export or a proof file, the
Ed25519 signatures (record signatures, the signed note around a checkpoint)
are not checked: use 'ami-audit verify --checkpoint' / '--signatures', or
any C2SP signed-note verifier, for those.
"""

import argparse
import base64
import io
import zipfile
import decimal
import hashlib
import json
import re
import sys

MAX_SAFE_INTEGER = 2**53 - 1
GENESIS_HASH = "0"
UNHASHED = ("record_hash", "signatures", "status", "disclosures")  # members the hash does not cover
COMMITTED_FORM_VERSION = 2  # canonical_version of a record with commitments
COMMITMENT_DOMAIN = b"ami-audit field commitment v1\n"
PRUNED_MEMBERS = {"pruned", "record_hash", "record_id", "sequence", "signatures", "status"}
SOURCE_TRAIL = "ami-audit"  # the source of the records the trail itself appends
PROOF_FORMAT = "ami-audit-inclusion-proof/v1"


class Failure(Exception):
    """A check that failed; the message says what and where."""


class Usage(Exception):
    """A mistake in how the script was called."""


class Unreadable(Exception):
    """A file that could not be read (an operational error)."""


# Exit codes: the table of ami-audit's README and cmd/ami-audit/main.go.
EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_VERIFY_FAILED = 0, 1, 2, 3


# --- RFC 8785 canonical JSON -------------------------------------------------

_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_NEEDS_ESCAPE = re.compile(r'["\\\x00-\x1f]')
_SURROGATE = re.compile("[\ud800-\udfff]")


def canonical(value):
    """The RFC 8785 canonical UTF-8 bytes of a parsed JSON value."""
    try:
        return _encode(value).encode("utf-8")
    except RecursionError:
        raise Failure("value is nested too deeply")


def _encode(v):
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, int):
        if abs(v) <= MAX_SAFE_INTEGER:
            return str(v)
        # Beyond ±(2^53-1) an integer is accepted only when it is already the
        # form ECMAScript writes for the nearest double: any other integer
        # would change on a round trip through a double.
        if abs(v) < 10**21 and es6_number(float(v)) == str(v):
            return str(v)
        raise Failure("integer %d is beyond ±(2^53-1) and is not exactly a double; store it as a string" % v)
    if isinstance(v, float):
        return es6_number(v)
    if isinstance(v, str):
        return json_string(v)
    if isinstance(v, list):
        return "[" + ",".join(_encode(e) for e in v) + "]"
    if isinstance(v, dict):
        # Members sorted by the UTF-16 code units of their names: comparing
        # UTF-16BE bytes is exactly that order.
        names = sorted(v, key=lambda k: k.encode("utf-16-be", "surrogatepass"))
        return "{" + ",".join(json_string(k) + ":" + _encode(v[k]) for k in names) + "}"
    raise Failure("value of type %s has no JSON form" % type(v).__name__)


def json_string(s):
    """A string as ECMAScript's JSON.stringify writes it."""
    if _SURROGATE.search(s):
        raise Failure("string holds a lone UTF-16 surrogate")
    return '"' + _NEEDS_ESCAPE.sub(lambda m: _ESCAPES.get(m.group(), "\\u%04x" % ord(m.group())), s) + '"'


def es6_number(f):
    """A double as ECMAScript's Number.prototype.toString writes it."""
    if f != f or f in (float("inf"), float("-inf")):
        raise Failure("NaN and infinity have no JSON form")
    if f == 0:
        return "0"  # also -0
    sign = "-" if f < 0 else ""
    # repr gives the shortest digits that round-trip, as ECMAScript requires.
    t = decimal.Decimal(repr(abs(f))).as_tuple()
    digits = "".join(map(str, t.digits))
    n = len(digits) + t.exponent  # value = 0.DIGITS × 10^n
    digits = digits.rstrip("0")
    k = len(digits)
    if k <= n <= 21:
        return sign + digits + "0" * (n - k)
    if 0 < n <= 21:
        return sign + digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return sign + "0." + "0" * -n + digits
    e = n - 1
    mantissa = digits[0] + ("." + digits[1:] if k > 1 else "")
    return sign + mantissa + "e" + ("+" if e >= 0 else "-") + str(abs(e))


def _no_duplicates(pairs):
    obj = {}
    for k, v in pairs:
        if k in obj:
            raise Failure("duplicate member name %s" % json_string(k))
        obj[k] = v
    return obj


def _no_constants(name):
    raise Failure("%s is not JSON" % name)


def parse_json(text):
    """Parse I-JSON: no duplicate names, no NaN or Infinity."""
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constants)
    except (ValueError, RecursionError) as e:
        raise Failure("not valid JSON: %s" % e)


def record_hash(record):
    """Hex SHA-256 of the canonical form: the record without the unhashed members."""
    hashed = {k: v for k, v in record.items() if k not in UNHASHED}
    return hashlib.sha256(canonical(hashed)).hexdigest()


# --- Field commitments (canonical form version 2) ----------------------------


def commitment(field, salt, value):
    """SHA-256 over the domain, the field name as a JSON string, a newline, the salt and the value's canonical JSON."""
    return hashlib.sha256(COMMITMENT_DOMAIN + json_string(field).encode("utf-8") + b"\n" + salt + canonical(value)).hexdigest()


def check_commitments(rec):
    """Check a record's commitments and the values it discloses; return (committed fields, disclosed fields)."""
    version, commitments, disclosures = rec.get("canonical_version"), rec.get("commitments"), rec.get("disclosures")
    if commitments is None:
        if version is not None:
            raise Failure("canonical_version %r without commitments" % (version,))
        if disclosures is not None:
            raise Failure("disclosures without commitments")
        return set(), set()
    if version != COMMITTED_FORM_VERSION:
        raise Failure("canonical_version %r is not one this script knows (1, or %d with commitments)" % (version, COMMITTED_FORM_VERSION))
    if not isinstance(commitments, dict) or not commitments:
        raise Failure("commitments is not an object of commitments")
    for field, c in commitments.items():
        section, dot, key = field.partition(".")
        if section not in ("context", "metadata") or not dot:
            raise Failure("commitment %r does not name a member of context or metadata" % field)
        if not isinstance(c, str) or not re.fullmatch("[0-9a-f]{64}", c):
            raise Failure("the commitment of %s is not 64 lowercase hex digits" % field)
        if key in (rec.get(section) or {}):
            raise Failure("%s is both committed and in the clear" % field)
    if disclosures is None:
        disclosures = {}
    if not isinstance(disclosures, dict):
        raise Failure("disclosures is not an object")
    for field, d in disclosures.items():
        if field not in commitments:
            raise Failure("a value is disclosed for %s, which the record does not commit to" % field)
        if not isinstance(d, dict) or set(d) != {"salt", "value"} or not isinstance(d["salt"], str) \
                or not re.fullmatch("[0-9a-f]{64}", d["salt"]):
            raise Failure("the disclosure of %s is not a salt of 64 lowercase hex digits and a value" % field)
        if commitment(field, bytes.fromhex(d["salt"]), d["value"]) != commitments[field]:
            raise Failure("the disclosed value of %s does not match its commitment (the value or its salt was changed)" % field)
    return set(commitments), set(disclosures)


class Forgetting:
    """What an export says the trail forgot, checked as the records go by.

    Redacted values: a record_redacted record names fields of an earlier
    record; they must not be disclosed in the export. Pruned records: what
    remains of them names the retention_applied record (later in the trail)
    and the policy that pruned them; that record states, per policy, how
    many records it pruned and the SHA-256 of their sequence numbers (8
    bytes each, big-endian, in order), which must be what the export holds.
    Who signed these records (a redactor key) needs Ed25519: not checked here.
    """

    def __init__(self):
        self.committed = {}  # sequence -> (record_id, record_hash, committed fields, disclosed fields)
        self.pruned = set()
        self.digests = {}  # (retention sequence, policy) -> [sha256, count, first, last]
        self.disclosed = self.undisclosed = self.redacted = self.redactions = self.retentions = 0

    def prune(self, seq, rec):
        extra = set(rec) - PRUNED_MEMBERS
        if extra:
            raise Failure("a pruned record still holds %s" % ", ".join(sorted(extra)))
        mark = rec["pruned"]
        if not isinstance(mark, dict) or set(mark) != {"policy", "retention_sequence"} or not isinstance(mark["policy"], str) \
                or type(mark["retention_sequence"]) is not int:
            raise Failure("the pruned mark is not a policy and a retention_sequence")
        by = mark["retention_sequence"]
        if by <= seq:
            raise Failure("pruned by record %d, which does not come after it" % by)
        d = self.digests.setdefault((by, mark["policy"]), [hashlib.sha256(), 0, seq, seq])
        d[0].update(seq.to_bytes(8, "big"))
        d[1] += 1
        d[3] = seq
        self.pruned.add(seq)

    def record(self, seq, rec, claimed):
        committed, disclosed = check_commitments(rec)
        if committed:
            self.committed[seq] = (rec.get("record_id"), claimed, committed, disclosed)
            self.disclosed += len(disclosed)
            self.undisclosed += len(committed) - len(disclosed)
        if rec.get("source") != SOURCE_TRAIL:
            return
        if rec.get("action") == "record_redacted":
            c = rec.get("context")
            if not isinstance(c, dict) or set(c) != {"record_id", "sequence", "record_hash", "fields"} or type(c["sequence"]) is not int \
                    or not isinstance(c["fields"], list) or not c["fields"]:
                raise Failure("the redaction record's context does not say what it redacted")
            target = c["sequence"]
            if target >= seq:
                raise Failure("the redaction names record %d, which does not come before it" % target)
            self.redactions += 1
            if target in self.pruned:
                return
            rid, rhash, fields, shown = self.committed.get(target, (None, None, set(), set()))
            if (rid, rhash) != (c["record_id"], c["record_hash"]):
                raise Failure("the redaction names record %d as %s, which is not that record (or it commits to nothing)" % (target, c["record_id"]))
            for field in c["fields"]:
                if field not in fields:
                    raise Failure("the redaction names %s of record %d, which it does not commit to" % (field, target))
                if field in shown:
                    raise Failure("%s of record %d was redacted, yet the export discloses its value" % (field, target))
                self.redacted += 1
        elif rec.get("action") == "retention_applied":
            c = rec.get("context")
            if not isinstance(c, dict) or not isinstance(c.get("policies"), list):
                raise Failure("the retention record's context does not say what it pruned")
            self.retentions += 1
            for p in c["policies"]:
                key = (seq, p.get("policy"))
                h, n, first, last = self.digests.pop(key, [hashlib.sha256(), 0, 0, 0])
                if (n, first, last, h.hexdigest()) != (p.get("records"), p.get("first_sequence"), p.get("last_sequence"), p.get("sequences_sha256")):
                    raise Failure("policy %s says it pruned %r records (%r..%r), but the export holds %d pruned by it (%d..%d), or not the same ones"
                                  % (p.get("policy"), p.get("records"), p.get("first_sequence"), p.get("last_sequence"), n, first, last))
            for (by, policy), (h, n, first, last) in self.digests.items():
                if by == seq:
                    raise Failure("%d records (%d..%d) are marked pruned by it under policy %r, which it does not name" % (n, first, last, policy))

    def finish(self):
        for (by, policy), (h, n, first, last) in sorted(self.digests.items()):
            raise Failure("records %d..%d (%d) are marked pruned under policy %r by record %d, which is not a retention record of the export"
                          % (first, last, n, policy, by))

    def summary(self):
        if not (self.committed or self.pruned or self.redactions or self.retentions):
            return None
        return ("%s with committed values: %d disclosed and matching their commitments, %d not disclosed (masked in this export, "
                "or redacted: %d by %s); %s pruned, as %s said"
                % (count(len(self.committed), "record"), self.disclosed, self.undisclosed, self.redacted, count(self.redactions, "redaction record"),
                   count(len(self.pruned), "record"), count(self.retentions, "retention record", "retention records")))


def count(n, noun, plural=None):
    """'1 record', '2 records'."""
    return "%d %s" % (n, noun if n == 1 else plural or noun + "s")


# --- RFC 6962 Merkle tree ----------------------------------------------------


def leaf_hash(record_hash_bytes):
    return hashlib.sha256(b"\x00" + record_hash_bytes).digest()


def node_hash(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


class MerkleTree:
    """The RFC 6962 tree hash of a growing list of leaves, in O(log n) memory."""

    def __init__(self):
        self.size = 0
        self.stack = []  # roots of complete subtrees, largest first

    def add(self, leaf):
        h, n = leaf, self.size
        while n & 1:
            h = node_hash(self.stack.pop(), h)
            n >>= 1
        self.stack.append(h)
        self.size += 1

    def root(self):
        if not self.stack:
            return hashlib.sha256(b"").digest()
        h = self.stack[-1]
        for left in reversed(self.stack[:-1]):
            h = node_hash(left, h)
        return h


def verify_inclusion(leaf_index, tree_size, leaf, proof, root):
    """RFC 9162 §2.1.3.2: does proof lead from leaf at leaf_index to root?"""
    if leaf_index >= tree_size:
        return False
    fn, sn, r = leaf_index, tree_size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


# --- Checkpoints (C2SP tlog-checkpoint in a signed note) ---------------------


def parse_checkpoint(text, where):
    """Origin, size and root of a checkpoint; the signatures are not checked."""
    body, sep, _signatures = text.partition("\n\n")
    lines = body.split("\n")
    if not sep or len(lines) < 3:
        raise Failure("%s: not a signed checkpoint (want origin, size and root lines, a blank line, signatures)" % where)
    origin, size, root = lines[:3]
    if not re.fullmatch(r"0|[1-9][0-9]*", size):
        raise Failure("%s: tree size %r is not a decimal number" % (where, size))
    try:
        root_bytes = base64.b64decode(root, validate=True)
    except ValueError:
        root_bytes = b""
    if len(root_bytes) != 32:
        raise Failure("%s: root %r is not 32 bytes of base64" % (where, root))
    return origin, int(size), root_bytes


def read_text(path):
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except OSError as e:
        raise Unreadable("%s: %s" % (path, e))
    except UnicodeDecodeError as e:
        raise Usage("%s: not UTF-8 text: %s" % (path, e))


# --- Ed25519 verification (RFC 8032 section 5.1.7) -------------------------

_P = 2**255 - 19
_L = 2**252 + 27742317777372353535851937790883648493
_D = -121665 * pow(121666, _P - 2, _P) % _P
_SQRT_M1 = pow(2, (_P - 1) // 4, _P)


def _edd_add(a, b):
    x1, y1, z1, t1 = a
    x2, y2, z2, t2 = b
    aa = (y1 - x1) * (y2 - x2) % _P
    bb = (y1 + x1) * (y2 + x2) % _P
    cc = 2 * t1 * t2 * _D % _P
    dd = 2 * z1 * z2 % _P
    e, f, g, h = bb - aa, dd - cc, dd + cc, bb + aa
    return (e * f % _P, g * h % _P, f * g % _P, e * h % _P)


def _edd_mul(s, pt):
    q = (0, 1, 1, 0)
    while s > 0:
        if s & 1:
            q = _edd_add(q, pt)
        pt = _edd_add(pt, pt)
        s >>= 1
    return q


def _edd_equal(a, b):
    return (a[0] * b[2] - b[0] * a[2]) % _P == 0 and (a[1] * b[2] - b[1] * a[2]) % _P == 0


def _edd_decompress(b):
    if len(b) != 32:
        return None
    y = int.from_bytes(b, "little")
    sign = y >> 255
    y &= (1 << 255) - 1
    if y >= _P:
        return None
    x2 = (y * y - 1) * pow(_D * y * y + 1, _P - 2, _P) % _P
    if x2 == 0:
        if sign:
            return None
        x = 0
    else:
        x = pow(x2, (_P + 3) // 8, _P)
        if (x * x - x2) % _P != 0:
            x = x * _SQRT_M1 % _P
        if (x * x - x2) % _P != 0:
            return None
        if (x & 1) != sign:
            x = _P - x
    return (x, y, 1, x * y % _P)


_G = _edd_decompress(bytes.fromhex("5866666666666666666666666666666666666666666666666666666666666666"))


def ed25519_verify(public, message, signature):
    """Whether signature (64 bytes) is public's (32 bytes) on message."""
    if len(public) != 32 or len(signature) != 64:
        return False
    a = _edd_decompress(public)
    r = _edd_decompress(signature[:32])
    s = int.from_bytes(signature[32:], "little")
    if a is None or r is None or s >= _L:
        return False
    h = int.from_bytes(hashlib.sha512(signature[:32] + public + message).digest(), "little") % _L
    return _edd_equal(_edd_mul(s, _G), _edd_add(r, _edd_mul(h, a)))


# --- C2SP signed notes -------------------------------------------------------


def parse_vkey(text, where):
    """(name, key hash, public key) of a C2SP note verifier key NAME+HASH+KEY."""
    parts = text.strip().split("+", 2)  # the key's base64 may hold '+' too
    if len(parts) != 3 or not re.fullmatch(r"[0-9a-f]{8}", parts[1]):
        raise Failure("%s: not a note verifier key (NAME+HASH+KEY)" % where)
    name, khash = parts[0], int(parts[1], 16)
    try:
        raw = base64.b64decode(parts[2], validate=True)
    except ValueError:
        raw = b""
    if len(raw) != 33 or raw[0] != 1:
        raise Failure("%s: not an Ed25519 note key" % where)
    if int.from_bytes(hashlib.sha256(name.encode() + b"\n" + raw).digest()[:4], "big") != khash:
        raise Failure("%s: the key hash does not match the key" % where)
    return name, khash, raw[1:]


def open_note(raw, vkey, where):
    """The text of a signed note, when vkey signed it; else Failure."""
    name, khash, public = vkey
    text, sep, sigs = raw.partition(b"\n\n")
    if not sep:
        raise Failure("%s: not a signed note" % where)
    text += b"\n"
    for line in sigs.split(b"\n"):
        if not line.startswith("\u2014 ".encode()):
            continue
        who, _, b64 = line[len("\u2014 ".encode()):].decode("utf-8", "replace").rpartition(" ")
        try:
            sig = base64.b64decode(b64, validate=True)
        except ValueError:
            continue
        if who != name or len(sig) != 68 or int.from_bytes(sig[:4], "big") != khash:
            continue
        if ed25519_verify(public, text, sig[4:]):
            return text.decode("utf-8")
        raise Failure("%s: the signature by %s does not verify (altered)" % (where, name))
    raise Failure("%s: not signed by %s" % (where, name))


# --- Evidence packets --------------------------------------------------------

PACKET_HEADER = "ami-audit evidence packet v1"
PACKET_REQUIRED = ("records.jsonl", "proofs.bin", "checkpoint.txt", "keys/log.pub")
RECORD_SIGNATURE_PREFIX = "ami-audit record signature v1\n"


def proof_len(i, n):
    """Hashes in the RFC 6962 inclusion proof of leaf i in a tree of n leaves."""
    count = 0
    while n > 1:
        k = 1
        while k << 1 < n:
            k <<= 1
        if i < k:
            n = k
        else:
            i, n = i - k, n - k
        count += 1
    return count


def check_packet(path, key_path):
    """Check an evidence packet with nothing else; return what it holds."""
    try:
        zf = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as e:
        raise Usage("%s: not an evidence packet: %s" % (path, e))
    names = zf.namelist()
    if "MANIFEST" not in names:
        raise Usage("%s: not an evidence packet (no MANIFEST)" % path)
    if len(set(names)) != len(names):
        raise Failure("the zip holds two files of one name")

    def read(name):
        if name not in names:
            raise Failure("%s: missing from the packet" % name)
        try:
            return zf.read(name)
        except (zipfile.BadZipFile, OSError) as e:
            raise Failure("%s: cannot be read (altered?): %s" % (name, e))

    raw = read("MANIFEST")
    text = raw.partition(b"\n\n")[0].decode("utf-8", "replace")
    lines = text.split("\n")
    if lines[0] != PACKET_HEADER:
        raise Failure("MANIFEST: does not start with %r" % PACKET_HEADER)
    m = {"files": {}}
    order = []
    for line in lines[1:]:
        f = line.split()
        if f and f[0] == "file" and len(f) == 4 and f[1] not in m["files"]:
            m["files"][f[1]] = (int(f[2]), f[3])
            order.append(f[1])
        elif f and f[0] in ("origin", "log-id", "key", "records", "created") and len(f) == 2:
            m[f[0]] = f[1]
        elif f and f[0] in ("checkpoint", "period") and len(f) == 3:
            m[f[0]] = (f[1], f[2])
        else:
            raise Failure("MANIFEST: line %r does not parse" % line)
    for need in ("origin", "key", "checkpoint", "records"):
        if need not in m:
            raise Failure("MANIFEST: lacks its %s line" % need)
    vkey = parse_vkey(m["key"], "MANIFEST key line")
    open_note(raw, vkey, "MANIFEST")
    fingerprint = "%s+%08x" % (vkey[0], vkey[1])
    if key_path:
        given = parse_vkey(read_text(key_path), key_path)
        if given != vkey:
            raise Failure("MANIFEST: signed by %s, not by the log key given (%s+%08x)" % (fingerprint, given[0], given[1]))
    if vkey[0] != m["origin"]:
        raise Failure("MANIFEST: its key is named %r, not after the log %r" % (vkey[0], m["origin"]))
    for name in names:
        if name != "MANIFEST" and name not in m["files"]:
            raise Failure("%s: not in the signed manifest (added to the packet)" % name)
    for need in PACKET_REQUIRED:
        if need not in m["files"]:
            raise Failure("MANIFEST: does not list %s" % need)
    contents = {}
    for name in order:
        b = read(name)
        size, digest = m["files"][name]
        if len(b) != size or hashlib.sha256(b).hexdigest() != digest:
            raise Failure("%s: altered: its size or SHA-256 differs from the signed manifest" % name)
        contents[name] = b
    if contents["keys/log.pub"].decode("utf-8", "replace").strip() != m["key"]:
        raise Failure("keys/log.pub: not the key the signed manifest names")
    cp_text = open_note(contents["checkpoint.txt"], vkey, "checkpoint.txt")
    origin, cp_size, cp_root = parse_checkpoint(cp_text + "\n", "checkpoint.txt")
    if origin != m["origin"] or str(cp_size) != m["checkpoint"][0] or base64.b64encode(cp_root).decode() != m["checkpoint"][1]:
        raise Failure("checkpoint.txt: not the checkpoint the manifest names")
    signers = {}
    for name in order:
        if name.startswith("keys/trusted/"):
            k = parse_vkey(contents[name].decode("utf-8", "replace"), name)
            signers.setdefault(k[0], []).append(k)
    proofs = contents["proofs.bin"]
    off, count, sigs = 0, 0, 0
    for lineno, raw_line in enumerate(contents["records.jsonl"].split(b"\n"), 1):
        if not raw_line.strip():
            continue
        try:
            rec = parse_json(raw_line.decode("utf-8"))
        except (Failure, UnicodeDecodeError) as e:
            raise Failure("records.jsonl line %d: %s" % (lineno, e))
        if not isinstance(rec, dict) or not isinstance(rec.get("sequence"), int):
            raise Failure("records.jsonl line %d: not a record" % lineno)
        seq = rec["sequence"]
        where = "records.jsonl line %d (record %d, %s)" % (lineno, seq, rec.get("record_id"))
        claimed = rec.get("record_hash")
        if not isinstance(claimed, str) or not re.fullmatch(r"[0-9a-f]{64}", claimed):
            raise Failure("%s: record_hash is not 32 bytes of hex" % where)
        if "pruned" not in rec:
            check_commitments(rec)
            if record_hash(rec) != claimed:
                raise Failure("%s: does not hash to its record_hash (it was changed)" % where)
        if seq >= cp_size:
            raise Failure("%s: beyond the checkpoint's size %d" % (where, cp_size))
        k = proof_len(seq, cp_size)
        if off + 32 * k > len(proofs):
            raise Failure("proofs.bin: %s: ends before this record's proof" % where)
        proof = [proofs[off + 32 * i:off + 32 * i + 32] for i in range(k)]
        off += 32 * k
        if not verify_inclusion(seq, cp_size, leaf_hash(bytes.fromhex(claimed)), proof, cp_root):
            raise Failure("proofs.bin: %s: the proof does not lead to the checkpoint's root" % where)
        msg = (RECORD_SIGNATURE_PREFIX + claimed + "\n").encode()
        for sig in rec.get("signatures") or []:
            keys_named = signers.get(sig.get("signer"))
            if not keys_named:
                continue
            try:
                raw_sig = base64.b64decode(sig.get("signature", ""), validate=True)
            except ValueError:
                raw_sig = b""
            if sig.get("algorithm") != "Ed25519" or not any(ed25519_verify(k[2], msg, raw_sig) for k in keys_named):
                raise Failure("%s: the signature by %s does not verify" % (where, sig.get("signer")))
            sigs += 1
        count += 1
    if off != len(proofs):
        raise Failure("proofs.bin: holds %d bytes more than the records' proofs" % (len(proofs) - off))
    if str(count) != m["records"]:
        raise Failure("records.jsonl: holds %d records, the manifest says %s" % (count, m["records"]))
    if "report.json" in contents:
        try:
            rep = json.loads(contents["report.json"])
            ok = rep.get("integrity", {}).get("origin") == m["origin"]
        except (ValueError, AttributeError):
            ok = False
        if not ok:
            raise Failure("report.json: not a report of log %s" % m["origin"])
    return fingerprint, m["origin"], cp_size, count, sigs, len(order)


# --- Checks ------------------------------------------------------------------


def read_export(path):
    """Yield (line number, record) from a JSON-lines or JSON-array export.

    Both forms hold one record per line; the array form adds '[' and ']'
    lines and a comma after each record but the last.
    """
    try:
        f = open(path, "rb")
    except OSError as e:
        raise Unreadable("%s: %s" % (path, e))
    with f:
        for lineno, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8").strip()
            except UnicodeDecodeError:
                raise Failure("%s line %d: not UTF-8" % (path, lineno))
            if line in ("", "[", "]", "[]"):
                continue
            if line.endswith(","):
                line = line[:-1]
            try:
                record = parse_json(line)
            except Failure as e:
                raise Failure("%s line %d: %s" % (path, lineno, e))
            if not isinstance(record, dict):
                raise Failure("%s line %d: a record must be a JSON object" % (path, lineno))
            yield lineno, record


# The one spelling of a record, finding or violation id (canonical-form.md,
# section 1, "Ids").
CANONICAL_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def id_problem(rec):
    """What is wrong with the record's ids, or None."""
    if not isinstance(rec.get("record_id"), str) or not CANONICAL_ID.fullmatch(rec["record_id"]):
        return "record_id %r is not a UUID in its one spelling (lower case, hyphenated, 36 characters)" % (rec.get("record_id"),)
    for kind, key in (("findings", "finding_id"), ("violations", "violation_id")):
        for i, item in enumerate(rec.get(kind) or []):
            value = item.get(key) if isinstance(item, dict) else None
            if not isinstance(value, str) or not CANONICAL_ID.fullmatch(value):
                return "%s[%d].%s %r is not a UUID in its one spelling" % (kind, i, key, value)
    return None


def check_export(path, difficulty, checkpoint_sizes):
    """Check every record; return the record count, the roots at the given sizes and what was forgotten."""
    return check_records(read_export(path), difficulty, checkpoint_sizes)


def check_records(records, difficulty, checkpoint_sizes):
    """Check (line number, record) pairs in order, as check_export does."""
    tree = MerkleTree()
    roots = {0: tree.root()} if 0 in checkpoint_sizes else {}
    previous = GENESIS_HASH
    seen_ids = set()
    forgetting = Forgetting()
    for lineno, rec in records:
        name = "record %s (%s), line %d" % (rec.get("sequence"), rec.get("record_id"), lineno)

        def fail(reason):
            raise Failure("%s: %s" % (name, reason))

        claimed = rec.get("record_hash")
        if not isinstance(claimed, str) or not re.fullmatch("[0-9a-f]{64}", claimed):
            fail("record_hash is missing or not 64 lowercase hex digits")
        seq = rec.get("sequence")
        if type(seq) is not int or seq != tree.size:
            fail("sequence is %r where %d was expected (a record was removed, inserted or moved)" % (seq, tree.size))
        if "pruned" in rec:
            # Its content is gone: its hash is a leaf of the tree and the
            # next record's previous_hash, no more.
            try:
                forgetting.prune(seq, rec)
            except Failure as e:
                fail(str(e))
        else:
            try:
                actual = record_hash(rec)
            except Failure as e:
                fail("no canonical form: %s" % e)
            if actual != claimed:
                fail("record_hash mismatch: the content hashes to %s (the record was changed)" % actual)
            if rec.get("previous_hash") != previous:
                fail("previous_hash %r does not link to the record before it (%s)" % (rec.get("previous_hash"), previous))
            try:
                forgetting.record(seq, rec, claimed)
            except Failure as e:
                fail(str(e))
        if difficulty and not claimed.startswith("0" * difficulty):
            fail("record_hash does not start with %d zero hex digits (proof of work)" % difficulty)
        problem = id_problem(rec)
        if problem:
            fail(problem)
        uid = bytes.fromhex(rec["record_id"].replace("-", ""))
        if uid in seen_ids:
            fail("record_id %s occurs twice in the trail" % rec["record_id"])
        seen_ids.add(uid)
        tree.add(leaf_hash(bytes.fromhex(claimed)))
        if tree.size in checkpoint_sizes:
            roots[tree.size] = tree.root()
        previous = claimed
    forgetting.finish()
    roots[tree.size] = tree.root()
    return tree.size, roots, forgetting.summary()


def check_proof(path):
    """Check an inclusion proof file written by 'ami-audit prove'."""
    try:
        proof = parse_json(read_text(path))
    except Failure as e:
        raise Usage("%s: %s" % (path, e))
    if not isinstance(proof, dict) or proof.get("format") != PROOF_FORMAT:
        raise Usage("%s is not an inclusion proof written by 'ami-audit prove'" % path)
    origin, size, root = parse_checkpoint(proof.get("checkpoint", ""), path + ": checkpoint")
    if proof.get("tree_size") != size:
        raise Failure("%s: tree_size %r differs from the checkpoint's size %d" % (path, proof.get("tree_size"), size))
    rec, index = proof.get("record"), proof.get("leaf_index")
    if not isinstance(rec, dict) or type(index) is not int or index < 0:
        raise Failure("%s: record or leaf_index is missing" % path)
    name = "%s: record %s (%s)" % (path, rec.get("sequence"), rec.get("record_id"))
    if "pruned" in rec:
        raise Failure("%s: the record was pruned: its content is gone" % name)
    try:
        check_commitments(rec)
    except Failure as e:
        raise Failure("%s: %s" % (name, e))
    actual = record_hash(rec)
    if actual != rec.get("record_hash"):
        raise Failure("%s: record_hash mismatch: the content hashes to %s (the record was changed)" % (name, actual))
    if rec.get("sequence") != index:
        raise Failure("%s: leaf_index %d differs from the record's sequence" % (name, index))
    hashes = []
    for h in proof.get("inclusion_proof") or []:
        try:
            b = base64.b64decode(h, validate=True)
        except (ValueError, TypeError):
            b = b""
        if len(b) != 32:
            raise Failure("%s: proof hash %r is not 32 bytes of base64" % (path, h))
        hashes.append(b)
    if not verify_inclusion(index, size, leaf_hash(bytes.fromhex(actual)), hashes, root):
        raise Failure("%s: the inclusion proof does not lead to the checkpoint's root (not in the tree)" % name)
    return "record %d is in %s of size %d (%d proof hashes)" % (index, origin, size, len(hashes))


def check_vectors(path):
    """Check every vector: canonical bytes and SHA-256, refusals, record hashes."""
    try:
        vectors = json.loads(read_text(path))  # inputs may hold cases this parser refuses on purpose
    except ValueError as e:
        raise Usage("%s: %s" % (path, e))
    n = 0
    for case in vectors.get("cases", []):
        name = "%s: case %r" % (path, case["name"])
        try:
            got = canonical(case["input"])
        except Failure as e:
            if "error" in case:
                n += 1
                continue
            raise Failure("%s: refused: %s" % (name, e))
        if "error" in case:
            raise Failure("%s: accepted, but must be refused (%s)" % (name, case["error"]))
        if got.decode("utf-8") != case["canonical"]:
            raise Failure("%s: canonical form %r, want %r" % (name, got.decode("utf-8"), case["canonical"]))
        if hashlib.sha256(got).hexdigest() != case["sha256"]:
            raise Failure("%s: sha256 differs" % name)
        n += 1
    for case in vectors.get("records", []):
        name = "%s: record %r" % (path, case["name"])
        rec = case["record"]
        body = canonical({k: v for k, v in rec.items() if k not in UNHASHED})
        if body.decode("utf-8") != case["canonical"]:
            raise Failure("%s: canonical form %r, want %r" % (name, body.decode("utf-8"), case["canonical"]))
        if hashlib.sha256(body).hexdigest() != case["record_hash"] or case["record_hash"] != rec["record_hash"]:
            raise Failure("%s: record_hash differs" % name)
        if canonical(rec).decode("utf-8") != case["export"]:
            raise Failure("%s: export form differs" % name)
        n += 1
    tree = MerkleTree()
    for case, want in zip(vectors.get("records", []), vectors.get("merkle_roots", [])):
        tree.add(leaf_hash(bytes.fromhex(case["record_hash"])))
        if base64.b64encode(tree.root()).decode() != want:
            raise Failure("%s: Merkle root of the first %d records differs" % (path, tree.size))
        n += 1
    for case in vectors.get("commitments", []):
        got = commitment(case["field"], bytes.fromhex(case["salt"]), case["value"])
        if got != case["commitment"]:
            raise Failure("%s: commitment %r is %s, want %s" % (path, case["name"], got, case["commitment"]))
        n += 1
    chain = vectors.get("forgetting")
    if chain:
        size, roots, _ = check_records(enumerate(chain["export"], 1), 0, set())
        if base64.b64encode(roots[size]).decode() != chain["merkle_root"]:
            raise Failure("%s: the Merkle root of the forgetting chain differs" % path)
        n += 1
    return n


def main(argv):
    p = argparse.ArgumentParser(
        description="Verify an ami-audit export (jsonl or json) with the Python standard library.",
        epilog="Exit status: 0 all checks passed, 1 a file could not be read, 2 usage error, 3 verification failed.",
    )
    p.add_argument("export", nargs="?", help="file written by 'ami-audit export --format jsonl' or '--format json'")
    p.add_argument("--difficulty", type=int, default=0, metavar="N", help="require N leading zero hex digits in every record_hash")
    p.add_argument("--checkpoint", action="append", default=[], metavar="FILE", help="compare size and root with this checkpoint (repeatable)")
    p.add_argument("--proof", action="append", default=[], metavar="FILE", help="check an inclusion proof written by 'ami-audit prove' (repeatable)")
    p.add_argument("--vectors", metavar="FILE", help="check the canonical-form test vectors")
    p.add_argument("--packet", metavar="FILE", help="check an evidence packet written by 'ami-audit report --export packet'")
    p.add_argument("--key", metavar="FILE", help="with --packet: the log's public key the packet must be signed by")
    args = p.parse_args(argv)
    if not (args.export or args.proof or args.vectors or args.packet):
        p.error("give an export file, --proof FILE, --packet FILE or --vectors FILE")
    if args.key and not args.packet:
        p.error("--key goes with --packet")
    if args.checkpoint and not args.export:
        p.error("--checkpoint compares with an export: give the export file too")
    if not 0 <= args.difficulty <= 64:
        p.error("--difficulty must be between 0 and 64")

    try:
        if args.packet:
            fp, origin, cp_size, count, sigs, files = check_packet(args.packet, args.key)
            print("ok    manifest     signed by %s; %d files, each as it says" % (fp, files))
            print("ok    checkpoint   %s size %d, signed by the log key" % (origin, cp_size))
            print("ok    records      %d records: each hashes to its record_hash and its inclusion proof leads to the signed root" % count)
            if sigs:
                print("ok    signatures   %d signatures by the packet's signers, all valid" % sigs)
            if not args.key:
                print("note  key          compare %s with the log key's fingerprint you obtained from the operator (or give --key)" % fp)
        if args.vectors:
            print("ok    vectors      %d vectors: canonical bytes and hashes match" % check_vectors(args.vectors))
        for proof in args.proof:
            print("ok    proof        %s: %s" % (proof, check_proof(proof)))
        if args.export:
            checkpoints = [(cp, parse_checkpoint(read_text(cp), cp)) for cp in args.checkpoint]
            size, roots, forgotten = check_export(args.export, args.difficulty, {c[1][1] for c in checkpoints})
            pow_note = ", proof of work %d" % args.difficulty if args.difficulty else ""
            print("ok    records      %d records: record_hash, previous_hash links, sequence %s and ids intact%s"
                  % (size, "0..%d" % (size - 1) if size else "(none)", pow_note))
            print("ok    merkle root  %d %s" % (size, base64.b64encode(roots[size]).decode()))
            if forgotten:
                print("ok    forgotten    %s" % forgotten)
                print("note  forgotten    who signed the redaction and retention records (a redactor key) is NOT checked"
                      " (no Ed25519); 'ami-audit verify' checks it")
            for path, (origin, cp_size, cp_root) in checkpoints:
                if cp_size > size:
                    raise Failure("%s: the checkpoint commits to %d records but the export holds %d (records were removed from the end)"
                                  % (path, cp_size, size))
                if roots[cp_size] != cp_root:
                    raise Failure("%s: the root of the first %d records is %s, the checkpoint says %s (the trail was rewritten)"
                                  % (path, cp_size, base64.b64encode(roots[cp_size]).decode(), base64.b64encode(cp_root).decode()))
                print("ok    checkpoint   %s: %s size %d, root matches the first %d records" % (path, origin, cp_size, cp_size))
        if args.proof or args.checkpoint:
            print("note  signatures   the checkpoint's Ed25519 signature is NOT checked (no Ed25519 in the Python standard"
                  " library); check it with 'ami-audit verify --checkpoint FILE' or a C2SP signed-note verifier")
    except Unreadable as e:
        print("verify_export.py: %s" % e, file=sys.stderr)
        return EXIT_ERROR
    except Usage as e:
        print("verify_export.py: %s" % e, file=sys.stderr)
        return EXIT_USAGE
    except Failure as e:
        print("FAIL  %s" % e)
        return EXIT_VERIFY_FAILED
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
