// Package ledger is the heart of ami-audit: it links records into a hash
// chain, makes each record a leaf of an RFC 6962 Merkle tree, signs and
// checks C2SP checkpoints, proves inclusion and consistency, checks
// signatures against a quorum of trusted keys, and verifies a stored chain
// from end to end.
//
// Stores call Link inside their append transaction, after reading the tip
// of the chain under their write lock, and persist what it returns. Every
// other operation reads a store through the small interfaces declared here
// (RawScanner, HashStore), which a store implements in addition to
// audit.Store.
//
// The Merkle tree: leaf i is the record with sequence i; its leaf hash is
// SHA-256(0x00 || record_hash) where record_hash is the 32 raw bytes, and
// interior nodes are SHA-256(0x01 || left || right) (golang.org/x/mod's
// sumdb/tlog). Each record row stores the tree hashes that become complete
// when it is added (its leaf hash first, then one parent per level); they are
// what inclusion and consistency proofs are built from.
package ledger
