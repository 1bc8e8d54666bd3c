package html

import (
	"bytes"
	"strconv"
	"strings"
	"testing"

	"github.com/ami-orchestrator/ami-audit/report"

	"github.com/ami-orchestrator/ami-audit/report/internal/reporttest"
)

func TestGolden(t *testing.T) {
	var buf bytes.Buffer
	if err := New().Format(&buf, reporttest.Sample()); err != nil {
		t.Fatal(err)
	}
	reporttest.Golden(t, "sample.html", buf.Bytes())
}

// The page fetches nothing: no script, no external stylesheet, font,
// image or link target outside the page.
func TestSelfContained(t *testing.T) {
	var buf bytes.Buffer
	if err := New().Format(&buf, reporttest.Sample()); err != nil {
		t.Fatal(err)
	}
	page := strings.ToLower(buf.String())
	for _, bad := range []string{"<script", "<link", "<img", "<iframe", "@import", "url(", "src=", `href="http`, `href="//`} {
		if strings.Contains(page, bad) {
			t.Errorf("page contains %q", bad)
		}
	}
	if !strings.Contains(page, "content-security-policy") {
		t.Error("page has no Content-Security-Policy")
	}
}

func TestClean(t *testing.T) {
	tests := map[string]string{
		"a\x1bb":    "a␛b",
		"tab\there": "tab\there",
		"nl\nok":    "nl\nok",
		"bad\xffx":  "bad\uFFFDx",
		"del\x7f":   "del␡",
		"c1\u0085":  "c1\uFFFD",
	}
	for in, want := range tests {
		if got := clean(in); got != want {
			t.Errorf("clean(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLineChartManyLabels(t *testing.T) {
	labels := make([]string, 100)
	values := make([]float64, 100)
	for i := range labels {
		labels[i] = strconv.Itoa(i)
		values[i] = float64(i)
	}
	c := newChart(&report.Chart{Kind: report.ChartLine, Labels: labels, Values: values})
	if len(c.Dots) != 100 {
		t.Errorf("%d dots, want 100", len(c.Dots))
	}
	if len(c.Ticks) > maxTicks {
		t.Errorf("%d axis labels, want at most %d", len(c.Ticks), maxTicks)
	}
	if first, last := c.Dots[0], c.Dots[99]; first.X != c.Axis.X0 || last.X != c.Axis.X1 || last.Y != c.Axis.Y1 || first.Y != c.Axis.Y0 {
		t.Errorf("line spans (%d,%d)-(%d,%d), want the axes (%d,%d)-(%d,%d)", first.X, first.Y, last.X, last.Y, c.Axis.X0, c.Axis.Y0, c.Axis.X1, c.Axis.Y1)
	}
}
