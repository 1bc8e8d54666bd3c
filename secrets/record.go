package secrets

import (
	"bytes"
	"encoding/json"
	"strings"

	audit "github.com/ami-orchestrator/ami-audit"
)

// MaskRecord masks, in place, every value of r that could hold a secret:
// actor, action, target, reason, every string in context and metadata
// (map keys too, and at any depth), and the text of findings and
// violations. A string value is also checked together with its key, so
// that {"password": "hunter2"} is masked as password=hunter2 would be.
// It reports whether anything changed. Identifiers, hashes, times and the
// enumerations (target type, severity, classification, status) are left
// alone.
func (d *Detector) MaskRecord(r *audit.Record) bool {
	if r == nil {
		return false
	}
	m := masker{d: d}
	m.str(&r.Actor, "actor")
	m.str(&r.Action, "action")
	m.str(&r.Target, "target")
	m.str(&r.Reason, "reason")
	r.Context = m.object(r.Context)
	r.Metadata = m.object(r.Metadata)
	for i := range r.Findings {
		f := &r.Findings[i]
		m.str(&f.FindingType, "")
		m.str(&f.Description, "")
		m.str(&f.Location, "")
		m.str(&f.Recommendation, "")
		f.Metadata = m.object(f.Metadata)
	}
	for i := range r.Violations {
		v := &r.Violations[i]
		m.str(&v.Rule, "")
		m.str(&v.Message, "")
		m.str(&v.FilePath, "")
	}
	return m.changed
}

// MaskValue masks the value of a key/value pair: the value alone, and,
// when the key names a secret ("password", "api_key"), as key=value.
func (d *Detector) MaskValue(key, value string) string {
	if v := d.Mask(value); v != value || key == "" || value == "" {
		return v
	}
	if !d.always && !d.hasKeyword(key) {
		return value
	}
	prefix := key + "="
	ms := d.Find(prefix + value)
	if len(ms) == 0 {
		return value
	}
	var b strings.Builder
	last := 0
	for _, m := range ms {
		start, end := max(m.Start-len(prefix), 0), m.End-len(prefix)
		if end <= 0 {
			continue // all in the key
		}
		b.WriteString(value[last:start])
		b.WriteString(Marker(m.RuleID, m.Fingerprint))
		last = end
	}
	b.WriteString(value[last:])
	return b.String()
}

type masker struct {
	d       *Detector
	changed bool
}

func (m *masker) str(p *string, key string) {
	if *p == "" {
		return
	}
	if v := m.d.MaskValue(key, *p); v != *p {
		*p, m.changed = v, true
	}
}

func (m *masker) object(o map[string]any) map[string]any {
	if o == nil {
		return nil
	}
	var renamed map[string]string
	for k, v := range o {
		o[k] = m.value(k, v)
		if mk := m.d.Mask(k); mk != k {
			if renamed == nil {
				renamed = map[string]string{}
			}
			renamed[k] = mk
		}
	}
	for k, mk := range renamed {
		v := o[k]
		delete(o, k)
		o[mk] = v
		m.changed = true
	}
	return o
}

func (m *masker) value(key string, v any) any {
	switch x := v.(type) {
	case nil, bool, int, int64, int32, uint, uint64, uint32, float64, float32, json.Number:
		return v
	case string:
		m.str(&x, key)
		return x
	case []string:
		for i := range x {
			m.str(&x[i], key)
		}
		return x
	case []any:
		for i := range x {
			x[i] = m.value(key, x[i])
		}
		return x
	case map[string]any:
		return m.object(x)
	case map[string]string:
		out := make(map[string]any, len(x))
		for k, s := range x {
			out[k] = s
		}
		was := m.changed
		m.changed = false
		n := m.object(out)
		if !m.changed {
			m.changed = was
			return x
		}
		return n
	}
	return m.other(key, v)
}

// other masks a value of any other type through its JSON form, which is
// what the record's hash covers. Values without a secret are kept as
// they are.
func (m *masker) other(key string, v any) any {
	b, err := json.Marshal(v)
	if err != nil || (!m.d.always && !m.d.hasKeyword(string(b))) {
		return v
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var g any
	if dec.Decode(&g) != nil {
		return v
	}
	was := m.changed
	m.changed = false
	g = m.value(key, g)
	if !m.changed {
		m.changed = was
		return v
	}
	return g
}
