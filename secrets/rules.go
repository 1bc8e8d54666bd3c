package secrets

import (
	"regexp"

	"github.com/zricethezav/gitleaks/v8/config"
)

// ownRule is a detection rule gitleaks' default set lacks. Each carries
// examples that must and must not be found; a test checks them.
type ownRule struct {
	ID          string
	Description string
	Regex       string
	// SecretGroup is the capture group holding the secret; 0 means the
	// whole match.
	SecretGroup int
	Keywords    []string
	// Allow lists regular expressions of secrets that are not secrets
	// (placeholders, plain words); AllowMatch the same for whole matches.
	Allow, AllowMatch []string
	// Entropy is the least Shannon entropy of a secret (0: any).
	Entropy float64

	// True are texts holding a secret, with the secret each must find.
	True []example
	// False are texts holding no secret of this kind.
	False []string
}

type example struct {
	Text, Secret string
}

// placeholders are values that stand for a secret without being one.
const placeholders = `^(?:\*+|x{3,}|X{3,}|\$\{?[A-Za-z_][A-Za-z0-9_]*\}?|<[^>]*>|\{\{[^}]*\}\}|%\(?[A-Za-z_]*\)?s|\.\.\.|…)$`

// ownRules are ami-audit's additions to gitleaks' rules.
var ownRules = []ownRule{
	{
		ID:          "url-credentials",
		Description: "A password in the user information of a URL (scheme://user:password@host).",
		// The password may hold percent-escapes; '/' is excluded so that
		// "http://host:8080/@scope/pkg" (a port, then a path) is no match.
		Regex:       `(?i)\b[a-z][a-z0-9+.\-]{1,30}://[^\s:@/?#'"<>\\]*:([^\s@/?#'"<>\\]+)@[^\s@/?#'"<>\\]`,
		SecretGroup: 1,
		Keywords:    []string{"://"},
		Allow:       []string{placeholders},
		True: []example{
			{"connect postgres://admin:S3cret@db.example.com:5432/app", "S3cret"},
			{"redis://:hunter2@cache:6379/0", "hunter2"},
			{"url=https://ci:p%40ss%2Fw0rd@git.example.com/repo.git", "p%40ss%2Fw0rd"},
			{`"dsn": "mysql://root:r00tpw@tcp(127.0.0.1:3306)/db"`, "r00tpw"},
			{"AMQP_URL=amqps://guest:G7x!q@rabbit/vhost", "G7x!q"},
		},
		False: []string{
			"postgres://admin@db.example.com:5432/app",
			"http://localhost:4873/@babel/core",
			"postgres://u:${PGPASSWORD}@db/app",
			"postgres://u:****@db/app",
			"see https://example.com/a:b@c for details",
			"time 12:30 @home",
		},
	},
	{
		ID:          "url-password-parameter",
		Description: "A password, token or key given as a URL query parameter (?password=…).",
		Regex:       `(?i)[?&;](?:password|passwd|pwd|pass|secret|client_secret|token|access_token|auth_token|api_key|apikey|sslpassword)=([^\s&#'"<>]{3,})`,
		SecretGroup: 1,
		Keywords:    []string{"password=", "passwd=", "pwd=", "pass=", "secret=", "token=", "key=", "sslpassword="},
		Allow:       []string{placeholders},
		True: []example{
			{"postgres://u@db/app?sslmode=disable&password=TopSecretPW", "TopSecretPW"},
			{"https://api.example.com/v1/items?api_key=9f8e7d6c5b4a", "9f8e7d6c5b4a"},
			{"GET /login?user=bob&pwd=p%40ssw0rd HTTP/1.1", "p%40ssw0rd"},
			{"redis://cache:6379/0?password=hunter22", "hunter22"},
		},
		False: []string{
			"GET /search?q=password&page=2",
			"https://example.com/reset?token=",
			"postgres://u@db/app?password=${PGPASSWORD}",
			"a?b=c&d=e",
		},
	},
	{
		ID:          "authorization-header",
		Description: "A bearer or basic credential in an Authorization header.",
		Regex:       `(?i)\b(?:bearer|basic)\s+([A-Za-z0-9\-._~+/]{8,}=*)`,
		SecretGroup: 1,
		Keywords:    []string{"bearer", "basic"},
		// a plain word after "bearer" is prose, not a token
		Allow: []string{`^[A-Za-z]+$`, placeholders},
		True: []example{
			{"Authorization: Bearer abcdef0123456789abcdefXYZ", "abcdef0123456789abcdefXYZ"},
			{`curl -H "authorization: basic dXNlcjpwYXNzd29yZDEyMw==" https://x`, "dXNlcjpwYXNzd29yZDEyMw=="},
			{"sent header bearer 4f3c2b1a-99aa-4d2e-8f00-123456789abc", "4f3c2b1a-99aa-4d2e-8f00-123456789abc"},
		},
		False: []string{
			"the bearer of this message",
			"Bearer instrument",
			"basic authentication failed",
			"Authorization: Bearer <token>",
		},
	},
	{
		ID:          "password-assignment",
		Description: "A value given to a password, secret or token setting (password=…, \"secret\": \"…\").",
		// quoted values after '=' or ':', bare values after '=' or ':'
		Regex: `(?i)(?:^|[^A-Za-z0-9])(?:password|passwd|passphrase|pwd|secret|client_secret|secret_key|api_key|apikey|access_token|auth_token|refresh_token|private_key)["']?\s*[:=]\s*(?:"([^"\s]{4,})"|'([^'\s]{4,})'|([^\s"',;&}\]]{4,}))`,
		// the value is the first group that matched: double-quoted,
		// single-quoted or bare
		Keywords: []string{"pass", "pwd", "secret", "api_key", "apikey", "token", "private_key"},
		Allow:    []string{placeholders, `^[0-9]{1,3}$`, `(?i)^(?:null|nil|none|true|false|undefined|empty|redacted|required|optional|string|secret|password|token)$`},
		// a bare word after a colon is more often prose ("password:
		// reset") than a password
		AllowMatch: []string{`:\s*[A-Za-z_.-]+$`},
		True: []example{
			{"login failed password=hunter2", "hunter2"},
			{"login failed password=changeme", "changeme"},
			{`{"user":"bob","password":"Tr0ub4dor&3"}`, "Tr0ub4dor&3"},
			{`{"secret": "letmein"}`, "letmein"},
			{"DB_PASSWORD: s3cr3t!", "s3cr3t!"},
			{"client_secret = 8f7e6d5c4b", "8f7e6d5c4b"},
		},
		False: []string{
			"password: reset",
			"Fix password: validation of length",
			"password=${DB_PASSWORD}",
			"password: ****",
			`"password": null`,
			"reset your password: see docs",
			"passwordless login enabled",
		},
	},
	{
		ID:          "aws-secret-near-key-id",
		Description: "An AWS secret access key written next to its access key id, without a name that says what it is.",
		// 40 base64 characters within 80 of an access key id, before or
		// after it; hex (a SHA-1) has too little entropy
		Regex:    `(?:(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}[^\n]{0,80}?(?:^|[^A-Za-z0-9/+])([A-Za-z0-9/+]{40})(?:[^A-Za-z0-9/+=]|$))|(?:(?:^|[^A-Za-z0-9/+])([A-Za-z0-9/+]{40})(?:[^A-Za-z0-9/+=]|$)[^\n]{0,80}?(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16})`,
		Keywords: []string{"akia", "asia", "abia", "acca", "a3t"},
		Entropy:  4.2,
		// AWS's documentation writes its example pair (…EXAMPLE,
		// …EXAMPLEKEY) everywhere; gitleaks passes over its key id too
		Allow: []string{`EXAMPLE`},
		True: []example{
			{"using AKIAQ7XPL3MN4RT5VW6Y / q8Lk2Jd9Fh3Ns7Xz1Cv5Bm0Pw4Rt6Yu8Io2Ea9Sd", "q8Lk2Jd9Fh3Ns7Xz1Cv5Bm0Pw4Rt6Yu8Io2Ea9Sd"},
			{"creds q8Lk2Jd9Fh3Ns7Xz1Cv5Bm0Pw4Rt6Yu8Io2Ea9Sd for AKIAQ7XPL3MN4RT5VW6Y", "q8Lk2Jd9Fh3Ns7Xz1Cv5Bm0Pw4Rt6Yu8Io2Ea9Sd"},
			// the line break right after the id counts as a separator
			{"AKIAQ7XPL3MN4RT5VW6Y\nq8Lk2Jd9Fh3Ns7Xz1Cv5Bm0Pw4Rt6Yu8Io2Ea9Sd", "q8Lk2Jd9Fh3Ns7Xz1Cv5Bm0Pw4Rt6Yu8Io2Ea9Sd"},
		},
		False: []string{
			"key AKIAQ7XPL3MN4RT5VW6Y commit 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b",
			"AWS's example: AKIAIOSFODNN7EXAMPLE with wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
			"q8Lk2Jd9Fh3Ns7Xz1Cv5Bm0Pw4Rt6Yu8Io2Ea9Sd alone on a line",
			"AKIAQ7XPL3MN4RT5VW6Y then a long way further, more than eighty characters of text later, in another sentence: q8Lk2Jd9Fh3Ns7Xz1Cv5Bm0Pw4Rt6Yu8Io2Ea9Sd",
		},
	},
	{
		ID:          "note-private-key",
		Description: "A C2SP signed-note private key (PRIVATE+KEY+name+hash+key).",
		Regex:       `PRIVATE\+KEY\+[^+\s]+\+[0-9a-fA-F]{8}\+[A-Za-z0-9+/]+=*`,
		Keywords:    []string{"private+key+"},
		True: []example{
			{"key PRIVATE+KEY+ami-audit.local/x+1a2b3c4d+AYH0E7p7sGdrZf9sIbbPw5Eq9UXbqB0HWc8HX2y8WuQS here",
				"PRIVATE+KEY+ami-audit.local/x+1a2b3c4d+AYH0E7p7sGdrZf9sIbbPw5Eq9UXbqB0HWc8HX2y8WuQS"},
		},
		False: []string{
			"ami-audit.local/x+1a2b3c4d+AYH0E7p7sGdrZf9sIbbPw5Eq9UXbqB0HWc8HX2y8WuQS",
			"PRIVATE+KEY+ files are written 0600",
		},
	},
	{
		ID:          "private-key-block",
		Description: "A PEM private key block, also one cut short before its END line.",
		Regex:       `-----BEGIN[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----(?:[\s\S]*?-----END[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----|[\s\S]*)`,
		Keywords:    []string{"private key"},
		True: []example{
			{"key: -----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun…",
				"-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun…"},
			{"-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIB\n-----END EC PRIVATE KEY-----\ntrailer",
				"-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIB\n-----END EC PRIVATE KEY-----"},
		},
		False: []string{
			"-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----",
			"a private key must never be committed",
		},
	},
}

// compile turns r into a gitleaks rule.
func (r ownRule) compile() (config.Rule, error) {
	re, err := regexp.Compile(r.Regex)
	if err != nil {
		return config.Rule{}, err
	}
	cr := config.Rule{
		RuleID:      r.ID,
		Description: r.Description,
		Regex:       re,
		SecretGroup: r.SecretGroup,
		Entropy:     r.Entropy,
		Keywords:    r.Keywords,
		Tags:        []string{"ami-audit"},
	}
	for _, a := range []struct {
		target string
		res    []string
	}{{"", r.Allow}, {"match", r.AllowMatch}} {
		if len(a.res) == 0 {
			continue
		}
		al := &config.Allowlist{Description: r.ID + " placeholders", MatchCondition: config.AllowlistMatchOr, RegexTarget: a.target}
		for _, x := range a.res {
			re, err := regexp.Compile(x)
			if err != nil {
				return config.Rule{}, err
			}
			al.Regexes = append(al.Regexes, re)
		}
		cr.Allowlists = append(cr.Allowlists, al)
	}
	return cr, cr.Validate()
}
