// Package plural writes counts with their nouns in English, so that no
// report or message says "1 files": Count(1, "file") is "1 file",
// Count(3, "entry") is "3 entries".
package plural

import (
	"strconv"
	"strings"
)

// Integer is any integer type a count may have.
type Integer interface {
	~int | ~int8 | ~int16 | ~int32 | ~int64 | ~uint | ~uint8 | ~uint16 | ~uint32 | ~uint64
}

// Count returns n and its noun: "1 file", "0 files", "2 entries". plural
// names an irregular plural ("1 analysis", "2 analyses").
func Count[N Integer](n N, singular string, plural ...string) string {
	return strconv.FormatInt(int64(n), 10) + " " + Noun(n, singular, plural...)
}

// Noun returns the noun for n things, singular only when n is 1 or -1:
// "%d of %d " + Noun(total, "file").
func Noun[N Integer](n N, singular string, plural ...string) string {
	if n == 1 || int64(n) == -1 {
		return singular
	}
	if len(plural) > 0 {
		return plural[0]
	}
	return Of(singular)
}

// Pick returns one of two words by the count it goes with: Pick(n, "is",
// "are"), Pick(n, "was", "were").
func Pick[N Integer](n N, one, many string) string {
	if n == 1 || int64(n) == -1 {
		return one
	}
	return many
}

// Of returns the regular plural of an English noun: file → files,
// entry → entries, match → matches, key → keys.
func Of(singular string) string {
	switch {
	case singular == "":
		return ""
	case strings.HasSuffix(singular, "y") && len(singular) > 1 && !strings.ContainsRune("aeiou", rune(singular[len(singular)-2])):
		return singular[:len(singular)-1] + "ies"
	case strings.HasSuffix(singular, "s"), strings.HasSuffix(singular, "x"), strings.HasSuffix(singular, "z"),
		strings.HasSuffix(singular, "ch"), strings.HasSuffix(singular, "sh"):
		return singular + "es"
	}
	return singular + "s"
}

// Singular undoes Of for a regular plural: files → file, entries → entry,
// matches → match. A word that is not such a plural is returned as is.
func Singular(plural string) string {
	switch {
	case strings.HasSuffix(plural, "ies") && len(plural) > 3:
		return plural[:len(plural)-3] + "y"
	case strings.HasSuffix(plural, "sses"), strings.HasSuffix(plural, "xes"), strings.HasSuffix(plural, "zes"),
		strings.HasSuffix(plural, "ches"), strings.HasSuffix(plural, "shes"):
		return plural[:len(plural)-2]
	case strings.HasSuffix(plural, "ss"):
		return plural
	case strings.HasSuffix(plural, "s") && len(plural) > 1:
		return plural[:len(plural)-1]
	}
	return plural
}
