// Package syslog exports records as RFC 5424 syslog messages over TCP, TLS
// (RFC 5425) or UDP (RFC 5426), the way SIEMs take events in.
//
// Each record is one message:
//
//	<PRI>1 TIMESTAMP HOSTNAME ami-audit - MSGID [ami-audit@32473 seq="…" record_id="…" record_hash="…" log_id="…"] MSG
//
// PRI is facility log audit (13) with the record's severity (debug 7, info
// 6, warning 4, error 3, critical 2); TIMESTAMP the record's (UTC, in
// microseconds); MSGID its action; MSG the record encoded by
// Config.Encoder (JSON by default, or CEF, or OCSF). The structured data
// uses 32473, the enterprise number RFC 5612 sets aside for examples, as
// no number is registered for ami-audit. Over TCP and TLS messages are
// framed by octet counting (RFC 6587 §3.4.1, which RFC 5425 requires).
//
// # Delivery
//
// Syslog has no acknowledgements: a message the receiver's kernel took may
// still be lost when the receiver dies before reading it. So the exporter
// keeps what it wrote on a connection for Config.ReplayWindow, and the
// connection is probed before each batch (a receiver never writes; a read
// that finds the connection closed means it went away); after a failure it
// connects again and first sends the kept messages again, then the batch.
// A record leaves the window once the connection was seen alive
// ReplayWindow after it was written. Receivers therefore see a record at
// least once, and the messages just before a failure possibly twice (the
// structured data's record_id tells them apart). UDP is fire and forget:
// nothing is known about delivery.
package syslog

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/exporter"
)

// Transports.
const (
	TCP = "tcp"
	TLS = "tls"
	UDP = "udp"
)

// Defaults of Config.
const (
	DefaultReplayWindow = 5 * time.Second
	DefaultTimeout      = 10 * time.Second
	// MaxUDP is the largest message sent over UDP; longer ones are cut.
	MaxUDP = 65000
	// facility is "log audit".
	facility = 13
	// sdID names the structured data element.
	sdID = "ami-audit@32473"
)

// Config configures the exporter.
type Config struct {
	// Transport is TCP, TLS or UDP; Address is host:port.
	Transport, Address string
	// TLS configures the TLS transport (server name, CAs, client
	// certificate); nil uses the system's roots and the address's host.
	TLS *tls.Config
	// Encoder encodes MSG (default exporter.JSON).
	Encoder exporter.Encoder
	// Hostname is the HOSTNAME field (default os.Hostname).
	Hostname string
	// AppName is the APP-NAME field (default ami-audit).
	AppName string
	// LogID is put in the structured data, so that receivers can tell
	// two trails apart.
	LogID string
	// ReplayWindow (DefaultReplayWindow) is how long written messages are
	// kept to be sent again after a failure.
	ReplayWindow time.Duration
	// Timeout bounds connecting and writing (DefaultTimeout).
	Timeout time.Duration
	// MaxReplay caps the messages kept (default 200,000).
	MaxReplay int
}

