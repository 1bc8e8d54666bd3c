// Package exporter sends a trail's records to other systems (SPEC §9):
// SIEMs over syslog, webhooks and chat, e-mail, a git repository. Each
// destination is a package of its own implementing Exporter; this package
// holds the interface, the message encodings they share, and the Runner
// that feeds an exporter from the store.
//
// # Delivery
//
// Delivery is at least once. The Runner reads the store in sequence order,
// hands the matching records to the exporter in batches and, once the
// exporter says a batch is delivered, saves the cursor: the sequence number
// of the next record to look at, in a file of its own, per log and per
// destination (see Cursor). A restart resumes at the cursor, so nothing is
// skipped. A batch whose delivery failed, or whose cursor could not be
// saved before a crash, is sent again: a receiver may see a record twice,
// never zero times. Every message carries the record's id, record_hash and
// sequence, by which a receiver can drop what it has already seen.
//
// The Runner never writes the store: the trail is opened read-only.
package exporter

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/store"
)

// Exporter delivers records to one destination.
type Exporter interface {
	// Export delivers recs, which are in sequence order. nil means every
	// record was delivered as far as the destination acknowledges; an
	// error means some may not have been, and the batch will be given
	// again (some records of it possibly twice).
	Export(ctx context.Context, recs []*audit.Record) error
	// Close releases the connections.
	Close() error
}

// Encoder turns one record into a message body: a line of JSON, CEF, OCSF.
// It must not keep r.
type Encoder func(dst []byte, r *audit.Record) ([]byte, error)

// JSON encodes a record as its JSON export form (canonical, with
// record_hash, sequence, signatures and status).
func JSON(dst []byte, r *audit.Record) ([]byte, error) { return r.AppendJSON(dst) }

// Redact returns a destination for messages: without credentials (see
// store.Redact) and, for web addresses, without the path and query, which
// for chat webhooks are the credential.
func Redact(dest string) string {
	u, err := url.Parse(dest)
	if err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" {
		u.User = nil
		suffix := ""
		if u.Path != "" && u.Path != "/" || u.RawQuery != "" {
			suffix = "/…"
		}
		return u.Scheme + "://" + u.Host + suffix
	}
	return store.Redact(dest)
}

// ErrPermanent wraps an export error that trying again cannot cure (the
// destination refused the records themselves). The Runner stops on it.
var ErrPermanent = errors.New("refused by the destination")

// Permanent marks err as permanent.
func Permanent(err error) error { return fmt.Errorf("%w: %w", ErrPermanent, err) }

// Backoff is the wait before the n-th retry (n from 1): doubling from 250
// ms, at most 30 s.
func Backoff(n int) time.Duration {
	d := 250 * time.Millisecond
	for i := 1; i < n && d < 30*time.Second; i++ {
		d *= 2
	}
	return min(d, 30*time.Second)
}

// oneLine flattens text for one-line formats.
func oneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	return strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(s)
}

// OneLine flattens text for one-line formats (syslog, CEF).
func OneLine(s string) string { return oneLine(s) }
