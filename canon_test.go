package audit

import (
	"testing"

	"github.com/ami-orchestrator/ami-audit/canonical"
)

// fillTemplate inserts the chain's values into a template's slots.
func fillTemplate(t []byte, s ChainSlots, nonce uint64, prev string, seq uint64) []byte {
	var b []byte
	b = append(b, t[:s.Nonce]...)
	b, _ = canonical.AppendUint(b, nonce)
	b = append(b, t[s.Nonce:s.PreviousHash]...)
	b, _ = canonical.AppendString(b, prev)
	b = append(b, t[s.PreviousHash:s.Sequence]...)
	b, _ = canonical.AppendUint(b, seq)
	return append(b, t[s.Sequence:]...)
}

// FuzzChainTemplate: the template with the chain's values inserted is the
// canonical form, for any record fields and chain values, written after
// any prefix.
func FuzzChainTemplate(f *testing.F) {
	f.Add("ci", "deploy", "svc/api", "release", "k", "v", uint64(0), "0", uint64(0), "")
	f.Add("é\"", "a\\b", "t\n", "", "ключ", "\u2028", uint64(17), "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", uint64(1<<40), "prefix")
	f.Fuzz(func(t *testing.T, actor, action, target, reason, key, value string, nonce uint64, prev string, seq uint64, prefix string) {
		r := validRecord()
		r.Actor, r.Action, r.Target, r.Reason = actor, action, target, reason
		r.Context = map[string]any{key: value, "n": 1.5}
		r.Nonce, r.PreviousHash, r.Sequence = nonce, prev, seq
		want, werr := r.AppendCanonical(nil)
		got, slots, gerr := r.AppendChainTemplate([]byte(prefix))
		if (werr != nil) != (gerr != nil) {
			// an invalid previous_hash is the template's to be told,
			// not its to refuse
			if _, perr := canonical.AppendString(nil, prev); perr == nil || gerr != nil {
				t.Fatalf("canonical form: %v, template: %v", werr, gerr)
			}
			return
		}
		if werr != nil {
			return
		}
		if string(got[:len(prefix)]) != prefix {
			t.Fatalf("the prefix was changed: %q", got[:len(prefix)])
		}
		if filled := fillTemplate(got[len(prefix):], slots, nonce, prev, seq); string(filled) != string(want) {
			t.Fatalf("template filled\n got %s\nwant %s", filled, want)
		}
	})
}
