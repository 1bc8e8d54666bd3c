package sqlite

// SchemaVersion is the version of the tables this package writes. A store
// with a higher version was written by a newer ami-audit and is refused.
const SchemaVersion = 4

// migrations[i] takes a store from version i to i+1.
var migrations = []string{
	// 0 → 1: the ledger.
	`
CREATE TABLE meta (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
) STRICT;

-- One row per record. body holds the canonical bytes the record hash covers,
-- so verification hashes exactly what is stored. The query columns repeat
-- fields of body; verification checks that they agree with it.
CREATE TABLE records (
	seq         INTEGER PRIMARY KEY,
	record_id   TEXT NOT NULL UNIQUE,
	record_hash BLOB NOT NULL,
	body        BLOB NOT NULL,
	tree        BLOB NOT NULL,
	status      TEXT NOT NULL DEFAULT 'recorded',
	timestamp   TEXT NOT NULL,
	actor       TEXT NOT NULL,
	action      TEXT NOT NULL,
	target      TEXT NOT NULL,
	target_type TEXT NOT NULL,
	severity    TEXT NOT NULL
);
CREATE INDEX records_timestamp   ON records (timestamp DESC);
CREATE INDEX records_actor       ON records (actor);
CREATE INDEX records_target      ON records (target);
CREATE INDEX records_target_type ON records (target_type);
CREATE INDEX records_severity    ON records (severity);
-- By action (a prefix of this index), and the newest record of an action
-- about a target (sources that collect incrementally ask this).
CREATE INDEX records_action_target ON records (action, target, seq);

-- Signatures are not covered by the record hash and may be added later.
CREATE TABLE signatures (
	seq       INTEGER NOT NULL REFERENCES records (seq),
	signer    TEXT NOT NULL,
	algorithm TEXT NOT NULL,
	signature TEXT NOT NULL,
	timestamp TEXT NOT NULL,
	PRIMARY KEY (seq, signer)
) STRICT;

-- The tree head after each committed batch, signed by the log key when one
-- was given: verification compares them with the tree the records build.
CREATE TABLE heads (
	size INTEGER PRIMARY KEY,
	root BLOB NOT NULL,
	note TEXT
) STRICT;
`,
	// 1 → 2: co-signatures of checkpoints; the log's identity (log_id,
	// store_id, log_key) lives in meta.
	`
-- A co-signature is a signer's signed note over a checkpoint of this log:
-- it vouches for every record of the checkpoint's tree at once.
CREATE TABLE cosignatures (
	size      INTEGER NOT NULL,
	signer    TEXT NOT NULL,
	note      TEXT NOT NULL,
	timestamp TEXT NOT NULL,
	PRIMARY KEY (size, signer)
) STRICT;
`,
	// 2 → 3: forgetting. Values of committed fields live beside their
	// records (redaction deletes them; the commitment in the body stays);
	// a pruned record keeps its id, hash and tree hashes, and names the
	// retention record and policy that pruned it.
	`
CREATE TABLE field_values (
	seq   INTEGER NOT NULL REFERENCES records (seq),
	field TEXT NOT NULL,
	salt  BLOB NOT NULL,
	value BLOB NOT NULL,   -- the value's canonical JSON
	PRIMARY KEY (seq, field)
) STRICT, WITHOUT ROWID;

ALTER TABLE records ADD COLUMN pruned_by INTEGER;   -- sequence of the retention_applied record
ALTER TABLE records ADD COLUMN pruned_policy TEXT;
`,
	// 3 → 4: an index on action alone replaces the one on (action,
	// target, seq). Every row's insert pays for each index; one whose
	// entries land all over the tree (target first) costs about as much
	// as three that append at the end of their key's entries, which is
	// where a new row of a one-column index goes (after the rows before it,
	// in seq order). Queries by action and target find the target's rows
	// through records_target (Query steers them there), queries by action
	// alone get their rows in seq order from records_action without a sort.
	`
DROP INDEX IF EXISTS records_action_target;
CREATE INDEX IF NOT EXISTS records_action ON records (action);
`,
}
