// Package audit is the vocabulary of ami-audit: the Record every part of the
// system produces, the Finding and Violation attached to it, the Filter used
// to find records, and the small interfaces the rest plugs into.
//
// Where a record is born, hashed, stored, analysed and reported:
//
//   - source/...   sources collect records about a target (git, file, log,
//     module, quality, service)
//   - canonical    RFC 8785 canonical JSON, the byte form a record hash covers
//   - ledger       hash chain, proof of work, Merkle tree, checkpoints, verification
//   - keys         Ed25519 signing keys on disk
//   - trail        a trail as a user has it: directory, identity, keys and
//     store; opening, creating, verifying, checkpointing, proving, signing,
//     redacting and applying retention
//   - disclose     reading by classification: confidential values masked
//     (their commitments shown) unless a reader may see them
//   - retention    retention policies, legal holds, what is kept too long
//   - store/...    durable storage of the chain: SQLite (default), PostgreSQL,
//     a Redis cache decorator, migration between them; storetest is the
//     conformance suite every backend passes
//   - jsonl, export records in (JSON lines) and out (jsonl, json, yaml, csv)
//   - graph        provenance, Dgraph RDF and GraphViz exports
//   - collector/   runs sources over a target and appends what they produce
//   - analyzer/... analyzers derive findings from the trail (and the
//     repository); package analyzer records them as evidence: a finding
//     record when one appears or changes, a resolution when it goes away
//   - collect      the collections every front end runs (CLI, HTTP, MCP)
//   - serve/...    the HTTP API and the MCP server, tokens and roles
//   - compliance   control catalogs; compliance/assess judges a trail
//     against them (evidence per control, gaps in the trail itself)
//   - report/...   turns records into documents people and programs read;
//     report/trailreport reports on the stored trail
//   - packet       evidence packets an auditor verifies offline
//   - cmd/ami-audit the command line, a thin layer over the packages above
//
// A Record is immutable once appended: the store assigns its sequence number,
// previous_hash and record_hash, and only its signatures and status may change
// later (neither is covered by the hash). What a trail may forget — the
// committed values of confidential records, the bodies of records past their
// retention — it forgets without changing any hash (commit.go, forget.go).
package audit
