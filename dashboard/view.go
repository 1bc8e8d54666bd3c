package dashboard

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	audit "github.com/ami-orchestrator/ami-audit"
)

// sparkBlocks draw a sparkline, lowest first.
var sparkBlocks = []rune("▁▂▃▄▅▆▇█")

// Sparkline draws values as one line of blocks scaled to the largest.
func Sparkline(values []float64) string {
	top := 0.0
	for _, v := range values {
		top = max(top, v)
	}
	var b strings.Builder
	for _, v := range values {
		i := 0
		if top > 0 {
			i = int(v / top * float64(len(sparkBlocks)-1))
		}
		b.WriteRune(sparkBlocks[i])
	}
	return b.String()
}

// RecordLine is a record on one line: sequence, time, severity, actor,
// action, target.
func RecordLine(r *audit.Record) string {
	return fmt.Sprintf("%6d  %s  %-8s %s  %s  %s", r.Sequence, r.Timestamp.UTC().Format("2006-01-02 15:04:05"), r.Severity,
		oneLine(r.Actor), oneLine(r.Action), oneLine(r.Target))
}

func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

// StatusLine says in one line where the trail stands.
func StatusLine(s Snapshot) string {
	var b strings.Builder
	fmt.Fprintf(&b, "size %d", s.Head.Size)
	if n := len(s.Rate); n > 0 {
		fmt.Fprintf(&b, "  rate %.0f/s", s.Rate[n-1])
	}
	if s.HasCheckpoint {
		fmt.Fprintf(&b, "  checkpoint %d (%s)", s.Checkpoint.Size, s.Checkpoint.At.UTC().Format(time.RFC3339))
	} else {
		b.WriteString("  no checkpoint seen")
	}
	if v := verification(s); v != "" {
		b.WriteString("  " + v)
	}
	var fs []string
	for _, sev := range []audit.Severity{audit.SeverityCritical, audit.SeverityError, audit.SeverityWarning, audit.SeverityInfo} {
		if n := s.Findings[sev]; n > 0 {
			fs = append(fs, fmt.Sprintf("%s %d", sev, n))
		}
	}
	if len(fs) > 0 {
		fmt.Fprintf(&b, "  findings: %s", strings.Join(fs, ", "))
	}
	if s.Err != nil {
		fmt.Fprintf(&b, "  error: %v", s.Err)
	}
	return b.String()
}

// verification says how the last verification went; "" when none ran.
func verification(s Snapshot) string {
	switch v := s.Verification; {
	case s.Verifying:
		return "verifying…"
	case v.At.IsZero():
		return ""
	case v.OK:
		return fmt.Sprintf("verified %d records at %s", v.Size, v.At.UTC().Format("15:04:05"))
	default:
		return "VERIFICATION FAILED: " + v.Detail
	}
}

// start runs a watcher until ctx ends, and returns cfg with its defaults,
// the watcher and its snapshots.
func start(ctx context.Context, cfg Config) (Config, *Watcher, <-chan Snapshot) {
	cfg.defaults()
	wt := New(cfg)
	snaps := make(chan Snapshot)
	go wt.Run(ctx, snaps)
	return cfg, wt, snaps
}

// RunPlain writes plain lines to w until ctx ends: a status line when the
// status changes, and every record appended (matching the filter) as it
// is seen.
func RunPlain(ctx context.Context, w io.Writer, cfg Config) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cfg, _, snaps := start(ctx, cfg)
	var next uint64
	first := true
	lastStatus := ""
	for {
		var s Snapshot
		select {
		case <-ctx.Done():
			return nil
		case s = <-snaps:
		}
		if first {
			next, first = s.Head.Size, false
			if cfg.Title != "" {
				fmt.Fprintln(w, cfg.Title)
			}
		} else if s.Err == nil && s.Head.Size > next {
			f := cfg.Filter
			for r, err := range cfg.Store.Range(ctx, next, s.Head.Size) {
				if err != nil {
					break
				}
				next = r.Sequence + 1
				if f.Match(r) {
					if _, err := fmt.Fprintln(w, RecordLine(r)); err != nil {
						return err
					}
				}
			}
		}
		// the rate changes every second: leave it out of the comparison
		s.Rate = nil
		if st := StatusLine(s); st != lastStatus {
			lastStatus = st
			if _, err := fmt.Fprintln(w, "-- "+st); err != nil {
				return err
			}
		}
	}
}

// RunTUI draws the view in the terminal in, out until ctx ends or the
// user quits (q, Ctrl-C).
func RunTUI(ctx context.Context, in io.Reader, out io.Writer, cfg Config) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cfg, wt, snaps := start(ctx, cfg)
	m := &model{w: wt, cfg: cfg, snaps: snaps}
	p := tea.NewProgram(m, tea.WithContext(ctx), tea.WithInput(in), tea.WithOutput(out), tea.WithAltScreen())
	_, err := p.Run()
	if err == tea.ErrProgramKilled && ctx.Err() != nil {
		return nil
	}
	return err
}

type snapMsg Snapshot

type model struct {
	w       *Watcher
	cfg     Config
	snaps   <-chan Snapshot
	snap    Snapshot
	text    string // the filter box
	editing bool
	width   int
	height  int
}

func (m *model) next() tea.Cmd {
	return func() tea.Msg { return snapMsg(<-m.snaps) }
}

