package module

import "strings"

// notProgramming are the languages (as scc names them) of data, markup,
// documentation and configuration: a module is never labelled with one
// of them while it holds code in a programming language.
var notProgramming = map[string]bool{
	"markdown": true, "json": true, "jsonl": true, "json5": true, "yaml": true, "toml": true,
	"xml": true, "xml schema": true, "csv": true, "tsv": true, "plain text": true, "text": true,
	"license": true, "restructuredtext": true, "asciidoc": true, "org": true, "ini": true,
	"properties file": true, "html": true, "svg": true, "css": true, "scss": true, "sass": true,
	"less": true, "gitignore": true, "docker ignore": true, "editorconfig": true, "tex": true,
	"bibtex": true,
}

// IsProgramming reports whether language (scc's name) is a programming
// language rather than data, markup, documentation or configuration.
func IsProgramming(language string) bool {
	return !notProgramming[strings.ToLower(language)]
}

// PrimaryLanguage is the language a module is labelled with: the
// programming language with the most code, else (a module of data or
// documentation only) the language with the most code. langs is most code
// first, as Result.Languages.
func PrimaryLanguage(langs []LanguageCounts) string {
	for _, l := range langs {
		if IsProgramming(l.Language) && l.Code > 0 {
			return l.Language
		}
	}
	if len(langs) > 0 {
		return langs[0].Language
	}
	return ""
}
