package security

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/analyzer"
	"github.com/ami-orchestrator/ami-audit/internal/gitgen"
	"github.com/ami-orchestrator/ami-audit/internal/memtrail"
	"github.com/ami-orchestrator/ami-audit/secrets"
)

var testFingerprintKey = []byte("security-analyzer-test-key")

func detector(t testing.TB, root string) *secrets.Detector {
	t.Helper()
	cfg := secrets.Config{FingerprintKey: testFingerprintKey}
	if _, err := os.Stat(filepath.Join(root, ".gitleaks.toml")); err == nil {
		cfg.GitleaksConfig = filepath.Join(root, ".gitleaks.toml")
	}
	d, err := secrets.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// planted builds a small history with the planted secrets and decoys.
func planted(t testing.TB) (string, *gitgen.SecretAnswers) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "repo")
	if _, err := gitgen.Generate(t.Context(), dir, gitgen.Options{Commits: 15, SubmoduleCommits: 3}); err != nil {
		t.Fatal(err)
	}
	ans, err := gitgen.PlantSecrets(t.Context(), dir, 3)
	if err != nil {
		t.Fatal(err)
	}
	return dir, ans
}

// where names a finding or a planted secret by file (from the root),
// line and, for the history, commit.
func where(file string, line int, commit string) string {
	return fmt.Sprintf("%s:%d@%.8s", file, line, commit)
}

func secretsOnly() []string { return []string{CheckDependencies, CheckPermissions, CheckPatterns} }

// TestSecretsPrecisionRecall plants credentials of twenty kinds and
// decoys, and requires every credential found (in the tree, and with
// History in every commit of every branch and of the submodule) and
// nothing else.
func TestSecretsPrecisionRecall(t *testing.T) {
	root, ans := planted(t)
	tr := &memtrail.Trail{}
	cfg := Config{Root: root, Detector: detector(t, root), History: true, Skip: secretsOnly()}
	res, a := runSecurity(t, cfg, tr)
	if !slices.Equal(res.Done, []string{CheckSecrets, CheckSecretsHistory}) {
		t.Fatalf("checks done %v, notes %v", res.Done, a.Notes())
	}

	got := map[string][]string{} // check → where
	for _, r := range res.Open {
		commit, _ := r.Context[analyzer.EvidenceCommit].(string)
		file, _ := r.Context[analyzer.EvidenceFile].(string)
		got[r.Context[analyzer.MemberCheck].(string)] = append(got[r.Context[analyzer.MemberCheck].(string)],
			where(file, analyzer.IntMember(r.Context, analyzer.EvidenceLine), commit))
	}
	want := map[string][]string{}
	kinds := map[string]bool{}
	for _, s := range ans.Secrets {
		file := filepath.ToSlash(filepath.Join(s.Repo, s.Path))
		kinds[s.Kind] = true
		want[CheckSecretsHistory] = append(want[CheckSecretsHistory], where(file, s.Line, s.Commit))
		if s.InTree {
			want[CheckSecrets] = append(want[CheckSecrets], where(file, s.Line, ""))
		}
	}
	for check := range want {
		slices.Sort(got[check])
		slices.Sort(want[check])
		var tp, fp, fn []string
		for _, g := range got[check] {
			if slices.Contains(want[check], g) {
				tp = append(tp, g)
			} else {
				fp = append(fp, g)
			}
		}
		for _, w := range want[check] {
			if !slices.Contains(got[check], w) {
				fn = append(fn, w)
			}
		}
		precision := float64(len(tp)) / float64(max(1, len(got[check])))
		recall := float64(len(tp)) / float64(len(want[check]))
		t.Logf("%s: %d planted, %d found: precision %.2f, recall %.2f", check, len(want[check]), len(got[check]), precision, recall)
		if precision != 1 || recall != 1 {
			t.Errorf("%s: precision %.2f, recall %.2f\nfalse positives: %v\nmissed: %v", check, precision, recall, fp, fn)
		}
	}
	if len(kinds) < 15 {
		t.Errorf("only %d kinds planted", len(kinds))
	}

	// Nothing the trail holds carries a secret's value: only rule,
	// location, commit and fingerprint.
	for _, r := range tr.Records() {
		b, err := r.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range ans.Secrets {
			for _, part := range secretParts(s.Value) {
				if strings.Contains(string(b), part) {
					t.Fatalf("record %s holds (part of) the %s planted in %s", r.RecordID, s.Kind, s.Path)
				}
			}
		}
	}

	// Fingerprints are keyed: the same value gives the same fingerprint,
	// which is not a plain hash of it.
	for _, r := range res.Open {
		if r.Context[analyzer.EvidenceRule] == "aws-access-token" {
			var aws gitgen.Secret
			for _, s := range ans.Secrets {
				if s.Rule == "aws-access-token" {
					aws = s
				}
			}
			if r.Context["fingerprint"] != secrets.Fingerprint(testFingerprintKey, aws.Value) {
				t.Errorf("fingerprint %v is not the keyed fingerprint of the secret", r.Context["fingerprint"])
			}
		}
	}
	if st := a.Stats(); st.SecretFiles == 0 {
		t.Errorf("stats %+v", st)
	}
}

