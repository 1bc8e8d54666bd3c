package store

import (
	"net/url"
	"regexp"
	"strings"
)

// redacted replaces a credential in what Redact returns.
const redacted = "xxxxx"

// secretParams are query parameters (and libpq keywords) that carry a
// credential.
var secretParams = map[string]bool{
	"password": true, "passwd": true, "pass": true, "pwd": true, "sslpassword": true,
	"secret": true, "client_secret": true, "token": true, "access_token": true, "auth_token": true,
	"api_key": true, "apikey": true, "auth": true,
}

// Redact returns loc, a store or cache URL, with every credential replaced
// by "xxxxx", for messages: the password of the user information, the
// values of password-like query parameters (?password=, also
// percent-encoded) and libpq keyword settings (password=… in
// "host=db password=…"). A URL that does not parse is redacted by its text.
func Redact(loc string) string {
	u, err := url.Parse(loc)
	if err != nil || u.Scheme == "" || u.Opaque != "" {
		return redactText(loc)
	}
	if u.User != nil {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), redacted)
		}
	}
	if u.RawQuery != "" {
		q, err := url.ParseQuery(u.RawQuery)
		if err != nil {
			return redactText(loc)
		}
		changed := false
		for k, vs := range q {
			if secretParams[strings.ToLower(k)] {
				for i := range vs {
					vs[i] = redacted
				}
				changed = true
			}
		}
		if changed {
			u.RawQuery = q.Encode()
		}
	}
	if u.Fragment != "" {
		u.Fragment = redactText(u.Fragment)
	}
	return u.String()
}

var (
	userinfoPW = regexp.MustCompile(`(?i)(\b[a-z][a-z0-9+.\-]*://[^\s:@/?#]*:)[^\s@/?#]*@`)
	keywordPW  = regexp.MustCompile(`(?i)((?:^|[\s?&;])(?:[a-z_]|%[0-9a-f]{2})*(?:password|passwd|pass|pwd|secret|token|api_?key|auth)(?:[a-z_]|%[0-9a-f]{2})*\s*=\s*)('[^']*'|"[^"]*"|[^\s&;#]*)`)
)

// redactText redacts credentials from text that is not a URL url.Parse
// accepts: a libpq keyword string, or a malformed URL.
func redactText(s string) string {
	s = userinfoPW.ReplaceAllString(s, "${1}"+redacted+"@")
	return keywordPW.ReplaceAllString(s, "${1}"+redacted)
}

// StripCredentials returns loc without its credentials (the password of
// the user information and password-like query parameters), and whether
// there were any: what may be written to a configuration file. The
// password then comes from where the backend's driver finds it (for
// PostgreSQL, PGPASSWORD or ~/.pgpass). A location that does not parse is
// returned unchanged, with found reporting whether Redact would change it.
func StripCredentials(loc string) (stripped string, found bool) {
	u, err := url.Parse(loc)
	if err != nil || u.Scheme == "" || u.Opaque != "" {
		return loc, Redact(loc) != loc
	}
	if u.User != nil {
		if _, has := u.User.Password(); has {
			u.User = url.User(u.User.Username())
			found = true
		}
	}
	if u.RawQuery != "" {
		q, err := url.ParseQuery(u.RawQuery)
		if err != nil {
			return loc, true
		}
		for k := range q {
			if secretParams[strings.ToLower(k)] {
				q.Del(k)
				found = true
			}
		}
		if found {
			u.RawQuery = q.Encode()
		}
	}
	return u.String(), found
}

// Secrets lists the credential values loc holds (raw and decoded), so that
// an error message that echoes them in any form can be cleaned.
func Secrets(loc string) []string {
	var out []string
	add := func(s string) {
		if len(s) >= 3 {
			out = append(out, s)
			if d, err := url.QueryUnescape(s); err == nil && d != s {
				out = append(out, d)
			}
			if e := url.QueryEscape(s); e != s {
				out = append(out, e)
			}
		}
	}
	if u, err := url.Parse(loc); err == nil && u.Scheme != "" {
		if u.User != nil {
			if pw, has := u.User.Password(); has {
				add(pw)
			}
		}
		if q, err := url.ParseQuery(u.RawQuery); err == nil {
			for k, vs := range q {
				if secretParams[strings.ToLower(k)] {
					for _, v := range vs {
						add(v)
					}
				}
			}
		}
	}
	for _, m := range userinfoPW.FindAllStringSubmatchIndex(loc, -1) {
		add(loc[m[3]:strings.LastIndexByte(loc[:m[1]], '@')])
	}
	for _, m := range keywordPW.FindAllStringSubmatch(loc, -1) {
		add(strings.Trim(m[2], `'"`))
	}
	return out
}

// RedactError returns err's message with every credential of loc
// replaced, whatever form the message echoes it in (pgx and other drivers
// may quote the connection string).
func RedactError(err error, loc string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	clean := strings.ReplaceAll(msg, loc, Redact(loc))
	for _, s := range Secrets(loc) {
		clean = strings.ReplaceAll(clean, s, redacted)
	}
	if clean == msg {
		return err
	}
	return redactedError{msg: clean, err: err}
}

// redactedError keeps the wrapped error for errors.Is and errors.As, and
// shows only the cleaned message.
type redactedError struct {
	msg string
	err error
}

func (e redactedError) Error() string { return e.msg }
func (e redactedError) Unwrap() error { return e.err }
