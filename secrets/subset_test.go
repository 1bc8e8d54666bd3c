package secrets

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// corpus is every text the tests know, alone and several joined (so that
// the keywords of several rules meet in one text).
func corpus() []string {
	var texts []string
	for _, p := range planted {
		texts = append(texts, p.text)
	}
	for _, r := range ownRules {
		for _, ex := range r.True {
			texts = append(texts, ex.Text)
		}
		texts = append(texts, r.False...)
	}
	texts = append(texts,
		"svc/api-17", "ci@example.com", "api_key=9f8e7d6c5b4a3f2e1d0c token=ghp_1A2b3C4d5E6f7G8h9I0j1K2l3M4n5O6p7Q8r",
		"slack xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx and stripe sk_live_4eC39HqLyjWDarjtT1zdp7dc",
		"password=[REDACTED password-assignment fp:0123abcd]x9y8z7",
	)
	n := len(texts)
	for i := 0; i+2 < n; i += 3 {
		texts = append(texts, strings.Join(texts[i:i+3], "\n"))
	}
	return texts
}

// Giving a text to a detector of the rules its keywords call for finds
// exactly what the detector of all rules finds.
func TestSubsetFindsWhatAllRulesFind(t *testing.T) {
	d := testDetector(t)
	for _, text := range corpus() {
		want := d.find(text, d.finder())
		if diff := cmp.Diff(want, d.Find(text)); diff != "" {
			t.Errorf("Find(%q) differs from all rules' (-all +subset):\n%s", text, diff)
		}
	}
	if len(d.subsets) == 0 {
		t.Error("no subset detector was used")
	}
}

// A multi-part rule (gitleaks' [[rules.required]]) finds its secret only
// with the rule it requires nearby, which the keywords of the text need
// not call for: the subset carries the required rule along.
func TestSubsetKeepsRequiredRules(t *testing.T) {
	path := filepath.Join(t.TempDir(), "multi.toml")
	os.WriteFile(path, []byte(`
[[rules]]
id = "acme-secret"
regex = '''acme_secret=([0-9a-z]{16})'''
secretGroup = 1
keywords = ["acme_secret"]
[[rules.required]]
id = "acme-client"
withinLines = 2

[[rules]]
id = "acme-client"
regex = '''client=(acme-[0-9]{6})'''
secretGroup = 1
keywords = ["zzclientzz"]
`), 0o644)
	d, err := New(Config{GitleaksConfig: path, FingerprintKey: testKey})
	if err != nil {
		t.Fatal(err)
	}
	for _, text := range []string{
		"client=acme-123456\nacme_secret=0123456789abcdef",
		"acme_secret=0123456789abcdef",
		"client=acme-123456",
	} {
		all := d.find(text, d.finder())
		if diff := cmp.Diff(all, d.Find(text)); diff != "" {
			t.Errorf("Find(%q) differs from all rules' (-all +subset):\n%s", text, diff)
		}
		if strings.HasPrefix(text, "client") && strings.Contains(text, "acme_secret") && len(all) == 0 {
			t.Errorf("%q: the multi-part rule found nothing", text)
		}
	}
}

// Past maxSubsets sets of rules, texts go to the detector of all rules.
func TestSubsetsBounded(t *testing.T) {
	d, err := New(Config{FingerprintKey: testKey})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range d.findCfg.Rules {
		for _, k := range r.Keywords {
			d.Find("x " + k + " y")
		}
	}
	if len(d.subsets) > maxSubsets {
		t.Errorf("%d subset detectors kept, at most %d", len(d.subsets), maxSubsets)
	}
	for _, text := range corpus() {
		if diff := cmp.Diff(d.find(text, d.finder()), d.Find(text)); diff != "" {
			t.Errorf("Find(%q) differs from all rules' (-all +subset):\n%s", text, diff)
		}
	}
}