// secretParts are the pieces of a secret that must never be written: the
// value itself, and each line of a multi-line key.
func secretParts(v string) []string {
	var out []string
	for l := range strings.Lines(v) {
		l = strings.TrimSpace(l)
		if len(l) >= 16 && !strings.HasPrefix(l, "-----") {
			out = append(out, l)
		}
	}
	if len(out) == 0 {
		out = []string{v}
	}
	return out
}

func TestSecretsRecordedOnceAndResolved(t *testing.T) {
	root, ans := planted(t)
	tr := &memtrail.Trail{}
	cfg := Config{Root: root, Detector: detector(t, root), History: true, Skip: secretsOnly()}
	first, _ := runSecurity(t, cfg, tr)
	n := tr.Len()
	if n != first.New || n == 0 {
		t.Fatalf("first run appended %d records for %d new findings", n, first.New)
	}
	// Unchanged: nothing appended.
	runSecurity(t, cfg, tr)
	if tr.Len() != n {
		t.Fatalf("re-run appended %d records", tr.Len()-n)
	}
	// Removing a secret from the tree resolves its tree finding; the
	// history still holds it, so that finding stays open.
	var aws gitgen.Secret
	for _, s := range ans.Secrets {
		if s.Rule == "aws-access-token" {
			aws = s
		}
	}
	if _, err := gitgen.Commit(t.Context(), root, "Ada", "ada@example.com", time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
		"Read the key from the environment", map[string]string{aws.Path: "AWS_REGION=eu-west-1\nAWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID}\n"}); err != nil {
		t.Fatal(err)
	}
	res, _ := runSecurity(t, cfg, tr)
	want := []string{"security_finding_resolved secret secret|tree|config/aws.env|aws-access-token|" + secrets.Fingerprint(testFingerprintKey, aws.Value) + "|0"}
	if diff := cmp.Diff(keyed(want...), appended(tr, n)); diff != "" {
		t.Errorf("after removing the AWS key (-want +got):\n%s", diff)
	}
	stillOpen := false
	for _, r := range res.Open {
		if r.Context[analyzer.EvidenceRule] == "aws-access-token" && r.Context[analyzer.MemberCheck] == CheckSecretsHistory {
			stillOpen = true
		}
	}
	if !stillOpen {
		t.Error("the history finding of the AWS key was resolved; the history still holds it")
	}
	// Without --history, the history's findings stay as they are.
	n = tr.Len()
	cfg.History = false
	runSecurity(t, cfg, tr)
	if tr.Len() != n {
		t.Errorf("a run without history changed the history findings: %v", appended(tr, n))
	}
}

func TestSecretsBaseline(t *testing.T) {
	root, ans := planted(t)
	var gh, jwt gitgen.Secret
	for _, s := range ans.Secrets {
		switch s.Rule {
		case "github-pat":
			gh = s
		case "jwt":
			jwt = s
		}
	}
	// A gitleaks fingerprint file accepts the GitHub token in the tree
	// (any commit) and the JWT in its commit; .gitleaksignore is read too.
	base := filepath.Join(t.TempDir(), "baseline.txt")
	os.WriteFile(base, []byte(fmt.Sprintf("# accepted\n%s:github-pat:%d\n", gh.Path, gh.Line)), 0o644)
	os.WriteFile(filepath.Join(root, ".gitleaksignore"), []byte(fmt.Sprintf("%s:%s:jwt:%d\n", jwt.Commit, jwt.Path, jwt.Line)), 0o644)
	tr := &memtrail.Trail{}
	res, a := runSecurity(t, Config{Root: root, Detector: detector(t, root), History: true, Baseline: base, Skip: secretsOnly()}, tr)
	for _, r := range res.Open {
		if rule := r.Context[analyzer.EvidenceRule]; rule == "github-pat" || rule == "jwt" {
			t.Errorf("accepted finding reported: %v at %v", rule, analyzer.Location(r))
		}
	}
	if st := a.Stats(); st.Accepted != 3 { // github-pat in the tree and its commit, jwt in its commit
		t.Errorf("%d findings accepted, want 3", st.Accepted)
	}

	// A gitleaks JSON report (here with --redact) is a baseline too.
	report := filepath.Join(t.TempDir(), "gitleaks.json")
	os.WriteFile(report, []byte(fmt.Sprintf(`[{"RuleID":"jwt","File":%q,"Commit":%q,"StartLine":%d,"Secret":"REDACTED"}]`, jwt.Path, jwt.Commit, jwt.Line)), 0o644)
	os.Remove(filepath.Join(root, ".gitleaksignore"))
	_, a = runSecurity(t, Config{Root: root, Detector: detector(t, root), History: true, Baseline: report, Skip: secretsOnly()}, &memtrail.Trail{})
	if st := a.Stats(); st.Accepted != 1 {
		t.Errorf("gitleaks report baseline: %d accepted, want 1", st.Accepted)
	}

	// A broken baseline is an error naming the file and line.
	bad := filepath.Join(t.TempDir(), "bad.txt")
	os.WriteFile(bad, []byte("ok:rule:1\nnot a fingerprint\n"), 0o644)
	_, a = runSecurity(t, Config{Root: root, Detector: detector(t, root), Baseline: bad, Skip: secretsOnly()}, &memtrail.Trail{})
	if !slices.ContainsFunc(a.Notes(), func(s string) bool { return strings.Contains(s, bad+":2") }) {
		t.Errorf("notes %v", a.Notes())
	}
}

