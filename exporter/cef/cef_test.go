package cef_test

import (
	"testing"

	"github.com/ami-orchestrator/ami-audit/exporter/cef"
	"github.com/ami-orchestrator/ami-audit/exporter/exportertest"
)

func TestGolden(t *testing.T) {
	b, err := cef.Encode(nil, exportertest.Fixed())
	if err != nil {
		t.Fatal(err)
	}
	exportertest.Golden(t, "record.cef", append(b, '\n'))
}
