package postgres

// SchemaVersion is the version of the tables this package writes. A
// database with a higher version was written by a newer ami-audit and is
// refused.
const SchemaVersion = 3

// migrations[i] takes a database from version i to i+1.
var migrations = []string{
	// 0 → 1: the tables of SPEC §5 and what the ledger needs beside them.
	`
CREATE TABLE audit_meta (
	key   text PRIMARY KEY,
	value text NOT NULL
);

-- The tip of the chain. Every append locks this one row (SELECT … FOR
-- UPDATE) before it reads the tip, so appends from any number of
-- processes and machines serialize here: no fork, no gap, no duplicate.
CREATE TABLE audit_chain (
	id   boolean PRIMARY KEY DEFAULT true CHECK (id),
	size bigint NOT NULL,
	hash text NOT NULL
);
INSERT INTO audit_chain (id, size, hash) VALUES (true, 0, '0');

-- One row per record. body holds the canonical bytes the record hash
-- covers, so verification hashes exactly what is stored; the other
-- columns are written from the same record for SQL, and verification
-- checks that they agree with body. Records are always read back from
-- body.
CREATE TABLE audit_records (
	record_id      uuid PRIMARY KEY,
	record_hash    text NOT NULL UNIQUE,
	timestamp      timestamptz NOT NULL,
	actor          text NOT NULL,
	action         text NOT NULL,
	target         text NOT NULL,
	target_type    text NOT NULL,
	source         text NOT NULL,
	reason         text NOT NULL,
	context        jsonb NOT NULL,
	metadata       jsonb NOT NULL,
	previous_hash  text NOT NULL,
	nonce          bigint NOT NULL,
	severity       text NOT NULL,
	classification text NOT NULL,
	status         text NOT NULL,
	created_at     timestamptz NOT NULL DEFAULT now(),
	sequence       bigint NOT NULL UNIQUE,
	timestamp_ns   text NOT NULL,   -- the timestamp with its nanoseconds, sortable
	body           bytea NOT NULL,
	tree           bytea NOT NULL   -- Merkle tree hashes this leaf completes
);
CREATE INDEX audit_records_timestamp   ON audit_records (timestamp DESC);
CREATE INDEX audit_records_actor       ON audit_records (actor);
CREATE INDEX audit_records_action      ON audit_records (action);
CREATE INDEX audit_records_target_type ON audit_records (target_type);
CREATE INDEX audit_records_severity    ON audit_records (severity);
CREATE INDEX audit_records_target      ON audit_records (target);

CREATE TABLE audit_findings (
	record_id      uuid NOT NULL REFERENCES audit_records (record_id),
	position       integer NOT NULL,
	finding_id     text NOT NULL,
	finding_type   text NOT NULL,
	severity       text NOT NULL,
	description    text NOT NULL,
	location       text NOT NULL,
	recommendation text NOT NULL,
	metadata       jsonb NOT NULL,
	PRIMARY KEY (record_id, position)
);

CREATE TABLE audit_violations (
	record_id     uuid NOT NULL REFERENCES audit_records (record_id),
	position      integer NOT NULL,
	violation_id  text NOT NULL,
	rule          text NOT NULL,
	severity      text NOT NULL,
	message       text NOT NULL,
	file_path     text NOT NULL,
	line_number   integer NOT NULL,
	column_number integer NOT NULL,
	PRIMARY KEY (record_id, position)
);

-- Signatures are not covered by the record hash and may be added later.
CREATE TABLE audit_signatures (
	record_id uuid NOT NULL REFERENCES audit_records (record_id),
	signer    text NOT NULL,
	algorithm text NOT NULL,
	signature text NOT NULL,
	timestamp text NOT NULL,    -- RFC 3339 with nanoseconds
	PRIMARY KEY (record_id, signer)
);

-- The tree head after each committed batch, signed by the log key when
-- one was given: verification compares them with the tree the records
-- build now.
CREATE TABLE audit_tree_heads (
	size bigint PRIMARY KEY,
	root bytea NOT NULL,
	note text
);
`,
	// 1 → 2: co-signatures of checkpoints; the log's identity (log_id,
	// store_id, log_key) lives in audit_meta.
	`
CREATE TABLE audit_cosignatures (
	size      bigint NOT NULL,
	signer    text NOT NULL,
	note      text NOT NULL,
	timestamp text NOT NULL,
	PRIMARY KEY (size, signer)
);
`,
	// 2 → 3: forgetting. Values of committed fields live beside their
	// records (redaction deletes them; the commitment in the body stays);
	// a pruned record keeps its id, hash, sequence, status and tree
	// hashes, and names the retention record and policy that pruned it —
	// its other columns become NULL.
	`
CREATE TABLE audit_field_values (
	record_id uuid NOT NULL REFERENCES audit_records (record_id),
	field     bytea NOT NULL,  -- the field name, exactly (text refuses NUL)
	salt      bytea NOT NULL,
	value     bytea NOT NULL,   -- the value's canonical JSON
	PRIMARY KEY (record_id, field)
);

ALTER TABLE audit_records
	ADD COLUMN pruned_by bigint,   -- sequence of the retention_applied record
	ADD COLUMN pruned_policy text,
	ALTER COLUMN timestamp DROP NOT NULL,
	ALTER COLUMN actor DROP NOT NULL,
	ALTER COLUMN action DROP NOT NULL,
	ALTER COLUMN target DROP NOT NULL,
	ALTER COLUMN target_type DROP NOT NULL,
	ALTER COLUMN source DROP NOT NULL,
	ALTER COLUMN reason DROP NOT NULL,
	ALTER COLUMN context DROP NOT NULL,
	ALTER COLUMN metadata DROP NOT NULL,
	ALTER COLUMN previous_hash DROP NOT NULL,
	ALTER COLUMN nonce DROP NOT NULL,
	ALTER COLUMN severity DROP NOT NULL,
	ALTER COLUMN classification DROP NOT NULL,
	ALTER COLUMN timestamp_ns DROP NOT NULL;
`,
}
