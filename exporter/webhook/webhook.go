// Package webhook exports records to an HTTP endpoint: one POST of JSON
// per batch. Payloads:
//
//   - "json": {"log_id": …, "first_sequence": …, "last_sequence": …,
//     "records": [record, …]}, each record in its JSON export form;
//   - "ocsf": the same envelope with "events": [OCSF event, …];
//   - "slack": {"text": …}, a Slack-compatible incoming-webhook message
//     (Mattermost and Rocket.Chat take it too) listing the records, at
//     most MaxLines of them.
//
// Every request carries an Idempotency-Key (log id and sequence range), by
// which a receiver drops a batch it already took (delivery is at least
// once), a bearer token when Config.Token is set, and, when Config.Secret
// is set, X-Ami-Audit-Signature: sha256=HMAC-SHA256(secret, body) in hex,
// by which the receiver authenticates the sender. Token and secret come
// from the environment, never from flags; messages never show the URL's
// path or query (for chat webhooks, they are the credential).
//
// A 2xx answer is delivery; 408, 425, 429 and 5xx answers and network
// errors are tried again; any other answer is a permanent refusal.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/exporter"
)

// Payloads.
const (
	PayloadJSON  = "json"
	PayloadOCSF  = "ocsf"
	PayloadSlack = "slack"
)

// MaxLines is the most records a Slack message lists.
const MaxLines = 40

// Config configures the exporter.
type Config struct {
	// URL is the endpoint (http or https).
	URL string
	// Payload is PayloadJSON (default), PayloadOCSF or PayloadSlack.
	Payload string
	// Encoder encodes the OCSF events (with the log id).
	Encoder exporter.Encoder
	// Token is sent as "Authorization: Bearer TOKEN" when set.
	Token string
	// Secret keys the body's signature when set.
	Secret string
	// LogID goes into the envelope and the idempotency key.
	LogID string
	// Client sends the requests (default: one with Timeout).
	Client *http.Client
	// Timeout bounds a request (default 30 s).
	Timeout time.Duration
}

// String describes the configuration without its secrets.
func (c Config) String() string {
	return fmt.Sprintf("webhook %s (%s)", exporter.Redact(c.URL), c.Payload)
}

// Validate checks c and fills its defaults.
func (c *Config) Validate() error {
	u, err := url.Parse(c.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("webhook: %s is not an http or https URL", exporter.Redact(c.URL))
	}
	switch c.Payload {
	case "":
		c.Payload = PayloadJSON
	case PayloadJSON, PayloadOCSF, PayloadSlack:
	default:
		return fmt.Errorf("webhook: payload %q: want json, ocsf or slack", c.Payload)
	}
	if c.Payload == PayloadOCSF && c.Encoder == nil {
		return errors.New("webhook: the ocsf payload needs its encoder")
	}
	if c.Timeout <= 0 {
		c.Timeout = 30 * time.Second
	}
	if c.Client == nil {
		c.Client = &http.Client{Timeout: c.Timeout}
	}
	return nil
}

// Exporter posts batches. It is used by one goroutine at a time.
type Exporter struct{ cfg Config }

// New returns an exporter.
func New(cfg Config) (*Exporter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Exporter{cfg: cfg}, nil
}

// Close does nothing: connections are the client's.
func (e *Exporter) Close() error { return nil }

// Export posts recs in one request.
func (e *Exporter) Export(ctx context.Context, recs []*audit.Record) error {
	if len(recs) == 0 {
		return nil
	}
	body, err := e.Body(recs)
	if err != nil {
		return exporter.Permanent(err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return exporter.Permanent(fmt.Errorf("webhook %s: %v", exporter.Redact(e.cfg.URL), errors.Unwrap(err)))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "ami-audit")
	req.Header.Set("Idempotency-Key", fmt.Sprintf("%s-%d-%d", e.cfg.LogID, recs[0].Sequence, recs[len(recs)-1].Sequence))
	if e.cfg.Token != "" {
		req.Header.Set("Authorization", "Bearer "+e.cfg.Token)
	}
	if e.cfg.Secret != "" {
		req.Header.Set("X-Ami-Audit-Signature", "sha256="+Sign(e.cfg.Secret, body))
	}
	resp, err := e.cfg.Client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its message holds the URL
		}
		return fmt.Errorf("webhook %s: %v", exporter.Redact(e.cfg.URL), err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch c := resp.StatusCode; {
	case c >= 200 && c < 300:
		return nil
	case c == http.StatusRequestTimeout, c == http.StatusTooEarly, c == http.StatusTooManyRequests, c >= 500:
		return fmt.Errorf("webhook %s: %s", exporter.Redact(e.cfg.URL), resp.Status)
	default:
		return exporter.Permanent(fmt.Errorf("webhook %s: %s", exporter.Redact(e.cfg.URL), resp.Status))
	}
}

// Sign is the hex HMAC-SHA256 of body under secret, as the signature
// header carries it.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// Body is the request body of a batch.
func (e *Exporter) Body(recs []*audit.Record) ([]byte, error) {
	if e.cfg.Payload == PayloadSlack {
		return json.Marshal(map[string]string{"text": SlackText(recs)})
	}
	var b bytes.Buffer
	b.WriteString(`{"log_id":`)
	id, _ := json.Marshal(e.cfg.LogID)
	b.Write(id)
	b.WriteString(`,"first_sequence":` + strconv.FormatUint(recs[0].Sequence, 10))
	b.WriteString(`,"last_sequence":` + strconv.FormatUint(recs[len(recs)-1].Sequence, 10))
	enc := exporter.Encoder(exporter.JSON)
	if e.cfg.Payload == PayloadOCSF {
		b.WriteString(`,"events":[`)
		enc = e.cfg.Encoder
	} else {
		b.WriteString(`,"records":[`)
	}
	for i, r := range recs {
		if i > 0 {
			b.WriteByte(',')
		}
		out, err := enc(b.AvailableBuffer(), r)
		if err != nil {
			return nil, fmt.Errorf("record %d: %w", r.Sequence, err)
		}
		b.Write(out)
	}
	b.WriteString("]}")
	return b.Bytes(), nil
}

// SlackText is the message listing recs: one line each, at most MaxLines.
func SlackText(recs []*audit.Record) string {
	var b strings.Builder
	fmt.Fprintf(&b, "ami-audit: %d record", len(recs))
	if len(recs) != 1 {
		b.WriteString("s")
	}
	fmt.Fprintf(&b, " (sequence %d–%d)\n", recs[0].Sequence, recs[len(recs)-1].Sequence)
	for i, r := range recs {
		if i == MaxLines {
			fmt.Fprintf(&b, "… and %d more\n", len(recs)-MaxLines)
			break
		}
		fmt.Fprintf(&b, "• [%s] %s %s by %s", r.Severity, escape(r.Action), escape(r.Target), escape(r.Actor))
		if r.Reason != "" {
			fmt.Fprintf(&b, ": %s", escape(exporter.OneLine(r.Reason)))
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// escape applies Slack's escaping of &, < and >.
func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
