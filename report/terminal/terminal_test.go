package terminal

import (
	"bytes"
	"testing"

	"github.com/ami-orchestrator/ami-audit/report/internal/reporttest"
)

func TestGolden(t *testing.T) {
	tests := []struct {
		file string
		opts Options
	}{
		{"sample.txt", Options{}},
		{"sample-colour.txt", Options{Colour: true}},
		{"sample-width60.txt", Options{Width: 60}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			var buf bytes.Buffer
			if err := New(tc.opts).Format(&buf, reporttest.Sample()); err != nil {
				t.Fatal(err)
			}
			reporttest.Golden(t, tc.file, buf.Bytes())
		})
	}
}
