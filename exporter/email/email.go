// Package email exports records as e-mail over SMTP (github.com/wneessen/
// go-mail): one message per batch, its text listing the records and, as
// an attachment, the records in their JSON export form (one per line), so
// that the mail is evidence a program can re-verify.
//
// The Message-ID is made of the log id and the batch's sequence range, so
// a batch sent twice (delivery is at least once) is recognisable as one
// message. Transport security: "tls" connects with TLS (SMTPS, port 465),
// "starttls" (the default) requires STARTTLS, "none" sends in the clear
// and is meant for a relay on the same machine. The password comes from
// the environment, never from flags or the trail, and no message shows
// it.
package email

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/wneessen/go-mail"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/exporter"
)

// Security modes.
const (
	TLS      = "tls"
	StartTLS = "starttls"
	None     = "none"
)

// Config configures the exporter.
type Config struct {
	// Address is the server's host:port.
	Address string
	// Security is TLS, StartTLS (default) or None.
	Security string
	// TLS configures the connection's TLS (server name, CAs).
	TLS *tls.Config
	// Username and Password authenticate (PLAIN, or LOGIN when the
	// server offers only that) when Username is set.
	Username, Password string
	// From and To are the addresses.
	From string
	To   []string
	// Subject starts every subject (default "ami-audit").
	Subject string
	// LogID names the trail in the text and the Message-ID.
	LogID string
	// MaxLines caps the records listed in the text (default 200); the
	// attachment holds them all.
	MaxLines int
	// Timeout bounds a delivery (default 30 s).
	Timeout time.Duration
}

// String describes the configuration without its password.
func (c Config) String() string {
	return fmt.Sprintf("smtp %s (%s) to %s", c.Address, c.Security, strings.Join(c.To, ", "))
}

// Validate checks c and fills its defaults.
func (c *Config) Validate() error {
	if _, port, err := net.SplitHostPort(c.Address); err != nil {
		return fmt.Errorf("email: server %q: %w", c.Address, err)
	} else if _, err := strconv.Atoi(port); err != nil {
		return fmt.Errorf("email: server %q: port %q", c.Address, port)
	}
	switch c.Security {
	case "":
		c.Security = StartTLS
	case TLS, StartTLS, None:
	default:
		return fmt.Errorf("email: security %q: want tls, starttls or none", c.Security)
	}
	if c.From == "" || len(c.To) == 0 {
		return errors.New("email: a sender and at least one recipient are needed")
	}
	if c.Subject == "" {
		c.Subject = "ami-audit"
	}
	if c.MaxLines <= 0 {
		c.MaxLines = 200
	}
	if c.Timeout <= 0 {
		c.Timeout = 30 * time.Second
	}
	return nil
}

// Exporter sends one message per batch.
type Exporter struct {
	cfg Config
}

// New returns an exporter; it connects for each batch.
func New(cfg Config) (*Exporter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Exporter{cfg: cfg}, nil
}

// Close does nothing: each batch has its own connection.
func (e *Exporter) Close() error { return nil }

// Export sends recs as one message.
func (e *Exporter) Export(ctx context.Context, recs []*audit.Record) error {
	if len(recs) == 0 {
		return nil
	}
	m, err := e.Message(recs)
	if err != nil {
		return exporter.Permanent(err)
	}
	host, portText, _ := net.SplitHostPort(e.cfg.Address)
	port, _ := strconv.Atoi(portText)
	opts := []mail.Option{mail.WithPort(port), mail.WithTimeout(e.cfg.Timeout)}
	switch e.cfg.Security {
	case TLS:
		opts = append(opts, mail.WithSSL(), mail.WithTLSPolicy(mail.TLSMandatory))
	case StartTLS:
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	case None:
		opts = append(opts, mail.WithTLSPolicy(mail.NoTLS))
	}
	if e.cfg.TLS != nil {
		opts = append(opts, mail.WithTLSConfig(e.cfg.TLS))
	} else if e.cfg.Security != None {
		opts = append(opts, mail.WithTLSConfig(&tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}))
	}
	if e.cfg.Username != "" {
		opts = append(opts, mail.WithUsername(e.cfg.Username), mail.WithPassword(e.cfg.Password),
			mail.WithOpportunisticSMTPAuth(mail.SMTPAuthPlain, mail.SMTPAuthLogin))
	}
	c, err := mail.NewClient(host, opts...)
	if err != nil {
		return exporter.Permanent(fmt.Errorf("email %s: %w", e.cfg.Address, err))
	}
	if err := c.DialAndSendWithContext(ctx, m); err != nil {
		return fmt.Errorf("email %s: %s", e.cfg.Address, e.clean(err))
	}
	return nil
}

// clean removes the password from an error's text, should a server echo
// it.
func (e *Exporter) clean(err error) string {
	s := err.Error()
	if e.cfg.Password != "" {
		s = strings.ReplaceAll(s, e.cfg.Password, "xxxxx")
	}
	return s
}

// Message is the message of a batch.
func (e *Exporter) Message(recs []*audit.Record) (*mail.Msg, error) {
	first, last := recs[0].Sequence, recs[len(recs)-1].Sequence
	m := mail.NewMsg()
	if err := m.From(e.cfg.From); err != nil {
		return nil, fmt.Errorf("email: sender: %w", err)
	}
	if err := m.To(e.cfg.To...); err != nil {
		return nil, fmt.Errorf("email: recipients: %w", err)
	}
	worst := audit.SeverityDebug
	for _, r := range recs {
		if r.Severity.Rank() > worst.Rank() {
			worst = r.Severity
		}
	}
	noun := "records"
	if len(recs) == 1 {
		noun = "record"
	}
	m.Subject(fmt.Sprintf("%s: %d %s, up to %s (sequence %d–%d)", e.cfg.Subject, len(recs), noun, worst, first, last))
	m.SetMessageIDWithValue(fmt.Sprintf("%s.%d-%d@ami-audit", e.cfg.LogID, first, last))
	m.SetDate()
	var text strings.Builder
	fmt.Fprintf(&text, "%d %s of the audit trail %s, sequence %d to %d.\n\n", len(recs), noun, e.cfg.LogID, first, last)
	for i, r := range recs {
		if i == e.cfg.MaxLines {
			fmt.Fprintf(&text, "… and %d more, in the attachment\n", len(recs)-i)
			break
		}
		fmt.Fprintf(&text, "%d  %s  %-8s %s %s by %s", r.Sequence, r.Timestamp.UTC().Format(time.RFC3339), r.Severity,
			exporter.OneLine(r.Action), exporter.OneLine(r.Target), exporter.OneLine(r.Actor))
		if r.Reason != "" {
			fmt.Fprintf(&text, ": %s", exporter.OneLine(r.Reason))
		}
		text.WriteByte('\n')
	}
	text.WriteString("\nThe attachment holds the records as JSON lines, with their hashes: 'ami-audit verify' and scripts/verify_export.py check them.\n")
	m.SetBodyString(mail.TypeTextPlain, text.String())
	var jl bytes.Buffer
	for _, r := range recs {
		b, err := r.AppendJSON(nil)
		if err != nil {
			return nil, fmt.Errorf("record %d: %w", r.Sequence, err)
		}
		jl.Write(b)
		jl.WriteByte('\n')
	}
	if err := m.AttachReader(fmt.Sprintf("records-%d-%d.jsonl", first, last), &jl); err != nil {
		return nil, err
	}
	return m, nil
}
