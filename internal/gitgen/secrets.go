package gitgen

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Secret is a credential planted in a generated repository. Its value is
// made up (random characters in the credential's format) and works
// nowhere.
type Secret struct {
	Kind  string // what it is, e.g. "AWS access key"
	Rule  string // the detection rule expected to find it (gitleaks' id, or ami-audit's)
	Value string // the secret; tests look for it in everything written
	Repo  string // "." or the submodule's path
	Path  string // the file holding it, relative to Repo
	Line  int    // the 1-based line where it starts
	// Commit added it. InTree: it is still in the working tree at HEAD;
	// otherwise it is only in the history (removed since, or on a branch
	// never merged).
	Commit string
	InTree bool
	Branch string
	// KeyFile: the whole file is a private key.
	KeyFile bool
}

// Decoy is text that looks like a secret and is not one (or is marked as
// accepted): a detector must not report it.
type Decoy struct {
	Kind  string
	Value string
	Path  string
}

// SecretAnswers is what PlantSecrets planted.
type SecretAnswers struct {
	Secrets []Secret
	Decoys  []Decoy
}

// InTree returns the secrets still in the working tree.
func (a *SecretAnswers) InTree() []Secret {
	var out []Secret
	for _, s := range a.Secrets {
		if s.InTree {
			out = append(out, s)
		}
	}
	return out
}

// change is one commit of planted content.
type change struct {
	msg     string
	branch  string            // default main
	from    string            // start a new branch from this ref
	files   map[string]string // path → content
	deletes []string
	secrets []int // indexes in SecretAnswers.Secrets of the secrets it adds
}

