package git

import (
	"context"
	"encoding/hex"
	"fmt"
	"iter"

	audit "github.com/ami-orchestrator/ami-audit"
)

// The actions of the records this source produces.
const (
	ActionCommit  = "git_commit"
	ActionAuthors = "git_authors"
	ActionRefs    = "git_refs"
	ActionBlame   = "git_blame"
	ActionWarning = "git_warning"
)

// hashKey is a commit hash as a fixed-size map key: SHA-1 hashes use the
// first 20 bytes, SHA-256 hashes all 32.
type hashKey [32]byte

func keyOf(h string) (hashKey, bool) {
	var k hashKey
	if len(h) != 40 && len(h) != 64 {
		return k, false
	}
	if _, err := hex.Decode(k[:len(h)/2], []byte(h)); err != nil {
		return k, false
	}
	return k, true
}

// knownSet holds the commits already recorded for one target.
type knownSet map[hashKey]struct{}

func (k knownSet) has(h string) bool {
	key, ok := keyOf(h)
	if !ok {
		return false
	}
	_, found := k[key]
	return found
}

func (k knownSet) add(h string) {
	if key, ok := keyOf(h); ok {
		k[key] = struct{}{}
	}
}

// ContextLister is an optional capability of a Recorded: it yields the
// string value of one context member of every record matching f, in
// sequence order, without decoding whole records (records where the member
// is missing or not a string are skipped). When the Recorded has it, the
// source reads the recorded commit hashes through it, which is much
// cheaper on a long trail than Query.
type ContextLister interface {
	ContextStrings(ctx context.Context, f audit.Filter, key string) iter.Seq2[string, error]
}

// loadKnown reads the hashes of the commits recorded for target.
func (s *Source) loadKnown(ctx context.Context, target string) (knownSet, error) {
	known := knownSet{}
	if s.cfg.Recorded == nil {
		return known, nil
	}
	f := audit.Filter{TargetType: audit.TargetGit, Action: ActionCommit, Target: target, Limit: -1}
	if cl, ok := s.cfg.Recorded.(ContextLister); ok {
		for h, err := range cl.ContextStrings(ctx, f, "commit") {
			if err != nil {
				return nil, fmt.Errorf("read recorded commits of %s: %w", target, err)
			}
			known.add(h)
		}
		return known, nil
	}
	for r, err := range s.cfg.Recorded.Query(ctx, f) {
		if err != nil {
			return nil, fmt.Errorf("read recorded commits of %s: %w", target, err)
		}
		if h, ok := r.Context["commit"].(string); ok {
			known.add(h)
		}
	}
	return known, nil
}

// lastRecord returns the newest record with this action and target, or
// nil.
func (s *Source) lastRecord(ctx context.Context, action, target string) (*audit.Record, error) {
	if s.cfg.Recorded == nil {
		return nil, nil
	}
	f := audit.Filter{TargetType: audit.TargetGit, Action: action, Target: target, Limit: 1, Newest: true}
	for r, err := range s.cfg.Recorded.Query(ctx, f) {
		if err != nil {
			return nil, fmt.Errorf("read last %s record of %s: %w", action, target, err)
		}
		return r, nil
	}
	return nil, nil
}
