package service

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoadManifest: any manifest (and compose file) is read or refused
// with an error, never a panic.
func FuzzLoadManifest(f *testing.F) {
	m, _ := os.ReadFile("../../testdata/ami/scripts/config/services.yaml")
	c, _ := os.ReadFile("../../testdata/ami/docker-compose.data.yml")
	f.Add(m, c)
	f.Add([]byte("services: {a: {compose: {file: c.yml, service: x}, health: {tcp: {port: 99999}}}}"), []byte("services: {x: {ports: [{published: '${P:-80}'}, 5, '1:2:3/udp'], volumes: [{type: bind}]}}"))
	f.Fuzz(func(t *testing.T, manifest, compose []byte) {
		root := t.TempDir()
		p := filepath.Join(root, "scripts", "config", "services.yaml")
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, manifest, 0o644)
		os.WriteFile(filepath.Join(root, "c.yml"), compose, 0o644)
		os.WriteFile(filepath.Join(root, "docker-compose.data.yml"), compose, 0o644)
		if m, err := LoadManifest(p, ""); err == nil {
			m.Select(nil, "")
		}
	})
}
