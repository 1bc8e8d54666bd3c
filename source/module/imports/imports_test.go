package imports

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestPython(t *testing.T) {
	src := `"""Module docstring.

import not_an_import
from fake import thing
"""
import os, sys as system
import base.backend.dataops  # a comment: import commented
from base.backend import (
    models,
    utils as u,  # trailing comment
)
from . import sibling
from ..pkg.mod import name1, name2
from .import dotless
from __future__ import annotations
s = "import in_a_string"
x = 1; import json; from a.b import c
from long.module \
    import continued


def f():
    import lazy.inner
    text = '''
from also_not import this
'''
    return text

from star import *
if True: import inline
`
	got := Python([]byte(src))
	want := []PyImport{
		{Module: "os", Line: 6},
		{Module: "sys", Line: 6},
		{Module: "base.backend.dataops", Line: 7},
		{Module: "base.backend", Name: "models", Line: 8},
		{Module: "base.backend", Name: "utils", Line: 8},
		{Module: "", Name: "sibling", Level: 1, Line: 12},
		{Module: "pkg.mod", Name: "name1", Level: 2, Line: 13},
		{Module: "pkg.mod", Name: "name2", Level: 2, Line: 13},
		{Module: "", Name: "dotless", Level: 1, Line: 14},
		{Module: "json", Line: 17},
		{Module: "a.b", Name: "c", Line: 17},
		{Module: "long.module", Name: "continued", Line: 18},
		{Module: "lazy.inner", Line: 23},
		{Module: "star", Name: "*", Line: 29},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("imports (-want +got):\n%s", diff)
	}
}

func TestGo(t *testing.T) {
	src := "package x\n\nimport (\n\t\"fmt\"\n\tau \"github.com/ami-orchestrator/ami-audit\"\n\t_ \"embed\"\n)\nimport \"os\"\n\nfunc f() { syntax error here"
	got, err := Go("x.go", []byte(src))
	if err != nil {
		t.Fatalf("imports-only parse should not read the body: %v", err)
	}
	want := []string{"fmt", "github.com/ami-orchestrator/ami-audit", "embed", "os"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("imports (-want +got):\n%s", diff)
	}
	if _, err := Go("bad.go", []byte("package x\nimport \"fmt")); err == nil || !strings.HasPrefix(err.Error(), "bad.go:2:") {
		t.Errorf("error = %v, want one at bad.go:2", err)
	}
}

func FuzzPython(f *testing.F) {
	f.Add([]byte("import a\nfrom .b import (c,\n d)\n"))
	f.Add([]byte("'''\nimport x\n"))
	f.Add([]byte("from . import \\\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		lines := strings.Count(string(src), "\n") + 1
		for _, imp := range Python(src) {
			if imp.Line < 1 || imp.Line > lines {
				t.Fatalf("line %d outside 1..%d", imp.Line, lines)
			}
			if imp.Module == "" && imp.Level == 0 {
				t.Fatalf("absolute import without a module: %+v", imp)
			}
		}
	})
}

func FuzzGo(f *testing.F) {
	f.Add([]byte("package x\nimport \"fmt\"\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		_, _ = Go("f.go", src)
	})
}