// PlantSecrets adds commits to the repository Generate built in dir
// (branch main, and the submodule at lib when there is one): credentials
// of twenty kinds, some left in the working tree, some only in the
// history (a file deleted, a line removed, a branch never merged, the
// submodule's history), and decoys that must not be reported: content
// hashes, commit ids, UUIDs, documented example keys, public keys,
// placeholders and a real-looking token marked "gitleaks:allow".
// The same seed plants the same values.
func PlantSecrets(ctx context.Context, dir string, seed uint64) (*SecretAnswers, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	p := &planter{rng: rand.New(rand.NewPCG(seed, seed^0x51ec7e75)), ans: &SecretAnswers{}}
	rnd := p.random

	awsKey := "AKIA" + rnd("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)
	ghp := "ghp_" + rnd(alnum, 36)
	glpat := "glpat-" + rnd(alnum, 20)
	slack := "xoxb-" + rnd(digits, 11) + "-" + rnd(digits, 12) + "-" + rnd(alnum, 24)
	stripe := "sk_live_" + rnd(alnum, 32)
	npm := "npm_" + rnd(lowerAlnum, 36)
	gcp := "AIza" + rnd(alnum+"_-", 35)
	sendgrid := "SG." + rnd(alnum, 22) + "." + rnd(alnum, 43)
	dbPassword := rnd(alnum, 18)
	rsaKey := pemBlock("RSA PRIVATE KEY", p.rng, 600)
	sshKey := pemBlock("OPENSSH PRIVATE KEY", p.rng, 380)
	noteKey := "PRIVATE+KEY+example.com/log+" + rnd("0123456789abcdef", 8) + "+" + base64.StdEncoding.EncodeToString(p.bytes(33))
	fineGrained := "github_pat_" + rnd(alnum+"_", 82)
	twilio := "SK" + rnd("0123456789abcdef", 32)
	jwt := "eyJ" + rnd(alnum, 30) + ".eyJ" + rnd(alnum, 40) + "." + rnd(alnum+"_-", 43)
	pypi := "pypi-AgEIcHlwaS5vcmc" + rnd(alnum, 70)
	shopify := "shpat_" + rnd("0123456789abcdef", 32)
	ecKey := pemBlock("EC PRIVATE KEY", p.rng, 160)
	doPAT := "dop_v1_" + rnd("0123456789abcdef", 64)
	urlPassword := rnd(alnum, 16)

	allowed := "ghp_" + rnd(alnum, 36)

	// 1. In the working tree.
	tree := change{msg: "Add deployment configuration", files: map[string]string{}}
	p.put(&tree, "config/aws.env", "AWS access key", "aws-access-token", awsKey,
		"# AWS credentials for the deploy job\nAWS_REGION=eu-west-1\nAWS_ACCESS_KEY_ID=%s\n")
	p.put(&tree, "ci/github.env", "GitHub personal access token", "github-pat", ghp,
		"GITHUB_USER=ci-bot\nGITHUB_TOKEN=%s\n")
	p.put(&tree, "ci/gitlab.yml", "GitLab personal access token", "gitlab-pat", glpat,
		"stages: [build]\nvariables:\n  GITLAB_TOKEN: %s\n")
	p.put(&tree, "notify/slack.py", "Slack bot token", "slack-bot-token", slack,
		"import os\n\nSLACK_BOT_TOKEN = \"%s\"\n")
	p.put(&tree, "billing/stripe.js", "Stripe live secret key", "stripe-access-token", stripe,
		"// payments\nconst stripeKey = '%s';\nmodule.exports = stripeKey;\n")
	p.put(&tree, ".npmrc", "npm access token", "npm-access-token", npm,
		"registry=https://registry.npmjs.org/\n//registry.npmjs.org/:_authToken=%s\n")
	p.put(&tree, "web/maps.js", "Google Cloud API key", "gcp-api-key", gcp,
		"export const maps = {\n  apiKey: \"%s\",\n};\n")
	p.put(&tree, "mail/settings.py", "SendGrid API key", "sendgrid-api-token", sendgrid,
		"EMAIL_BACKEND = \"sendgrid\"\nSENDGRID_API_KEY = \"%s\"\n")
	p.put(&tree, ".env.production", "password in a database URL", "url-credentials", dbPassword,
		"DEBUG=false\nDATABASE_URL=postgres://admin:%s@db.internal:5432/app\n")
	p.putFile(&tree, "deploy/id_rsa", "RSA private key", "private-key", rsaKey)
	p.putFile(&tree, "keys/deploy_ed25519", "OpenSSH private key", "private-key", sshKey)
	p.putFile(&tree, "keys/log.key", "C2SP signed-note private key", "c2sp-note-private-key", noteKey+"\n")

	// Decoys, in the same commit.
	decoys := map[string]string{
		"checksums.txt": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855  empty.tar.gz\n" +
			"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08  test.tar.gz\n",
		"CHANGELOG.md":            "## 1.2.0\n\n- Fixed in 9d2ee975ef9fe627bf0a6f01c1f69e8ef1d4f05d (see 3469357cff396a26c363f8c1b5a91dde28ba4b1c).\n",
		"ids.yaml":                "request: 550e8400-e29b-41d4-a716-446655440000\ntrace: 6fa459ea-ee8a-3ca4-894e-db77e160355e\n",
		"docs/aws.md":             "Use a key like AKIAIOSFODNN7EXAMPLE with the secret wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY, as AWS's documentation shows.\n",
		"keys/deploy_ed25519.pub": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGJ3b7y0Pjz5kq0bVqJ9o2J0Yz7kq3Jt5Q9dJ2Xb8K5h ci@example.com\n",
		"config/app.ini":          "[auth]\npassword = ${DB_PASSWORD}\napi_key = <your-api-key>\n",
		"tests/fixture_token.py":  "TOKEN = \"" + allowed + "\"  # gitleaks:allow (a revoked token kept as a test fixture)\n",
	}
	for path, content := range decoys {
		tree.files[path] = content
	}
	p.ans.Decoys = []Decoy{
		{"SHA-256 content hashes", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "checksums.txt"},
		{"git commit ids", "9d2ee975ef9fe627bf0a6f01c1f69e8ef1d4f05d", "CHANGELOG.md"},
		{"UUIDs", "550e8400-e29b-41d4-a716-446655440000", "ids.yaml"},
		{"AWS's documented example key", "AKIAIOSFODNN7EXAMPLE", "docs/aws.md"},
		{"an SSH public key", "AAAAC3NzaC1lZDI1NTE5AAAAIGJ3b7y0Pjz5kq0bVqJ9o2J0Yz7kq3Jt5Q9dJ2Xb8K5h", "keys/deploy_ed25519.pub"},
		{"placeholders", "<your-api-key>", "config/app.ini"},
		{"a token marked gitleaks:allow", allowed, "tests/fixture_token.py"},
	}

	// 2. Only in the history: added, then removed.
	leak := change{msg: "Add release tooling", files: map[string]string{}}
	p.put(&leak, "scripts/release.sh", "GitHub fine-grained token", "github-fine-grained-pat", fineGrained,
		"#!/bin/sh\nexport GH_TOKEN=%s\ngh release create \"$1\"\n")
	p.put(&leak, "sms/twilio.cfg", "Twilio API key", "twilio-api-key", twilio,
		"[twilio]\naccount = AC-main\napi_key = %s\n")
	p.put(&leak, "tests/fixtures/session.txt", "JSON web token", "jwt", jwt,
		"Authorization: Bearer %s\n")
	p.put(&leak, ".pypirc", "PyPI upload token", "pypi-upload-token", pypi,
		"[pypi]\nusername = __token__\npassword = %s\n")
	p.putFile(&leak, "old/signing.pem", "EC private key", "private-key", ecKey)
	p.put(&leak, "tools/fetch.sh", "password in a URL", "url-credentials", urlPassword,
		"#!/bin/sh\ncurl -fsS https://deploy:%s@artifacts.internal/latest.tar.gz -o latest.tar.gz\n")
	clean := change{msg: "Remove credentials from the repository",
		deletes: []string{"scripts/release.sh", "tests/fixtures/session.txt", ".pypirc", "old/signing.pem", "tools/fetch.sh"},
		files:   map[string]string{"sms/twilio.cfg": "[twilio]\naccount = AC-main\napi_key = ${TWILIO_API_KEY}\n"},
	}

	// 3. Only on a branch never merged.
	side := change{msg: "Try the shop integration", branch: "wip-shop", from: "refs/heads/main", files: map[string]string{}}
	p.put(&side, "shop/client.rb", "Shopify access token", "shopify-access-token", shopify,
		"SHOPIFY_TOKEN = '%s'\n")

	for _, c := range []*change{&tree, &leak, &clean, &side} {
		if err := p.commit(ctx, dir, c); err != nil {
			return nil, err
		}
	}
	// The clean-up removed what the leak commit added, except the tree's.
	for i := range p.ans.Secrets {
		s := &p.ans.Secrets[i]
		if s.Branch == "main" && s.Repo == "." {
			s.InTree = s.Commit == p.commits[&tree]
		}
	}

	// 4. In the submodule's history, removed since.
	if hasGit(filepath.Join(dir, "lib")) {
		subLeak := change{msg: "Add the droplet script", files: map[string]string{}}
		p.repo = "lib"
		p.put(&subLeak, "droplet.sh", "DigitalOcean personal access token", "digitalocean-pat", doPAT,
			"#!/bin/sh\nDO_TOKEN=%s doctl compute droplet list\n")
		subClean := change{msg: "Drop the droplet script", deletes: []string{"droplet.sh"}}
		for _, c := range []*change{&subLeak, &subClean} {
			if err := p.commit(ctx, filepath.Join(dir, "lib"), c); err != nil {
				return nil, err
			}
		}
	}
	slices.SortFunc(p.ans.Secrets, func(a, b Secret) int { return strings.Compare(a.Repo+"/"+a.Path, b.Repo+"/"+b.Path) })
	return p.ans, nil
}

const (
	digits     = "0123456789"
	lowerAlnum = "abcdefghijklmnopqrstuvwxyz0123456789"
	alnum      = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
)

type planter struct {
	rng     *rand.Rand
	ans     *SecretAnswers
	repo    string
	commits map[*change]string
	when    time.Time
}

func (p *planter) random(alphabet string, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[p.rng.IntN(len(alphabet))]
	}
	return string(b)
}

