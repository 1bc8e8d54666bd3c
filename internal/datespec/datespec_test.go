package datespec

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2024, 3, 15, 10, 30, 0, 0, time.UTC)
	tests := []struct {
		in   string
		now  time.Time // zero: now
		want time.Time
	}{
		{in: "now", want: now},
		{in: "  NOW ", want: now},
		{in: "today", want: time.Date(2024, 3, 15, 0, 0, 0, 0, time.UTC)},
		{in: "yesterday", want: time.Date(2024, 3, 14, 0, 0, 0, 0, time.UTC)},
		{in: "2024-01-01", want: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)},
		{in: "2024-01-01", now: now.In(paris), want: time.Date(2024, 1, 1, 0, 0, 0, 0, paris)},
		{in: "2024-02-29T12:00:00Z", want: time.Date(2024, 2, 29, 12, 0, 0, 0, time.UTC)},
		{in: "2024-02-29t12:00:00z", want: time.Date(2024, 2, 29, 12, 0, 0, 0, time.UTC)},
		{in: "2024-02-29T12:00:00.123456789+02:00", want: time.Date(2024, 2, 29, 10, 0, 0, 123456789, time.UTC)},
		{in: "2024-02-29T12:00:00", want: time.Date(2024, 2, 29, 12, 0, 0, 0, time.UTC)},
		{in: "2024-02-29 12:00", want: time.Date(2024, 2, 29, 12, 0, 0, 0, time.UTC)},
		{in: "7 days ago", want: time.Date(2024, 3, 8, 10, 30, 0, 0, time.UTC)},
		{in: "1 day ago", want: time.Date(2024, 3, 14, 10, 30, 0, 0, time.UTC)},
		{in: "1 hour ago", want: now.Add(-time.Hour)},
		{in: "an hour ago", want: now.Add(-time.Hour)},
		{in: "a day ago", want: time.Date(2024, 3, 14, 10, 30, 0, 0, time.UTC)},
		{in: "30 minutes ago", want: now.Add(-30 * time.Minute)},
		{in: "45 seconds ago", want: now.Add(-45 * time.Second)},
		{in: "2 weeks ago", want: time.Date(2024, 3, 1, 10, 30, 0, 0, time.UTC)},
		{in: "3 months ago", want: time.Date(2023, 12, 15, 10, 30, 0, 0, time.UTC)},
		{in: "1 year ago", want: time.Date(2023, 3, 15, 10, 30, 0, 0, time.UTC)},
		{in: "2 Years  Ago", want: time.Date(2022, 3, 15, 10, 30, 0, 0, time.UTC)},
		{in: "7 days", want: time.Date(2024, 3, 8, 10, 30, 0, 0, time.UTC)},
		{in: "7d", want: time.Date(2024, 3, 8, 10, 30, 0, 0, time.UTC)},
		{in: "24h", want: now.Add(-24 * time.Hour)},
		{in: "24h ago", want: now.Add(-24 * time.Hour)},
		{in: "30m", want: now.Add(-30 * time.Minute)},
		{in: "2w", want: time.Date(2024, 3, 1, 10, 30, 0, 0, time.UTC)},
		{in: "3mo", want: time.Date(2023, 12, 15, 10, 30, 0, 0, time.UTC)},
		{in: "1y", want: time.Date(2023, 3, 15, 10, 30, 0, 0, time.UTC)},
		{in: "0 days ago", want: now},
		// Days are calendar days: across the spring-forward change in
		// Paris, one day back is 23 hours, not 24.
		{in: "1 day ago", now: time.Date(2024, 3, 31, 12, 0, 0, 0, paris), want: time.Date(2024, 3, 30, 12, 0, 0, 0, paris)},
		{in: "24h", now: time.Date(2024, 3, 31, 12, 0, 0, 0, paris), want: time.Date(2024, 3, 30, 11, 0, 0, 0, paris)},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			n := tc.now
			if n.IsZero() {
				n = now
			}
			got, err := Parse(tc.in, n)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.in, err)
			}
			if !got.Equal(tc.want) {
				t.Errorf("Parse(%q) = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	now := time.Date(2024, 3, 15, 10, 30, 0, 0, time.UTC)
	tests := []struct {
		in, why string
	}{
		{"", "it is empty"},
		{"   ", "it is empty"},
		{"tomorrow", ""},
		{"7", ""},
		{"days ago", ""},
		{"7 fortnights ago", ""},
		{"-7 days ago", ""},
		{"7.5 days ago", ""},
		{"+7 days ago", ""},
		{"seven days ago", ""},
		{"7 days ago please", ""},
		{"2024-13-01", "not a valid calendar date"},
		{"2024-02-30", "not a valid calendar date"},
		{"2024-01", ""},
		{"01/02/2024", ""},
		{"99999999 days ago", "larger than"},
		{"999999 years ago", "out of range"},
		{"1000000 hours ago", ""}, // 114 years: fine
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			_, err := Parse(tc.in, now)
			if tc.in == "1000000 hours ago" {
				if err != nil {
					t.Fatalf("Parse(%q): %v", tc.in, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Parse(%q) succeeded, want an error", tc.in)
			}
			if !errors.Is(err, ErrSyntax) {
				t.Errorf("error %v does not wrap ErrSyntax", err)
			}
			msg := err.Error()
			for _, want := range []string{`"` + tc.in + `"`, "7 days ago", "2024-01-01", "yesterday", tc.why} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not mention %q", msg, want)
				}
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"now", "today", "yesterday", "2024-01-01", "2024-01-01T00:00:00Z",
		"7 days ago", "24h", "3mo", "an hour ago", "9999-12-31", "0001-01-01T00:00:00+01:00", "1000000y"} {
		f.Add(s)
	}
	now := time.Date(2024, 3, 15, 10, 30, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		got, err := Parse(s, now)
		if err != nil {
			if !errors.Is(err, ErrSyntax) {
				t.Fatalf("Parse(%q): error %v does not wrap ErrSyntax", s, err)
			}
			return
		}
		if y := got.UTC().Year(); y < 1 || y > 9999 {
			t.Fatalf("Parse(%q) = %v: year out of range", s, got)
		}
	})
}
