package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/exporter"
	"github.com/ami-orchestrator/ami-audit/exporter/cef"
	"github.com/ami-orchestrator/ami-audit/exporter/email"
	"github.com/ami-orchestrator/ami-audit/exporter/gitcommit"
	"github.com/ami-orchestrator/ami-audit/exporter/ocsf"
	"github.com/ami-orchestrator/ami-audit/exporter/syslog"
	"github.com/ami-orchestrator/ami-audit/exporter/webhook"
	"github.com/ami-orchestrator/ami-audit/internal/plural"
)

// Environment variables exporters read their secrets (and secret URLs)
// from: never flags, which other users see in ps.
const (
	envWebhookURL    = "AMI_AUDIT_WEBHOOK_URL"
	envWebhookToken  = "AMI_AUDIT_WEBHOOK_TOKEN"
	envWebhookSecret = "AMI_AUDIT_WEBHOOK_SECRET"
	envSlackURL      = "AMI_AUDIT_SLACK_WEBHOOK_URL"
	envSMTPURL       = "AMI_AUDIT_SMTP_URL"
	envSMTPPassword  = "AMI_AUDIT_SMTP_PASSWORD"
)

// exportersDir holds the exporters' cursors in the trail's directory.
const exportersDir = "exporters"

// exportToFlags are the flags of "export --to".
type exportToFlags struct {
	to, url, format        string
	follow                 bool
	poll                   time.Duration
	cursor                 string
	batch                  int
	tlsCA, tlsCert, tlsKey string
	smtp, mailFrom         string
	gitDir                 string
}

// destination is a parsed --to.
type destination struct {
	scheme string   // registry key
	raw    string   // as given
	u      *url.URL // parsed, when it is a URL
}

// exporterFactory builds the exporter of a destination.
type exporterFactory func(a *App, d destination, f exportToFlags, enc exporter.Encoder, logID, origin string) (exporter.Exporter, string, error)

// exporterRegistry lists the destinations "export --to" knows, by scheme.
// It is the one place an exporter is made available to the command line.
func (a *App) exporterRegistry() map[string]exporterFactory {
	return map[string]exporterFactory{
		"syslog":     syslogExporter,
		"syslog+tls": syslogExporter,
		"syslog+udp": syslogExporter,
		"webhook":    webhookExporter,
		"http":       webhookExporter,
		"https":      webhookExporter,
		"slack":      webhookExporter,
		"mailto":     emailExporter,
		"git":        gitExporter,
	}
}

func parseDestination(to string) destination {
	d := destination{raw: to}
	if u, err := url.Parse(to); err == nil && u.Scheme != "" {
		d.u, d.scheme = u, strings.ToLower(u.Scheme)
		return d
	}
	d.scheme = strings.ToLower(to)
	return d
}

// encoders are the message formats of --format with --to.
func encoderFor(format, logID string) (exporter.Encoder, error) {
	switch format {
	case "", "json", "jsonl":
		return exporter.JSON, nil
	case "cef":
		return cef.Encode, nil
	case "ocsf":
		return ocsf.Encoder(logID), nil
	case "slack":
		return nil, nil // the webhook's payload
	}
	return nil, usagef("--format %q with --to: want json, cef, ocsf (or slack for a webhook)", format)
}

