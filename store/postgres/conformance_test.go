package postgres_test

import (
	"testing"

	"github.com/ami-orchestrator/ami-audit/store"
	"github.com/ami-orchestrator/ami-audit/store/postgres/pgtest"
	"github.com/ami-orchestrator/ami-audit/storetest"
)

// TestConformance runs the store conformance suite against PostgreSQL.
func TestConformance(t *testing.T) {
	url := pgtest.URL(t)
	storetest.Run(t, storetest.Harness{Slow: true, Open: func(t *testing.T, opts store.Options) *storetest.Instance {
		return pgtest.Open(t, url, opts)
	}})
}
