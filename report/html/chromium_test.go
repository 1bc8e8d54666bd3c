package html

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ami-orchestrator/ami-audit/report/internal/reporttest"
)

// chromium finds the browser, or skips the test (fails it when
// AMI_AUDIT_REQUIRE_CHROMIUM=1, as CI sets).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "chromium not found; install chromium: scripts/install-chromium.sh"
	if os.Getenv("AMI_AUDIT_REQUIRE_CHROMIUM") == "1" {
		t.Fatal(msg + " (AMI_AUDIT_REQUIRE_CHROMIUM=1)")
	}
	t.Skip(msg)
	return ""
}

// headless runs the browser on page with extra arguments and returns its
// stdout.
func headless(t *testing.T, bin, page string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	base := []string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-extensions", "--hide-scrollbars", "--user-data-dir=" + t.TempDir(),
	}
	cmd := exec.CommandContext(ctx, bin, append(append(base, args...), "file://"+page)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %v: %v\n%s", args, err, stderr.Bytes())
	}
	return stdout.Bytes()
}

// The page renders in a real browser: its text is all there (escaped, not
// interpreted) and it draws a screenshot of a laptop-sized window.
func TestRenderedByChromium(t *testing.T) {
	bin := chromium(t)
	dir := t.TempDir()
	page := filepath.Join(dir, "report.html")
	var buf bytes.Buffer
	if err := New().Format(&buf, reporttest.Sample()); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(page, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}

	dom := string(headless(t, bin, page, "--dump-dom", "--window-size=1366,900"))
	for _, want := range []string{
		"<title>Repository audit: ami &lt;orchestrator&gt; &amp; co</title>", // title
		`<div class="label">Records</div><div class="value">1234</div>`,      // a summary figure
		`<td>Alice &lt;alice@example.com&gt;</td><td class="num">120</td>`,   // a table cell
		`<span class="sev sev-critical">critical</span>`,                     // a severity badge
		`<td>&lt;script&gt;alert(1)&lt;/script&gt;</td>`,                     // hostile text stays text
		`<rect class="bar"`, // the chart was parsed as SVG
	} {
		if !strings.Contains(dom, want) {
			t.Errorf("rendered DOM lacks %s", want)
		}
	}
	if strings.Contains(dom, "<script>") {
		t.Error("rendered DOM holds a script element")
	}

	shot := filepath.Join(dir, "report.png")
	headless(t, bin, page, "--screenshot="+shot, "--window-size=1366,900")
	f, err := os.Open(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	if fi.Size() < 20_000 {
		t.Errorf("screenshot is %d bytes: too small for a rendered report", fi.Size())
	}
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if b := img.Bounds(); b.Dx() != 1366 || b.Dy() != 900 {
		t.Errorf("screenshot is %v, want 1366x900", b)
	}
	if n := colours(img); n < 50 {
		t.Errorf("screenshot has %d distinct colours: the page looks blank", n)
	}
	if dst := os.Getenv("AMI_AUDIT_SCREENSHOT_DIR"); dst != "" {
		if b, err := os.ReadFile(shot); err == nil {
			os.WriteFile(filepath.Join(dst, "report-html.png"), b, 0o644)
		}
	}
}

func colours(img image.Image) int {
	seen := map[[4]uint32]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 3 {
		for x := b.Min.X; x < b.Max.X; x += 3 {
			r, g, bl, a := img.At(x, y).RGBA()
			seen[[4]uint32{r, g, bl, a}] = true
		}
	}
	return len(seen)
}

// The compliance view renders in a real browser: coverage bars, status
// badges, the drill-down anchors to each control's evidence records, the
// gaps; a screenshot of a laptop-sized window is drawn.
func TestComplianceRenderedByChromium(t *testing.T) {
	bin := chromium(t)
	dir := t.TempDir()
	page := filepath.Join(dir, "compliance.html")
	r := reporttest.Sample()
	r.Sections, r.Records = nil, nil
	var buf bytes.Buffer
	if err := New().Format(&buf, r); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(page, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	dom := string(headless(t, bin, page, "--dump-dom", "--window-size=1366,900"))
	for _, want := range []string{
		`<section id="integrity" class="integrity">`,          // the integrity first
		`<rect class="present"`,                               // a coverage bar
		`<span class="st st-failed">failed</span>`,            // a status badge
		`<a class="jump" href="#c-nist-800-53-ra-5">RA-5</a>`, // drill-down link
		`<div class="control" id="c-nist-800-53-ra-5">`,       // its target
		`<td>src/config.py</td>`,                              // an evidence record
		`the scheduler &lt;was&gt; stopped`,                   // a gap, escaped
	} {
		if !strings.Contains(dom, want) {
			t.Errorf("rendered DOM lacks %s", want)
		}
	}
	for i := range 1 {
		shot := filepath.Join(dir, "compliance.png")
		headless(t, bin, page, "--screenshot="+shot, "--window-size=1366,900")
		f, err := os.Open(shot)
		if err != nil {
			t.Fatalf("no screenshot: %v", err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil {
			t.Fatalf("screenshot: %v", err)
		}
		if b := img.Bounds(); b.Dx() != 1366 || b.Dy() != 900 {
			t.Errorf("screenshot is %v, want 1366x900", b)
		}
		if n := colours(img); n < 50 {
			t.Errorf("screenshot %d has %d distinct colours: the page looks blank", i, n)
		}
		if dst := os.Getenv("AMI_AUDIT_SCREENSHOT_DIR"); dst != "" {
			if b, err := os.ReadFile(shot); err == nil {
				os.WriteFile(filepath.Join(dst, fmt.Sprintf("compliance-html-%d.png", i)), b, 0o644)
			}
		}
	}
}
