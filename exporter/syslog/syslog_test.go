package syslog_test

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	gosyslog "github.com/leodido/go-syslog/v4"
	"github.com/leodido/go-syslog/v4/octetcounting"
	"github.com/leodido/go-syslog/v4/rfc5424"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/exporter"
	"github.com/ami-orchestrator/ami-audit/exporter/cef"
	"github.com/ami-orchestrator/ami-audit/exporter/exportertest"
	"github.com/ami-orchestrator/ami-audit/exporter/syslog"
)

// receiver is a syslog TCP listener that parses what it gets back with an
// RFC 5424 parser (octet counting framing), and can be killed: its
// listener and connections closed at once, what they held unread lost.
type receiver struct {
	t     *testing.T
	addr  string
	got   *exportertest.Received
	msgs  chan *rfc5424.SyslogMessage
	mu    sync.Mutex
	ln    net.Listener
	conns []net.Conn
	// killAfter kills the receiver when it has parsed that many
	// messages (once).
	killAfter int
	parsed    int
	gen       int // the receiver's life; a kill ends it
	killed    chan struct{}
}

func newReceiver(t *testing.T, addr string) *receiver {
	r := &receiver{t: t, addr: addr, got: &exportertest.Received{}, killed: make(chan struct{})}
	r.start()
	t.Cleanup(r.kill)
	return r
}

func (r *receiver) start() {
	ln, err := net.Listen("tcp", r.addr)
	if err != nil {
		r.t.Fatal(err)
	}
	r.mu.Lock()
	r.ln, r.addr = ln, ln.Addr().String()
	r.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			r.mu.Lock()
			r.conns = append(r.conns, c)
			r.mu.Unlock()
			go r.serve(c)
		}
	}()
}

func (r *receiver) serve(c net.Conn) {
	r.mu.Lock()
	gen := r.gen
	r.mu.Unlock()
	p := octetcounting.NewParser(gosyslog.WithBestEffort(), gosyslog.WithListener(func(res *gosyslog.Result) {
		r.mu.Lock()
		defer r.mu.Unlock()
		if gen != r.gen {
			return // read after the receiver was killed: lost with it
		}
		if res.Error != nil {
			if !strings.Contains(res.Error.Error(), "EOF") && !strings.Contains(res.Error.Error(), "closed") {
				r.t.Errorf("message does not parse as RFC 5424: %v", res.Error)
			}
			return
		}
		m := res.Message.(*rfc5424.SyslogMessage)
		sd := *m.StructuredData
		r.got.Add(sd["ami-audit@32473"]["record_id"])
		if r.msgs != nil {
			r.msgs <- m
		}
		r.parsed++
		if r.killAfter > 0 && r.parsed == r.killAfter {
			// die at once: what was sent and not yet parsed is lost
			r.killLocked()
			close(r.killed)
		}
	}))
	p.Parse(bufio.NewReader(c))
}

func (r *receiver) kill() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.killLocked()
}

func (r *receiver) killLocked() {
	r.gen++
	r.ln.Close()
	for _, c := range r.conns {
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetLinger(0) // reset: what the kernel holds unread is lost
		}
		c.Close()
	}
	r.conns = nil
}