func (a *App) runExportTo(ctx context.Context, f exportToFlags, filter audit.Filter) error {
	reg := a.exporterRegistry()
	d := parseDestination(f.to)
	build := reg[d.scheme]
	if build == nil {
		var names []string
		for k := range reg {
			names = append(names, k)
		}
		sort.Strings(names)
		return withHint(usagef("--to %s: unknown destination", exporter.Redact(f.to)), "destinations: "+strings.Join(names, ", ")+" (see 'ami-audit export --help')")
	}
	t, err := a.openTrail(ctx, true)
	if err != nil {
		return err
	}
	id := t.Identity()
	enc, err := encoderFor(f.format, id.LogID)
	if err != nil {
		return err
	}
	ex, dest, err := build(a, d, f, enc, id.LogID, id.Origin)
	if err != nil {
		return err
	}
	defer ex.Close()
	cursorPath := f.cursor
	if cursorPath == "" {
		if !statIsDir(a.auditDir) {
			return withHint(usagef("no trail directory for the exporter's cursor"), "give --cursor FILE")
		}
		cursorPath = filepath.Join(a.auditDir, exportersDir, exporter.CursorName(id.LogID, f.to)+".cursor")
	}
	filter.Limit, filter.Newest = 0, false
	run := &exporter.Runner{
		Store: t.Store(), Exporter: ex, Dest: dest,
		Cursor: &exporter.Cursor{Path: cursorPath, LogID: id.LogID, Dest: dest},
		Filter: filter, BatchSize: f.batch, Follow: f.follow, Poll: f.poll,
		OnRetry: func(err error, wait time.Duration) {
			a.notice("%v; trying again in %s", err, wait.Round(time.Millisecond))
		},
	}
	if f.follow {
		if w, ok := t.Store().(watcher); ok {
			if ch, err := w.Watch(ctx); err == nil {
				run.Notify = ch
			}
		}
		a.notice("exporting to %s as records are appended (Ctrl-C to stop)", dest)
	}
	st, err := run.Run(ctx)
	a.notice("exported %s to %s (%s passed over by the filters); the cursor is at %d", plural.Count(st.Exported, "record"), dest, plural.Count(st.Passed, "record"), st.Next)
	return err
}

func statIsDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// tlsConfig is the TLS configuration of --tls-ca, --tls-cert, --tls-key.
func (f exportToFlags) tlsConfig(serverName string) (*tls.Config, error) {
	cfg := &tls.Config{ServerName: serverName, MinVersion: tls.VersionTLS12}
	if f.tlsCA != "" {
		pem, err := os.ReadFile(f.tlsCA)
		if err != nil {
			return nil, fmt.Errorf("--tls-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, usagef("--tls-ca %s holds no PEM certificate", f.tlsCA)
		}
		cfg.RootCAs = pool
	}
	if (f.tlsCert == "") != (f.tlsKey == "") {
		return nil, usagef("--tls-cert and --tls-key go together")
	}
	if f.tlsCert != "" {
		c, err := tls.LoadX509KeyPair(f.tlsCert, f.tlsKey)
		if err != nil {
			return nil, fmt.Errorf("client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{c}
	}
	return cfg, nil
}

func syslogExporter(_ *App, d destination, f exportToFlags, enc exporter.Encoder, logID, _ string) (exporter.Exporter, string, error) {
	if enc == nil {
		return nil, "", usagef("--format slack is for webhooks")
	}
	if d.u == nil || d.u.Host == "" || d.u.User != nil {
		return nil, "", usagef("--to %s: want syslog://HOST:PORT (TCP), syslog+tls://HOST:PORT or syslog+udp://HOST:PORT", exporter.Redact(d.raw))
	}
	cfg := syslog.Config{Transport: syslog.TCP, Address: d.u.Host, Encoder: enc, LogID: logID}
	def := "514"
	switch d.scheme {
	case "syslog+tls":
		cfg.Transport, def = syslog.TLS, "6514"
		tc, err := f.tlsConfig(d.u.Hostname())
		if err != nil {
			return nil, "", err
		}
		cfg.TLS = tc
	case "syslog+udp":
		cfg.Transport = syslog.UDP
	}
	if d.u.Port() == "" {
		cfg.Address = net.JoinHostPort(d.u.Hostname(), def)
	}
	e, err := syslog.New(cfg)
	if err != nil {
		return nil, "", usageError{err}
	}
	return e, d.scheme + "://" + cfg.Address, nil
}

func webhookExporter(_ *App, d destination, f exportToFlags, enc exporter.Encoder, logID, _ string) (exporter.Exporter, string, error) {
	cfg := webhook.Config{LogID: logID, Token: os.Getenv(envWebhookToken), Secret: os.Getenv(envWebhookSecret), Payload: f.format}
	switch d.scheme {
	case "http", "https":
		cfg.URL = d.raw
	case "slack":
		cfg.URL, cfg.Payload = cmpOr(f.url, os.Getenv(envSlackURL)), webhook.PayloadSlack
		if cfg.URL == "" {
			return nil, "", withHint(usagef("--to slack: no webhook URL"), "set "+envSlackURL+" (the URL is the credential: keep it out of flags)")
		}
	default:
		cfg.URL = cmpOr(f.url, os.Getenv(envWebhookURL))
		if cfg.URL == "" {
			return nil, "", withHint(usagef("--to webhook: no URL"), "give --url or set "+envWebhookURL)
		}
	}
	switch cfg.Payload {
	case "", "jsonl":
		cfg.Payload = webhook.PayloadJSON
	case "cef":
		return nil, "", usagef("--format cef is for syslog; a webhook takes json, ocsf or slack")
	case "ocsf":
		cfg.Encoder = enc
	}
	e, err := webhook.New(cfg)
	if err != nil {
		return nil, "", usageError{err}
	}
	return e, exporter.Redact(cfg.URL), nil
}

func emailExporter(_ *App, d destination, f exportToFlags, _ exporter.Encoder, logID, _ string) (exporter.Exporter, string, error) {
	to := strings.Split(d.u.Opaque, ",")
	server := cmpOr(f.smtp, os.Getenv(envSMTPURL))
	if server == "" {
		return nil, "", withHint(usagef("--to %s: no mail server", d.raw), "give --smtp=smtp://HOST:587 (STARTTLS), smtps://HOST:465 or smtp+insecure://HOST:25, or set "+envSMTPURL)
	}
	su, err := url.Parse(server)
	if err != nil || su.Host == "" {
		return nil, "", usagef("--smtp %s: not a URL", exporter.Redact(server))
	}
	if _, has := su.User.Password(); has {
		return nil, "", withHint(usagef("--smtp: the password does not go in the URL"), "set "+envSMTPPassword)
	}
	cfg := email.Config{To: to, From: f.mailFrom, LogID: logID, Password: os.Getenv(envSMTPPassword)}
	if su.User != nil {
		cfg.Username = su.User.Username()
	}
	port := su.Port()
	switch su.Scheme {
	case "smtps":
		cfg.Security, port = email.TLS, cmpOr(port, "465")
	case "smtp":
		cfg.Security, port = email.StartTLS, cmpOr(port, "587")
	case "smtp+insecure":
		cfg.Security, port = email.None, cmpOr(port, "25")
	default:
		return nil, "", usagef("--smtp %s: want smtp://, smtps:// or smtp+insecure://", exporter.Redact(server))
	}
	cfg.Address = net.JoinHostPort(su.Hostname(), port)
	if cfg.From == "" {
		host, _ := os.Hostname()
		cfg.From = "ami-audit@" + cmpOr(host, "localhost")
	}
	if cfg.Security != email.None {
		tc, err := f.tlsConfig(su.Hostname())
		if err != nil {
			return nil, "", err
		}
		cfg.TLS = tc
	}
	e, err := email.New(cfg)
	if err != nil {
		return nil, "", usageError{err}
	}
	return e, "mailto:" + strings.Join(to, ",") + " via " + cfg.Address, nil
}

func gitExporter(a *App, d destination, f exportToFlags, _ exporter.Encoder, logID, origin string) (exporter.Exporter, string, error) {
	repo := ""
	if d.u != nil {
		repo = cmpOr(d.u.Opaque, d.u.Path)
	}
	if repo == "" {
		return nil, "", usagef("--to git:DIR: name the repository's work tree")
	}
	if err := a.checkOutput(filepath.Join(repo, cmpOr(f.gitDir, gitcommit.DefaultDir), "report.md")); err != nil {
		return nil, "", err
	}
	e, err := gitcommit.New(gitcommit.Config{Repo: repo, Dir: f.gitDir, LogID: logID, Origin: origin})
	if err != nil {
		return nil, "", err
	}
	return e, "git:" + repo, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