func (m *model) Init() tea.Cmd { return m.next() }

func (m *model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case snapMsg:
		m.snap = Snapshot(msg)
		return m, m.next()
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
	case tea.KeyMsg:
		if m.editing {
			switch msg.Type {
			case tea.KeyEnter:
				m.editing = false
			case tea.KeyEsc:
				m.editing, m.text = false, ""
			case tea.KeyBackspace:
				if r := []rune(m.text); len(r) > 0 {
					m.text = string(r[:len(r)-1])
				}
			case tea.KeyCtrlC:
				return m, tea.Quit
			case tea.KeyRunes, tea.KeySpace:
				m.text += string(msg.Runes)
			}
			m.w.SetText(m.text)
			return m, nil
		}
		if msg.Type == tea.KeyRunes && len(msg.Runes) > 1 && msg.Runes[0] == '/' {
			// "/" and what follows it, read at once (typed fast, pasted)
			m.editing, m.text = true, string(msg.Runes[1:])
			m.w.SetText(m.text)
			return m, nil
		}
		switch msg.String() {
		case "q", "ctrl+c":
			return m, tea.Quit
		case "/":
			m.editing = true
		case "esc":
			m.text = ""
			m.w.SetText("")
		case "v":
			m.w.Reverify()
		}
	}
	return m, nil
}

var (
	titleStyle = lipgloss.NewStyle().Bold(true)
	headStyle  = lipgloss.NewStyle().Bold(true).Underline(true)
	sevStyle   = map[audit.Severity]lipgloss.Style{
		audit.SeverityCritical: lipgloss.NewStyle().Foreground(lipgloss.Color("9")).Bold(true),
		audit.SeverityError:    lipgloss.NewStyle().Foreground(lipgloss.Color("1")),
		audit.SeverityWarning:  lipgloss.NewStyle().Foreground(lipgloss.Color("3")),
	}
	okStyle  = lipgloss.NewStyle().Foreground(lipgloss.Color("2"))
	badStyle = lipgloss.NewStyle().Foreground(lipgloss.Color("9")).Bold(true)
)

func (m *model) View() string {
	s := m.snap
	var b strings.Builder
	w := m.width
	if w <= 0 {
		w = 100
	}
	cut := func(line string) string {
		if r := []rune(line); len(r) > w {
			return string(r[:w])
		}
		return line
	}
	b.WriteString(titleStyle.Render(cut("ami-audit dashboard  " + m.cfg.Title)))
	b.WriteString("\n\n")
	b.WriteString(headStyle.Render("Chain"))
	b.WriteString("\n")
	fmt.Fprintf(&b, "  size %d   head %s\n", s.Head.Size, short(s.Head.Hash))
	if s.HasCheckpoint {
		fmt.Fprintf(&b, "  last checkpoint seen: size %d, %s\n", s.Checkpoint.Size, s.Checkpoint.At.UTC().Format(time.RFC3339))
	} else {
		b.WriteString("  last checkpoint seen: none\n")
	}
	v := verification(s)
	switch {
	case v == "":
		v = "none yet (v verifies)"
	case s.Verification.OK && !s.Verifying:
		v = okStyle.Render(v)
	case !s.Verifying:
		v = badStyle.Render(cut(v))
	}
	b.WriteString("  last verify: " + v + "\n")
	b.WriteString("\n")
	rate := 0.0
	if n := len(s.Rate); n > 0 {
		rate = s.Rate[n-1]
	}
	b.WriteString(headStyle.Render("Appends"))
	fmt.Fprintf(&b, "  %.0f/s\n  %s\n\n", rate, Sparkline(s.Rate))
	b.WriteString(headStyle.Render("Findings"))
	fmt.Fprintf(&b, "  (in the %d newest records shown by the filters)\n  ", s.Scanned)
	for _, sev := range []audit.Severity{audit.SeverityCritical, audit.SeverityError, audit.SeverityWarning, audit.SeverityInfo, audit.SeverityDebug} {
		st, ok := sevStyle[sev]
		label := fmt.Sprintf("%s %d", sev, s.Findings[sev])
		if ok && s.Findings[sev] > 0 {
			label = st.Render(label)
		}
		b.WriteString(label + "   ")
	}
	b.WriteString("\n\n")
	b.WriteString(headStyle.Render("Latest records"))
	b.WriteString("\n")
	for _, r := range s.Latest {
		line := cut("  " + RecordLine(r))
		if st, ok := sevStyle[r.Severity]; ok {
			line = st.Render(line)
		}
		b.WriteString(line + "\n")
	}
	if len(s.Latest) == 0 {
		b.WriteString("  (none)\n")
	}
	b.WriteString("\n")
	if m.editing {
		fmt.Fprintf(&b, "filter: %s█   (Enter: keep, Esc: clear)\n", m.text)
	} else if m.text != "" {
		fmt.Fprintf(&b, "filter: %s   (/ edit, Esc clear)\n", m.text)
	} else {
		b.WriteString("/ filter   v verify   q quit\n")
	}
	if s.Err != nil {
		b.WriteString(badStyle.Render(cut("error: "+s.Err.Error())) + "\n")
	}
	return b.String()
}

func short(h string) string {
	if len(h) > 16 {
		return h[:16] + "…"
	}
	return h
}
