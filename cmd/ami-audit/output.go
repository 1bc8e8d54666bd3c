package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/ami-orchestrator/ami-audit/report"
	"github.com/ami-orchestrator/ami-audit/report/formats"
)

// outputFlags are the --format and --output flags every collecting command
// takes.
type outputFlags struct {
	format string // --format; "" picks the default
	output string // --output; "" or "-" is stdout
}

// addOutputFlags registers --format and --output on cmd.
//
// The default format is "terminal": aligned tables, in colour on a
// terminal, plain text when stdout is piped or redirected, when NO_COLOR or
// --no-color is set, and in files. When --output names a file with a known
// extension (.md, .html, .json, .yaml, .csv, .txt) and --format is not
// given, the extension chooses the format.
func addOutputFlags(cmd *cobra.Command, o *outputFlags) {
	f := cmd.Flags()
	f.StringVar(&o.format, "format", "", "report format: "+strings.Join(formats.Names(), ", ")+
		" (default: from --output's extension, else terminal; colour only on a terminal)")
	f.StringVarP(&o.output, "output", "o", "", "write the report to FILE (replaced atomically) instead of stdout")
}

// formatName resolves the format to use.
func (o outputFlags) formatName() (string, error) {
	if o.format != "" {
		name, ok := formats.Canonical(o.format)
		if !ok {
			_, err := formats.ByName(o.format, formats.Options{})
			return "", withHint(usageError{err}, "see --help for --format")
		}
		return name, nil
	}
	if o.toFile() {
		if name, ok := formats.ByExtension(o.output); ok {
			return name, nil
		}
	}
	return "terminal", nil
}

func (o outputFlags) toFile() bool { return o.output != "" && o.output != "-" }

// check validates the flags, so a command can fail before doing any work.
func (o outputFlags) check() error {
	_, err := o.formatName()
	return err
}

// render writes r as the flags ask: to stdout, or atomically to a file
// (written to a temporary file beside it, synced, then renamed, so readers
// never see half a report and a failed run leaves the old file in place).
func (a *App) render(o outputFlags, r *report.Report) error {
	name, err := o.formatName()
	if err != nil {
		return err
	}
	var opts formats.Options
	if !o.toFile() {
		opts.Colour = a.colour()
		opts.Width = terminalWidth(a.stdout)
	}
	f, err := formats.ByName(name, opts)
	if err != nil {
		return usageError{err}
	}
	if !o.toFile() {
		return f.Format(a.stdout, r)
	}
	if err := writeAtomic(o.output, func(w *os.File) error { return f.Format(w, r) }); err != nil {
		return err
	}
	if !a.quiet {
		fmt.Fprintf(a.stderr, "report written to %s\n", o.output)
	}
	return nil
}

// writeAtomic creates or replaces path with what write produces.
func writeAtomic(path string, write func(*os.File) error) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err = write(tmp); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// terminalWidth is the width of the terminal w is, or 0.
func terminalWidth(w any) int {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return 0
	}
	width, _, err := term.GetSize(int(f.Fd()))
	if err != nil {
		return 0
	}
	return width
}