// TestFormatParsesBack: every field of the message is what the record
// says, read back by an independent RFC 5424 parser.
func TestFormatParsesBack(t *testing.T) {
	s := exportertest.Store(t, 10)
	rv := newReceiver(t, "127.0.0.1:0")
	rv.msgs = make(chan *rfc5424.SyslogMessage, 100)
	e, err := syslog.New(syslog.Config{Transport: syslog.TCP, Address: rv.addr, Hostname: "host one", LogID: "abc123"})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	var recs []*audit.Record
	for r, err := range s.Range(context.Background(), 0, 10) {
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	if err := e.Export(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	sev := map[audit.Severity]uint8{audit.SeverityDebug: 7, audit.SeverityInfo: 6, audit.SeverityWarning: 4, audit.SeverityError: 3, audit.SeverityCritical: 2}
	for _, r := range recs {
		m := <-rv.msgs
		sd := (*m.StructuredData)["ami-audit@32473"]
		switch {
		case *m.Facility != 13 || *m.Severity != sev[r.Severity]:
			t.Errorf("record %d: facility %d severity %d, want 13 and %d", r.Sequence, *m.Facility, *m.Severity, sev[r.Severity])
		case !m.Timestamp.Equal(r.Timestamp.Truncate(time.Microsecond)):
			t.Errorf("record %d: timestamp %v, want %v", r.Sequence, m.Timestamp, r.Timestamp)
		case *m.Hostname != "host_one" || *m.Appname != "ami-audit" || *m.MsgID != r.Action:
			t.Errorf("record %d: host %q app %q msgid %q", r.Sequence, *m.Hostname, *m.Appname, *m.MsgID)
		case sd["record_id"] != r.RecordID || sd["record_hash"] != r.RecordHash || sd["log_id"] != "abc123" || sd["seq"] != itoa(r.Sequence):
			t.Errorf("record %d: structured data %v", r.Sequence, sd)
		}
		want, _ := r.AppendJSON(nil)
		if *m.Message != string(want) {
			t.Errorf("record %d: message\n%s\nwant\n%s", r.Sequence, *m.Message, want)
		}
	}
}

func itoa(n uint64) string {
	b := []byte{}
	if n == 0 {
		return "0"
	}
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

// TestReceiverKilledMidStream: the receiver dies after some messages and
// comes back on the same port; every record arrives, repeats only within
// the replay window.
func TestReceiverKilledMidStream(t *testing.T) {
	const n = 5000
	s := exportertest.Store(t, n)
	rv := newReceiver(t, "127.0.0.1:0")
	rv.killAfter = 1800
	go func() {
		<-rv.killed
		time.Sleep(300 * time.Millisecond)
		rv.start()
	}()
	e, err := syslog.New(syslog.Config{Transport: syslog.TCP, Address: rv.addr, Encoder: cef.Encode})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	retries := 0
	run := &exporter.Runner{Store: s, Exporter: e, Dest: "syslog://" + rv.addr, BatchSize: 100,
		OnRetry: func(error, time.Duration) { retries++ }}
	st, err := run.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Exported != n || st.Next != n {
		t.Fatalf("exported %d, next %d; want %d", st.Exported, st.Next, n)
	}
	deadline := time.Now().Add(5 * time.Second)
	for rv.got.Total() < n && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	// Repeats are what the dead connection carried, sent again: far fewer
	// than the records.
	extra := rv.got.Check(t, s, audit.Filter{}, n/2)
	if retries == 0 {
		t.Errorf("the receiver's death went unnoticed")
	}
	t.Logf("%d records, %d repeats, %d retries", n, extra, retries)
}

// selfSigned is a certificate for 127.0.0.1 and the pool that trusts it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "siem.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}

// TestTLSAndUDP: the same messages over TLS (octet counting, the server's
// certificate checked) and over UDP (one datagram each), parsed back.
func TestTLSAndUDP(t *testing.T) {
	s := exportertest.Store(t, 20)
	recs := exportertest.All(t, s)
	cert, pool := selfSigned(t)

	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var got exportertest.Received
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		octetcounting.NewParser(gosyslog.WithListener(func(res *gosyslog.Result) {
			if res.Error == nil {
				got.Add((*res.Message.(*rfc5424.SyslogMessage).StructuredData)["ami-audit@32473"]["record_id"])
			}
		})).Parse(bufio.NewReader(c))
	}()
	e, err := syslog.New(syslog.Config{Transport: syslog.TLS, Address: ln.Addr().String(), TLS: &tls.Config{RootCAs: pool}})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Export(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	e.Close()
	<-done
	got.Check(t, s, audit.Filter{}, 0)

	// a server whose certificate is not trusted is refused
	go func() {
		if c, err := ln.Accept(); err == nil {
			c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()
	e, _ = syslog.New(syslog.Config{Transport: syslog.TLS, Address: ln.Addr().String(), Timeout: 3 * time.Second})
	if err := e.Export(context.Background(), recs[:1]); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("an untrusted certificate was accepted: %v", err)
	}

	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	e, _ = syslog.New(syslog.Config{Transport: syslog.UDP, Address: pc.LocalAddr().String()})
	if err := e.Export(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	var udp exportertest.Received
	buf := make([]byte, 70000)
	p := rfc5424.NewParser()
	for range recs {
		pc.SetReadDeadline(time.Now().Add(2 * time.Second))
		n, _, err := pc.ReadFrom(buf)
		if err != nil {
			t.Fatal(err)
		}
		m, err := p.Parse(buf[:n])
		if err != nil {
			t.Fatalf("datagram does not parse: %v", err)
		}
		udp.Add((*m.(*rfc5424.SyslogMessage).StructuredData)["ami-audit@32473"]["record_id"])
	}
	udp.Check(t, s, audit.Filter{}, 0)
}