// Validate checks c and fills its defaults.
func (c *Config) Validate() error {
	switch c.Transport {
	case TCP, TLS, UDP:
	default:
		return fmt.Errorf("syslog: transport %q: want tcp, tls or udp", c.Transport)
	}
	if _, _, err := net.SplitHostPort(c.Address); err != nil {
		return fmt.Errorf("syslog: address %q: %w", c.Address, err)
	}
	if c.Encoder == nil {
		c.Encoder = exporter.JSON
	}
	if c.Hostname == "" {
		c.Hostname, _ = os.Hostname()
	}
	c.Hostname = field(c.Hostname, 255)
	if c.AppName == "" {
		c.AppName = "ami-audit"
	}
	c.AppName = field(c.AppName, 48)
	if c.ReplayWindow <= 0 {
		c.ReplayWindow = DefaultReplayWindow
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.MaxReplay <= 0 {
		c.MaxReplay = 200000
	}
	return nil
}

// Exporter writes syslog messages. It is used by one goroutine at a time.
type Exporter struct {
	cfg    Config
	conn   net.Conn
	replay []sent // what was written on conn and may need writing again
	buf    []byte
}

type sent struct {
	at  time.Time
	msg []byte // framed
}

// New returns an exporter; it connects on the first export.
func New(cfg Config) (*Exporter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Exporter{cfg: cfg}, nil
}

// Export writes one message per record.
func (e *Exporter) Export(ctx context.Context, recs []*audit.Record) error {
	now := time.Now()
	batch := make([]sent, 0, len(recs))
	for _, r := range recs {
		msg, err := e.Format(r)
		if err != nil {
			return exporter.Permanent(fmt.Errorf("record %d (%s): %w", r.Sequence, r.RecordID, err))
		}
		if e.cfg.Transport == UDP {
			if len(msg) > MaxUDP {
				msg = msg[:MaxUDP]
			}
		} else {
			msg = append(strconv.AppendInt(nil, int64(len(msg)), 10), append([]byte{' '}, msg...)...)
		}
		batch = append(batch, sent{at: now, msg: msg})
	}
	if e.cfg.Transport == UDP {
		return e.sendUDP(ctx, batch)
	}
	if e.conn != nil && !e.alive() {
		e.drop()
	}
	if e.conn == nil {
		if err := e.connect(ctx); err != nil {
			return err
		}
		// first what the last connection may have lost
		if err := e.write(e.replay); err != nil {
			e.drop()
			return err
		}
	}
	if err := e.write(batch); err != nil {
		e.drop()
		return err
	}
	e.keep(batch, now)
	return nil
}

// keep adds batch to the replay window and forgets what was written long
// enough before a moment the connection was seen alive.
func (e *Exporter) keep(batch []sent, aliveAt time.Time) {
	cut := 0
	for cut < len(e.replay) && aliveAt.Sub(e.replay[cut].at) >= e.cfg.ReplayWindow {
		cut++
	}
	e.replay = append(e.replay[cut:], batch...)
	if over := len(e.replay) - e.cfg.MaxReplay; over > 0 {
		e.replay = e.replay[over:]
	}
}

// alive probes the connection: a receiver never writes, so a read that
// does not time out means it closed (or broke) the connection.
func (e *Exporter) alive() bool {
	e.conn.SetReadDeadline(time.Now().Add(time.Millisecond))
	var b [1]byte
	_, err := e.conn.Read(b[:])
	e.conn.SetReadDeadline(time.Time{})
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func (e *Exporter) connect(ctx context.Context) error {
	d := net.Dialer{Timeout: e.cfg.Timeout}
	var conn net.Conn
	var err error
	if e.cfg.Transport == TLS {
		cfg := e.cfg.TLS
		if cfg == nil {
			cfg = &tls.Config{}
		}
		cfg = cfg.Clone()
		if cfg.ServerName == "" {
			cfg.ServerName, _, _ = net.SplitHostPort(e.cfg.Address)
		}
		if cfg.MinVersion == 0 {
			cfg.MinVersion = tls.VersionTLS12
		}
		conn, err = (&tls.Dialer{NetDialer: &d, Config: cfg}).DialContext(ctx, "tcp", e.cfg.Address)
	} else {
		conn, err = d.DialContext(ctx, "tcp", e.cfg.Address)
	}
	if err != nil {
		return fmt.Errorf("syslog %s: %w", e.cfg.Address, err)
	}
	e.conn = conn
	return nil
}

func (e *Exporter) write(msgs []sent) error {
	if len(msgs) == 0 {
		return nil
	}
	e.buf = e.buf[:0]
	for _, m := range msgs {
		e.buf = append(e.buf, m.msg...)
	}
	e.conn.SetWriteDeadline(time.Now().Add(e.cfg.Timeout))
	_, err := e.conn.Write(e.buf)
	if err != nil {
		return fmt.Errorf("syslog %s: %w", e.cfg.Address, err)
	}
	return nil
}

func (e *Exporter) drop() {
	if e.conn != nil {
		e.conn.Close()
		e.conn = nil
	}
}

func (e *Exporter) sendUDP(ctx context.Context, batch []sent) error {
	if e.conn == nil {
		conn, err := (&net.Dialer{Timeout: e.cfg.Timeout}).DialContext(ctx, "udp", e.cfg.Address)
		if err != nil {
			return fmt.Errorf("syslog %s: %w", e.cfg.Address, err)
		}
		e.conn = conn
	}
	for _, m := range batch {
		if _, err := e.conn.Write(m.msg); err != nil {
			e.drop()
			return fmt.Errorf("syslog %s: %w", e.cfg.Address, err)
		}
	}
	return nil
}

// Close closes the connection.
func (e *Exporter) Close() error {
	if e.conn == nil {
		return nil
	}
	err := e.conn.Close()
	e.conn = nil
	if errors.Is(err, net.ErrClosed) || errors.Is(err, io.EOF) {
		return nil
	}
	return err
}

// Format returns the RFC 5424 message of r, unframed.
func (e *Exporter) Format(r *audit.Record) ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('<')
	b.WriteString(strconv.Itoa(facility*8 + severity(r.Severity)))
	b.WriteString(">1 ")
	b.WriteString(r.Timestamp.UTC().Format("2006-01-02T15:04:05.000000Z"))
	b.WriteByte(' ')
	b.WriteString(e.cfg.Hostname)
	b.WriteByte(' ')
	b.WriteString(e.cfg.AppName)
	b.WriteString(" - ")
	b.WriteString(field(r.Action, 32))
	b.WriteString(" [" + sdID)
	param(&b, "seq", strconv.FormatUint(r.Sequence, 10))
	param(&b, "record_id", r.RecordID)
	param(&b, "record_hash", r.RecordHash)
	if e.cfg.LogID != "" {
		param(&b, "log_id", e.cfg.LogID)
	}
	param(&b, "target_type", string(r.TargetType))
	b.WriteString("] ")
	msg, err := e.cfg.Encoder(b.AvailableBuffer(), r)
	if err != nil {
		return nil, err
	}
	b.Write(msg)
	return b.Bytes(), nil
}

func param(b *bytes.Buffer, name, value string) {
	b.WriteByte(' ')
	b.WriteString(name)
	b.WriteString(`="`)
	for i := 0; i < len(value); i++ {
		switch c := value[i]; c {
		case '"', '\\', ']':
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
}

// severity maps a record's severity to syslog's.
func severity(s audit.Severity) int {
	switch s {
	case audit.SeverityDebug:
		return 7
	case audit.SeverityWarning:
		return 4
	case audit.SeverityError:
		return 3
	case audit.SeverityCritical:
		return 2
	}
	return 6
}

// field makes s a header field: printable ASCII without spaces, at most
// max bytes, "-" when empty.
func field(s string, max int) string {
	var b strings.Builder
	for i := 0; i < len(s) && b.Len() < max; i++ {
		if c := s[i]; c > 32 && c < 127 {
			b.WriteByte(c)
		} else {
			b.WriteByte('_')
		}
	}
	if b.Len() == 0 {
		return "-"
	}
	return b.String()
}