func TestPrivateKeyFiles(t *testing.T) {
	root := t.TempDir()
	write(t, root, map[string]string{"README.md": "nothing here\n"})
	// A binary (DER) key no text rule reads is still a private key file.
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(root, "key.der"), der, 0o600)
	tr := &memtrail.Trail{}
	res, _ := runSecurity(t, Config{Root: root, Detector: detector(t, root), Skip: secretsOnly()}, tr)
	if len(res.Open) != 1 || res.Open[0].Findings[0].FindingType != TypePrivateKey || res.Open[0].Target != "key.der" ||
		res.Open[0].Context[analyzer.EvidenceRule] != "private-key-file" {
		t.Errorf("findings %v", res.Open)
	}
}

// The repository's .gitleaks.toml decides, as it does for gitleaks: here
// it extends the default rules and allowlists the config/ directory, so
// the AWS key planted there is passed over, in the tree and the history.
func TestRepositoryGitleaksConfig(t *testing.T) {
	root, ans := planted(t)
	os.WriteFile(filepath.Join(root, ".gitleaks.toml"), []byte("[extend]\nuseDefault = true\n[allowlist]\npaths = ['''^config/''']\n"), 0o644)
	tr := &memtrail.Trail{}
	res, _ := runSecurity(t, Config{Root: root, Detector: detector(t, root), History: true, Skip: secretsOnly()}, tr)
	n := 0
	for _, r := range res.Open {
		if strings.HasPrefix(analyzer.Location(r), "config/") {
			t.Errorf("finding in an allowlisted path: %s", analyzer.Location(r))
		}
		n++
	}
	aws := 0
	for _, s := range ans.Secrets {
		if strings.HasPrefix(s.Path, "config/") {
			aws++
		}
	}
	if want := len(ans.Secrets) + len(ans.InTree()) - 2*aws; n != want {
		t.Errorf("%d findings, want %d", n, want)
	}
}

// A secret found twice on one line of a commit is one finding, and the
// other secrets of that commit are all found, on every run: the detector
// reports a text's secrets in any order, and a second report of the same
// finding used to end the scan of the commit's file there.
func TestSecretTwiceOnALine(t *testing.T) {
	root := filepath.Join(t.TempDir(), "repo")
	if _, err := gitgen.Generate(t.Context(), root, gitgen.Options{Commits: 3, SubmoduleCommits: -1}); err != nil {
		t.Fatal(err)
	}
	const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	token := func(i int) string {
		b := []byte("ghp_")
		for j := range 36 {
			b = append(b, alnum[(i*7+j*13+j*j)%len(alnum)])
		}
		return string(b)
	}
	var text strings.Builder
	fmt.Fprintf(&text, "first = %q; again = %q\n", token(0), token(0))
	for i := 1; i <= 8; i++ {
		fmt.Fprintf(&text, "token_%d = %q\n", i, token(i))
	}
	if _, err := gitgen.Commit(t.Context(), root, "Ada", "ada@example.com", time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
		"Add tokens", map[string]string{"conf/tokens.py": text.String()}); err != nil {
		t.Fatal(err)
	}
	// In the working tree, one secret on two lines: two findings of one
	// rule (generic-api-key), each keeping its line from run to run.
	dup := "password=Zq8vT3mW9xK2pL7n\nB=1\nurl=https://db.example.org/app?password=Zq8vT3mW9xK2pL7n\n"
	if err := os.WriteFile(filepath.Join(root, "dup.env"), []byte(dup), 0o644); err != nil {
		t.Fatal(err)
	}
	tr := &memtrail.Trail{}
	cfg := Config{Root: root, Detector: detector(t, root), History: true, Skip: secretsOnly()}
	for run := range 5 {
		res, _ := runSecurity(t, cfg, tr)
		var lines []int
		for _, r := range res.Open {
			if r.Context[analyzer.MemberCheck] == CheckSecretsHistory && r.Context[analyzer.EvidenceFile] == "conf/tokens.py" {
				lines = append(lines, int(audit.Int(r.Context, analyzer.EvidenceLine)))
			}
		}
		slices.Sort(lines)
		if diff := cmp.Diff([]int{1, 2, 3, 4, 5, 6, 7, 8, 9}, lines); diff != "" {
			t.Fatalf("run %d: lines of the open history findings (-want +got):\n%s", run, diff)
		}
		if run > 0 && res.New+res.Changed+res.Resolved != 0 {
			t.Fatalf("run %d on unchanged input: %d new, %d changed, %d resolved", run, res.New, res.Changed, res.Resolved)
		}
	}
}
