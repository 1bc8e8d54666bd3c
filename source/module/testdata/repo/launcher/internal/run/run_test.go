package run

import "testing"

func TestStartNone(t *testing.T) {
	if Start(nil) == nil {
		t.Fatal("want an error")
	}
}

func TestStartEmpty(t *testing.T) {
	if Start([]string{""}) == nil {
		t.Fatal("want an error")
	}
}

func TestMain(m *testing.M) { m.Run() }