func (p *planter) bytes(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(p.rng.UintN(256))
	}
	return b
}

// put writes a file whose content is format with the secret in place of
// %s, and records where the secret is.
func (p *planter) put(c *change, path, kind, rule, value, format string) {
	content := fmt.Sprintf(format, value)
	before, _, _ := strings.Cut(content, value)
	c.files[path] = content
	p.add(c, Secret{Kind: kind, Rule: rule, Value: value, Path: path, Line: strings.Count(before, "\n") + 1})
}

// putFile writes a private key file.
func (p *planter) putFile(c *change, path, kind, rule, key string) {
	c.files[path] = key
	p.add(c, Secret{Kind: kind, Rule: rule, Value: key, Path: path, Line: 1, KeyFile: true})
}

func (p *planter) add(c *change, s Secret) {
	s.Repo = cmpOr(p.repo, ".")
	s.Branch = cmpOr(c.branch, "main")
	s.InTree = false
	p.ans.Secrets = append(p.ans.Secrets, s)
	c.secrets = append(c.secrets, len(p.ans.Secrets)-1)
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// commit writes c as one commit in the repository at dir and fills the
// commit of the secrets it added.
func (p *planter) commit(ctx context.Context, dir string, c *change) error {
	if p.commits == nil {
		p.commits = map[*change]string{}
		p.when = time.Date(2024, 6, 3, 10, 0, 0, 0, time.UTC)
	}
	p.when = p.when.Add(37 * time.Minute)
	branch := cmpOr(c.branch, "main")
	var b bytes.Buffer
	fmt.Fprintf(&b, "commit refs/heads/%s\nmark :1\n", branch)
	fmt.Fprintf(&b, "author Mallory Leak <mallory@example.com> %d +0000\ncommitter Mallory Leak <mallory@example.com> %d +0000\n", p.when.Unix(), p.when.Unix())
	fmt.Fprintf(&b, "data %d\n%s\n", len(c.msg), c.msg)
	fmt.Fprintf(&b, "from %s^0\n", cmpOr(c.from, "refs/heads/"+branch))
	for _, d := range c.deletes {
		fmt.Fprintf(&b, "D %s\n", quote(d))
	}
	paths := make([]string, 0, len(c.files))
	for path := range c.files {
		paths = append(paths, path)
	}
	slices.Sort(paths)
	for _, path := range paths {
		mode := "100644"
		if strings.HasSuffix(path, ".sh") {
			mode = "100755"
		}
		fmt.Fprintf(&b, "M %s inline %s\ndata %d\n%s\n", mode, quote(path), len(c.files[path]), c.files[path])
	}
	b.WriteString("done\n")
	marks := filepath.Join(dir, ".gitgen-secret-marks")
	if gd, err := output(ctx, dir, "rev-parse", "--absolute-git-dir"); err == nil {
		marks = filepath.Join(strings.TrimSpace(string(gd)), "gitgen-secret-marks")
	}
	err := fastImport(ctx, dir, marks, func(w *bufio.Writer) error {
		w.Write(b.Bytes())
		return w.Flush()
	})
	if err != nil {
		return err
	}
	m, err := readMarks(marks)
	if err != nil {
		return err
	}
	p.commits[c] = m[":1"]
	for _, i := range c.secrets {
		p.ans.Secrets[i].Commit = m[":1"]
	}
	return run(ctx, dir, nil, "reset", "-q", "--hard")
}

// pemBlock is a PEM block of random bytes (n of them) under type typ.
func pemBlock(typ string, rng *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.UintN(256))
	}
	s := base64.StdEncoding.EncodeToString(b)
	var out strings.Builder
	out.WriteString("-----BEGIN " + typ + "-----\n")
	for len(s) > 64 {
		out.WriteString(s[:64] + "\n")
		s = s[64:]
	}
	out.WriteString(s + "\n-----END " + typ + "-----\n")
	return out.String()
}

// hasGit reports whether dir is a work tree of its own (a .git there).
func hasGit(dir string) bool {
	_, err := os.Lstat(filepath.Join(dir, ".git"))
	return err == nil
}
