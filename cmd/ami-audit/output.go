package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/ami-orchestrator/ami-audit/internal/plural"
	"github.com/ami-orchestrator/ami-audit/report"
	"github.com/ami-orchestrator/ami-audit/report/formats"
	"github.com/ami-orchestrator/ami-audit/store/all"
	"github.com/ami-orchestrator/ami-audit/trail"
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

// check validates the format, so a command can fail before doing any work.
func (o outputFlags) check() error {
	_, err := o.formatName()
	return err
}

// checkOutputFlags validates the format and the output path (see
// checkOutput) before a command does any work.
func (a *App) checkOutputFlags(o outputFlags) error {
	if err := o.check(); err != nil {
		return err
	}
	return a.checkOutput(o.output)
}

// render writes r as the flags ask: to stdout, or atomically to a file
// (see writeOutput).
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
	if r.Integrity == nil {
		// Every report states the integrity of what it reports on.
		r.Integrity = a.integrityOf(context.Background())
	}
	if mf, ok := f.(report.FileFormatter); ok && o.toFile() {
		return a.renderFiles(o.output, mf, r)
	}
	if err := a.writeOutput(o.output, func(w io.Writer) error { return f.Format(w, r) }); err != nil {
		return err
	}
	if o.toFile() && !a.quiet {
		fmt.Fprintf(a.stderr, "report written to %s\n", o.output)
	}
	return nil
}

// renderFiles writes a report whose format makes several files (CSV: one
// table per file): the main one at path, the others beside it as
// BASE-NAME.EXT, each replaced atomically.
func (a *App) renderFiles(path string, f report.FileFormatter, r *report.Report) error {
	ext := filepath.Ext(path)
	base := strings.TrimSuffix(path, ext)
	var extra []string
	var pending []func() error
	err := a.writeOutput(path, func(main io.Writer) error {
		return f.FormatFiles(main, r, func(name string) (io.Writer, error) {
			p := base + "-" + name + ext
			if err := a.checkOutput(p); err != nil {
				return nil, err
			}
			buf := &bytes.Buffer{}
			extra = append(extra, p)
			pending = append(pending, func() error {
				return writeAtomic(p, func(f *os.File) error { _, err := f.Write(buf.Bytes()); return err })
			})
			return buf, nil
		})
	})
	if err != nil {
		return err
	}
	for _, w := range pending {
		if err := w(); err != nil {
			return err
		}
	}
	if !a.quiet {
		fmt.Fprintf(a.stderr, "report written to %s", path)
		if len(extra) > 0 {
			fmt.Fprintf(a.stderr, " and %s, one table each (%s)", plural.Count(len(extra), "more file"), strings.Join(extra, ", "))
		}
		fmt.Fprintln(a.stderr)
	}
	return nil
}

// appendedBeforeFailure says how many records a failed run appended: they
// stay in the trail.
func (a *App) appendedBeforeFailure(n int) {
	if n > 0 {
		fmt.Fprintf(a.stderr, "ami-audit: %s appended before the failure\n", plural.Count(n, "record")+" "+plural.Pick(n, "was", "were"))
	}
}

// outputMode is the mode of every file ami-audit writes for others to read:
// reports, exports, checkpoints, proofs. Only private keys are narrower
// (0600, package keys).
const outputMode = 0o644

// writeOutput runs write against stdout when path is "" or "-", else
// against a file that replaces path (mode 0644) only when write succeeds:
// written to a temporary file beside it, synced, then renamed, so readers
// never see half a file and a failed run leaves the old file in place. A
// path inside the trail's directory, or the store's own file, is refused
// (see checkOutput).
func (a *App) writeOutput(path string, write func(io.Writer) error) error {
	if path == "" || path == "-" {
		return write(a.stdout)
	}
	if err := a.checkOutput(path); err != nil {
		return err
	}
	return writeAtomic(path, func(f *os.File) error { return write(f) })
}

// writeAtomic creates or replaces path, mode 0644, with what write
// produces.
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
	if err = tmp.Chmod(outputMode); err != nil {
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

// checkOutput refuses to write path when it lies inside the trail's
// directory (whatever the spelling: relative, through symbolic links, or
// "..") or is the embedded store's file or one of its companions (-wal,
// -shm, -journal): an export or a report written there would replace the
// trail. "" and "-" (standard output) are always fine. The error is a usage
// error naming the flag's value and the trail's directory.
func (a *App) checkOutput(path string) error {
	if path == "" || path == "-" {
		return nil
	}
	// Where the rename lands (a link there is replaced), and where a
	// write through a link would land.
	raw := rawAbs(path)
	cut := strings.LastIndexByte(raw, filepath.Separator) + 1
	targets := []string{filepath.Join(resolvePath(raw[:cut]), raw[cut:]), resolvePath(raw)}
	trailDir := a.auditDir
	if trailDir == "" {
		trailDir = findAuditDir()
	}
	dir := resolvePath(trailDir)
	db, isFile := all.SQLitePath(trail.StoreLocation(a.trailConfig(true)))
	if isFile {
		db = resolvePath(db)
	}
	for _, target := range targets {
		if within(target, dir) {
			return withHint(usagef("%s is inside the trail's directory %s; ami-audit never writes its outputs there", path, dir),
				"write it somewhere else, e.g. "+filepath.Base(path)+" in the current directory")
		}
		if !isFile {
			continue
		}
		for _, suffix := range []string{"", "-wal", "-shm", "-journal"} {
			if target == db+suffix {
				return withHint(usagef("%s is the trail's store (%s); ami-audit never writes its outputs there", path, db),
					"write it somewhere else")
			}
		}
	}
	return nil
}

// rawAbs makes p absolute without cleaning it: "link/../x" must be
// resolved by following link first, as the system does, not by dropping
// "link/.." as filepath.Clean would.
func rawAbs(p string) string {
	p = filepath.FromSlash(p)
	if filepath.IsAbs(p) {
		return p
	}
	wd, err := os.Getwd()
	if err != nil {
		return p
	}
	return wd + string(filepath.Separator) + p
}

// resolvePath makes p absolute and resolves every symbolic link and ".."
// of the longest part of it that exists, as the system would, so that two
// spellings of one place compare equal. The rest, which does not exist,
// is joined lexically.
func resolvePath(p string) string {
	p = rawAbs(p)
	sep := string(filepath.Separator)
	parts := strings.Split(p, sep)
	for i := len(parts); i > 0; i-- {
		prefix := strings.Join(parts[:i], sep)
		if prefix == "" || filepath.VolumeName(prefix) == prefix {
			prefix += sep
		}
		if r, err := filepath.EvalSymlinks(prefix); err == nil {
			return filepath.Join(append([]string{r}, parts[i:]...)...)
		}
	}
	return filepath.Clean(p)
}

// within reports whether path is dir or lies below it; both are resolved.
func within(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
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
