package report

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strconv"
)

// Machine formats (JSON, YAML) carry typed values: a summary value or a
// table cell that is a number in its one plain spelling (an integer
// without leading zeros, or a decimal fraction: "1234", "-3", "12.5") is
// written as a JSON number; in a table, only when every non-empty cell of
// its column is one (a column that mixes numbers and text stays text, so
// a column's type does not change from row to row), and the empty cells
// of a number column are null. Everything else stays a string; times are
// RFC 3339 strings. The JSON Schema (schema.json) describes the result.

var plainNumber = regexp.MustCompile(`^-?(0|[1-9][0-9]{0,14})(\.[0-9]{1,15})?$`)

// Typed returns s as a JSON value: a number when s is one in its plain
// spelling, else the string.
func Typed(s string) any {
	if plainNumber.MatchString(s) && s != "-0" {
		return json.Number(s)
	}
	return s
}

// MarshalJSON writes the value typed (see Typed).
func (it Item) MarshalJSON() ([]byte, error) {
	return marshal(struct {
		Label string `json:"label"`
		Value any    `json:"value"`
	}{it.Label, Typed(it.Value)})
}

// UnmarshalJSON reads an item whose value is a string or a number.
func (it *Item) UnmarshalJSON(b []byte) error {
	var v struct {
		Label string          `json:"label"`
		Value json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	it.Label = v.Label
	return unmarshalText(v.Value, &it.Value)
}

func unmarshalText(raw json.RawMessage, dst *string) error {
	if len(raw) == 0 || string(raw) == "null" {
		*dst = ""
		return nil
	}
	if raw[0] == '"' {
		return json.Unmarshal(raw, dst)
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err != nil {
		return err
	}
	*dst = n.String()
	return nil
}

// numberColumns reports, per column of s, whether every non-empty cell
// is a plain number (and at least one is).
func numberColumns(s Section) []bool {
	n := len(s.Columns)
	for _, row := range s.Rows {
		n = max(n, len(row))
	}
	out := make([]bool, n)
	for c := range n {
		seen, ok := false, true
		for _, row := range s.Rows {
			if c >= len(row) || row[c] == "" {
				continue
			}
			if _, isNum := Typed(row[c]).(json.Number); !isNum {
				ok = false
				break
			}
			seen = true
		}
		out[c] = ok && seen
	}
	return out
}

// MarshalJSON writes the section with typed cells (see Typed).
func (s Section) MarshalJSON() ([]byte, error) {
	type plain Section
	out := struct {
		plain
		Types []string `json:"types,omitempty"`
		Rows  [][]any  `json:"rows,omitempty"`
	}{plain: plain(s)}
	if len(s.Rows) > 0 {
		nums := numberColumns(s)
		out.Types = make([]string, len(nums))
		for c, isNum := range nums {
			out.Types[c] = "string"
			if isNum {
				out.Types[c] = "number"
			}
		}
		out.Rows = make([][]any, len(s.Rows))
		for i, row := range s.Rows {
			cells := make([]any, len(row))
			for c, v := range row {
				switch {
				case !nums[c]:
					cells[c] = v
				case v == "":
					cells[c] = nil
				default:
					cells[c] = json.Number(v)
				}
			}
			out.Rows[i] = cells
		}
	}
	return marshal(out)
}

// UnmarshalJSON reads a section whose cells are strings, numbers or null.
func (s *Section) UnmarshalJSON(b []byte) error {
	type plain Section
	var in struct {
		plain
		Rows [][]json.RawMessage `json:"rows"`
	}
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	*s = Section(in.plain)
	s.Rows = nil
	for _, row := range in.Rows {
		cells := make([]string, len(row))
		for c, raw := range row {
			if err := unmarshalText(raw, &cells[c]); err != nil {
				return err
			}
		}
		s.Rows = append(s.Rows, cells)
	}
	return nil
}

func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// ParseNumber is the float value of a plain number cell.
func ParseNumber(s string) (float64, bool) {
	if _, ok := Typed(s).(json.Number); !ok {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	return f, err == nil
}
