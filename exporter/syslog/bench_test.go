package syslog_test

import (
	"context"
	"io"
	"net"
	"os"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/exporter"
	"github.com/ami-orchestrator/ami-audit/exporter/exportertest"
	"github.com/ami-orchestrator/ami-audit/exporter/syslog"
)

// sink is a syslog TCP receiver that reads and counts bytes.
func sink(b *testing.B) (addr string, bytes *atomic.Int64) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	bytes = &atomic.Int64{}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				n, _ := io.Copy(io.Discard, c)
				bytes.Add(n)
			}()
		}
	}()
	return ln.Addr().String(), bytes
}

// BenchmarkExportSyslogTCP exports a trail (50,000 records unless
// AMI_AUDIT_BENCH_RECORDS says otherwise) from an SQLite store to a local
// syslog TCP receiver through the Runner, and reports records/s. The
// baseline, in the same run, writes the same framed bytes in the same
// batches to the same receiver over one connection: the network's part.
func BenchmarkExportSyslogTCP(b *testing.B) {
	n := 50000
	if v, err := strconv.Atoi(os.Getenv("AMI_AUDIT_BENCH_RECORDS")); err == nil && v > 0 {
		n = v
	}
	s := exportertest.Store(b, n)
	addr, _ := sink(b)
	for b.Loop() {
		e, err := syslog.New(syslog.Config{Transport: syslog.TCP, Address: addr, LogID: "bench"})
		if err != nil {
			b.Fatal(err)
		}
		var sent [][]*audit.Record
		run := &exporter.Runner{Store: s, Exporter: e, Dest: addr, OnExport: func(recs []*audit.Record) {
			sent = append(sent, recs)
		}}
		var ru0, ru1 syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
		start := time.Now()
		st, err := run.Run(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		d := time.Since(start)
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
		cpu := time.Duration(ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano())
		e.Close()
		if st.Exported != n {
			b.Fatalf("exported %d of %d", st.Exported, n)
		}
		// the same bytes in the same batches, framed outside the timing
		var batches [][]byte
		for _, recs := range sent {
			var buf []byte
			for _, r := range recs {
				m, _ := e.Format(r)
				buf = append(buf, strconv.Itoa(len(m))...)
				buf = append(buf, ' ')
				buf = append(buf, m...)
			}
			batches = append(batches, buf)
		}
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			b.Fatal(err)
		}
		rstart := time.Now()
		for _, buf := range batches {
			if _, err := conn.Write(buf); err != nil {
				b.Fatal(err)
			}
		}
		rd := time.Since(rstart)
		conn.Close()
		b.ReportMetric(float64(n)/d.Seconds(), "records/s")
		// processor time per record (reading the store, encoding, sending;
		// the receiver's reading too): what the machine's other load does
		// not change much; 1 s divided by it is a free core's rate
		b.ReportMetric(float64(cpu.Microseconds())/float64(n), "cpu-µs/record")
		b.ReportMetric(float64(n)/rd.Seconds(), "baseline-raw-records/s")
	}
}
