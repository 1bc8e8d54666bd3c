package security

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	audit "github.com/ami-orchestrator/ami-audit"
	"github.com/ami-orchestrator/ami-audit/analyzer"
	"github.com/ami-orchestrator/ami-audit/secrets"
)

// Finding types of the permissions check.
const (
	TypeWorldWritable  = "world_writable"
	TypeSetuid         = "setuid_file"
	TypeSetgid         = "setgid_file"
	TypeExecutableData = "executable_data_file"
	TypeExposedKey     = "exposed_private_key"
)

// keyHead is how much of a file is read to tell a private key (see
// secrets.IsPrivateKey), and maxKeyFile the largest file taken for one.
const (
	keyHead    = 1 << 10
	maxKeyFile = 1 << 20
)

// dataExtensions are file kinds that hold data, never a program: one
// with the execute bit is a mistake (or a disguise).
var dataExtensions = map[string]bool{
	".json": true, ".yaml": true, ".yml": true, ".toml": true, ".ini": true, ".cfg": true, ".conf": true,
	".csv": true, ".tsv": true, ".txt": true, ".md": true, ".rst": true, ".xml": true, ".html": true, ".htm": true,
	".css": true, ".svg": true, ".png": true, ".jpg": true, ".jpeg": true, ".gif": true, ".webp": true, ".ico": true,
	".pdf": true, ".lock": true, ".log": true, ".sql": true, ".env": true, ".pem": true, ".key": true, ".crt": true,
	".zip": true, ".gz": true, ".tar": true, ".parquet": true, ".db": true, ".sqlite": true,
}

// permissions is the permissions check over the working tree.
func (a *Analyzer) permissions(ctx context.Context, _ *audit.Analysis, report func(audit.Detected) error) ([]string, error) {
	report = reporter(report)
	dirs := map[string]bool{}
	files := 0
	err := walkTree(ctx, a.cfg.Root, func(rel string, fi fs.FileInfo) error {
		files++
		for d := path.Dir(rel); d != "." && !dirs[d]; d = path.Dir(d) {
			dirs[d] = true
			if dfi, err := os.Lstat(filepath.Join(a.cfg.Root, filepath.FromSlash(d))); err == nil {
				if err := checkMode(d, dfi, a.cfg.Root, report); err != nil {
					return err
				}
			}
		}
		return checkMode(rel, fi, a.cfg.Root, report)
	})
	if err != nil {
		return nil, err
	}
	a.count(func(s *Stats) { s.Files = files })
	return []string{CheckPermissions}, nil
}

// checkMode reports the permission problems of one file or directory.
func checkMode(rel string, fi fs.FileInfo, root string, report func(audit.Detected) error) error {
	m := fi.Mode()
	if m&fs.ModeSymlink != 0 {
		return nil // a link's own mode means nothing
	}
	kind := "file"
	if m.IsDir() {
		kind = "directory"
	}
	found := func(typ string, sev audit.Severity, desc, rec string) error {
		return report(audit.Detected{
			Key: "permission|" + typ + "|" + rel, Check: CheckPermissions,
			Target: rel, TargetType: audit.TargetFile,
			Finding: audit.Finding{FindingType: typ, Severity: sev, Description: desc, Location: rel, Recommendation: rec},
			Evidence: map[string]any{
				analyzer.EvidenceFile: rel, analyzer.EvidenceRule: typ,
				"mode": fmt.Sprintf("%04o", m.Perm()|specialBits(m)), "kind": kind,
			},
		})
	}
	if m.Perm()&0o002 != 0 && !(m.IsDir() && m&fs.ModeSticky != 0) {
		if err := found(TypeWorldWritable, audit.SeverityError,
			fmt.Sprintf("%s %s is writable by every user (mode %04o)", kind, rel, m.Perm()),
			"Remove the write permission of others: chmod o-w "+shellQuote(rel)+"."); err != nil {
			return err
		}
	}
	if m.IsDir() {
		return nil
	}
	if m&fs.ModeSetuid != 0 {
		if err := found(TypeSetuid, audit.SeverityError,
			fmt.Sprintf("%s runs with its owner's privileges (setuid, mode %04o)", rel, m.Perm()|specialBits(m)),
			"Remove the setuid bit unless the file must run as its owner: chmod u-s "+shellQuote(rel)+"."); err != nil {
			return err
		}
	}
	if m&fs.ModeSetgid != 0 {
		if err := found(TypeSetgid, audit.SeverityError,
			fmt.Sprintf("%s runs with its group's privileges (setgid, mode %04o)", rel, m.Perm()|specialBits(m)),
			"Remove the setgid bit unless the file must run as its group: chmod g-s "+shellQuote(rel)+"."); err != nil {
			return err
		}
	}
	if m.IsRegular() && m.Perm()&0o044 != 0 && fi.Size() <= maxKeyFile && isPrivateKeyFile(filepath.Join(root, filepath.FromSlash(rel))) {
		if err := found(TypeExposedKey, audit.SeverityError,
			fmt.Sprintf("private key %s is readable by its group or by others (mode %04o)", rel, m.Perm()),
			"Restrict it to its owner: chmod 600 "+shellQuote(rel)+" (and replace the key if others could read it)."); err != nil {
			return err
		}
	}
	if m.IsRegular() && m.Perm()&0o111 != 0 && dataExtensions[strings.ToLower(path.Ext(rel))] && !hasShebang(filepath.Join(root, filepath.FromSlash(rel))) {
		if err := found(TypeExecutableData, audit.SeverityWarning,
			fmt.Sprintf("data file %s is executable (mode %04o)", rel, m.Perm()),
			"Remove the execute bits: chmod a-x "+shellQuote(rel)+" (and git update-index --chmod=-x when it is committed)."); err != nil {
			return err
		}
	}
	return nil
}

// isPrivateKeyFile reads the head of a file to tell whether it is a
// private key; the head is not kept.
func isPrivateKeyFile(p string) bool {
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	var b [keyHead]byte
	n, _ := io.ReadFull(f, b[:])
	return secrets.IsPrivateKey(b[:n])
}

// specialBits are the setuid, setgid and sticky bits in chmod's octal.
func specialBits(m fs.FileMode) fs.FileMode {
	var b fs.FileMode
	if m&fs.ModeSetuid != 0 {
		b |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		b |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		b |= 0o1000
	}
	return b
}

// hasShebang reports whether the file starts with "#!". Key and
// certificate files are never opened (a private key's bytes are not read
// for this), and never start a script.
func hasShebang(p string) bool {
	switch strings.ToLower(path.Ext(p)) {
	case ".pem", ".key", ".crt", ".env":
		return false
	}
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	var b [2]byte
	n, _ := io.ReadFull(f, b[:])
	return n == 2 && string(b[:]) == "#!"
}

// shellQuote quotes a path for a command line in a recommendation.
func shellQuote(s string) string {
	if strings.ContainsFunc(s, func(r rune) bool {
		return !(r == '/' || r == '.' || r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
	}) {
		return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
	}
	return s
}
