package drain

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestMask(t *testing.T) {
	tests := []struct{ in, want string }{
		{"timeout", "timeout"},
		{"30s", Wildcard},
		{"1.5ms", Wildcard},
		{"42", Wildcard},
		{"-7", Wildcard},
		{"10.0.0.1", Wildcard},
		{"10.0.0.1:5432", Wildcard},
		{"[::1]:80", Wildcard},
		{"0xdeadbeef", Wildcard},
		{"deadbeefcafe", Wildcard},
		{"deadbeef", Wildcard},
		{"beef", "beef"},
		{"/var/log/app.log", Wildcard},
		{"./run.sh", Wildcard},
		{"~/x", Wildcard},
		{"../up", Wildcard},
		{"/", "/"},
		{"https://example.com/x", Wildcard},
		{"alice@example.com", Wildcard},
		{"3fa85f64-5717-4562-b3fc-2c963f66afa6", Wildcard},
		{"2025-12-01T10:00:00Z", Wildcard},
		{"(42)", Wildcard},
		{"42,", Wildcard},
		{"host,", "host,"},
		{"status=500", "status=" + Wildcard},
		{"user=alice", "user=alice"},
		{"path=/tmp/x", "path=" + Wildcard},
		{"=5", Wildcard},
		{"a=b=3", "a=" + Wildcard},
		{"x=y", "x=y"},
		{"<*>", Wildcard},
		{"", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := Mask(tt.in); got != tt.want {
				t.Errorf("Mask(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestTokenize(t *testing.T) {
	tests := []struct {
		in   string
		max  int
		want []string
	}{
		{"", 0, nil},
		{"   ", 0, nil},
		{"a  b\tc\n", 0, []string{"a", "b", "c"}},
		{"retry 3 of 5", 0, []string{"retry", Wildcard, "of", Wildcard}},
		{"a b c d", 3, []string{"a", "b", Ellipsis}},
		{"a b c", 3, []string{"a", "b", "c"}},
		{"a b c ", 3, []string{"a", "b", "c"}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got := Tokenize(nil, tt.in, tt.max)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Tokenize(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestMinerGroupsParameters(t *testing.T) {
	m := New[int](Config{})
	a, created := m.Add("timeout after 30s on host a")
	if !created {
		t.Fatal("first message did not create a cluster")
	}
	b, created := m.Add("timeout after 12s on host b")
	if created || b != a {
		t.Fatalf("second message started a new cluster %d (want %d)", b.ID, a.ID)
	}
	if got, want := a.Template(), "timeout after <*> on host <*>"; got != want {
		t.Errorf("template = %q, want %q", got, want)
	}
	if a.Size != 2 {
		t.Errorf("size = %d, want 2", a.Size)
	}
	c, created := m.Add("connection refused by 10.0.0.7")
	if !created || c == a {
		t.Errorf("an unrelated message joined cluster %d", c.ID)
	}
	if got := m.Match("timeout after 1m on host zzz"); got != a {
		t.Errorf("Match did not find the timeout cluster")
	}
	if got := m.Match("nothing like it at all here"); got != nil {
		t.Errorf("Match found cluster %d for an unrelated message", got.ID)
	}
	if m.Len() != 2 {
		t.Errorf("Len = %d, want 2", m.Len())
	}
}

func TestMinerThreshold(t *testing.T) {
	tests := []struct {
		a, b      string
		threshold float64
		join      bool
	}{
		// two of four positions agree: 0.5
		{"alpha beta gamma delta", "alpha beta zeta eta", 0.4, true},
		{"alpha beta gamma delta", "alpha beta zeta eta", 0.6, false},
		// one of four: 0.25
		{"alpha beta gamma delta", "alpha theta zeta eta", 0.4, false},
		// parameters in both positions are left out: 2 of 3 literal positions agree
		{"failed 42 open file", "failed 7 open dir", 0.6, true},
		// only parameters: identical
		{"1 2 3", "4 5 6", 0.9, true},
		// different lengths never join
		{"alpha beta", "alpha beta gamma", 0.1, false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s|%s|%v", tt.a, tt.b, tt.threshold), func(t *testing.T) {
			m := New[struct{}](Config{SimThreshold: tt.threshold})
			x, _ := m.Add(tt.a)
			y, _ := m.Add(tt.b)
			if got := x == y; got != tt.join {
				t.Errorf("joined = %v, want %v", got, tt.join)
			}
		})
	}
}

func TestMinerEvictsLeastRecent(t *testing.T) {
	m := New[string](Config{MaxClusters: 3})
	var evicted []string
	m.OnEvict = func(c *Cluster[string]) { evicted = append(evicted, c.Template()) }
	m.Add("one alpha")
	m.Add("two beta gamma")
	m.Add("three delta epsilon zeta")
	m.Add("one alpha") // touch: "two…" is now the least recent
	m.Add("four eta theta iota kappa")
	if diff := cmp.Diff([]string{"two beta gamma"}, evicted); diff != "" {
		t.Errorf("evicted (-want +got):\n%s", diff)
	}
	if m.Len() != 3 || m.Evicted() != 1 {
		t.Errorf("Len=%d Evicted=%d, want 3 and 1", m.Len(), m.Evicted())
	}
	if _, ok := m.root[3]; ok {
		t.Error("the evicted cluster's branch was not pruned")
	}
	c, created := m.Add("two beta gamma")
	if !created || c.ID != 5 {
		t.Errorf("a returning evicted template got cluster %d created=%v, want a new cluster 5", c.ID, created)
	}
	var ids []int64
	m.All(func(c *Cluster[string]) bool { ids = append(ids, c.ID); return true })
	if diff := cmp.Diff([]int64{5, 4, 1}, ids); diff != "" {
		t.Errorf("recency order (-want +got):\n%s", diff)
	}
}

func TestMinerMaxChildren(t *testing.T) {
	m := New[struct{}](Config{MaxChildren: 2, Depth: 3, SimThreshold: 0.9})
	for _, w := range []string{"aa", "bb", "cc", "dd", "ee"} {
		m.Add(w + " happened now")
	}
	n := m.root[3]
	if len(n.children) > 3 { // two words and the wildcard branch
		t.Errorf("node has %d children, cap 2 (+<*>)", len(n.children))
	}
}

// genTemplates are 50 templates in the shapes of real service logs. Each
// <*> is filled by a random parameter of the kind named after it.
var genTemplates = []string{
	"timeout after <dur> on host <word>",
	"connection to <ip> refused",
	"connection reset by peer <ip>:<num>",
	"user <word> logged in from <ip>",
	"user <word> logged out after <dur> idle",
	"request <uuid> failed with status <num>",
	"request <uuid> completed in <dur>",
	"GET <path> returned <num> in <dur>",
	"POST <path> returned <num> in <dur>",
	"disk usage at <num>% on volume <path>",
	"cache miss for key <hex>",
	"cache eviction removed <num> entries",
	"worker <num> started",
	"worker <num> stopped with exit code <num>",
	"retrying task <uuid> attempt <num> of <num>",
	"failed to open file <path>: permission denied",
	"failed to parse config <path> line <num>",
	"database query took <dur> rows=<num>",
	"slow query detected on table <word> duration <dur>",
	"deadlock detected between transactions <num> and <num>",
	"memory pressure high: <num> MB used of <num> MB",
	"gc pause of <dur> exceeded budget",
	"health check for service <word> passed",
	"health check for service <word> failed: <word> unreachable",
	"certificate for <word> expires in <num> days",
	"token refresh failed for client <hex>",
	"rate limit exceeded for <ip> on route <path>",
	"queue <word> depth is <num> messages",
	"message <uuid> acknowledged by consumer <num>",
	"message <uuid> redelivered <num> times",
	"scheduler tick took <dur>",
	"snapshot <num> written to <path> size <num> bytes",
	"replica <ip> lagging by <num> seconds",
	"leader election won by node <num> term <num>",
	"invalid signature on payload <hex> from <ip>",
	"backup job finished: <num> files, <num> bytes, <dur>",
	"unhandled exception in handler <word> at line <num>",
	"config reloaded from <path>",
	"listening on port <num>",
	"shutting down gracefully, <num> connections drained",
	"lock on resource <hex> held for <dur>",
	"feature flag <word> enabled for tenant <num>",
	"email to <email> bounced",
	"webhook to <url> timed out after <dur>",
	"pipeline stage <word> produced <num> records in <dur>",
	"index rebuild progress <num>/<num>",
	"session <hex> expired",
	"upload of <path> aborted at <num> percent",
	"DNS lookup for <word> took <dur>",
	"audit event <uuid> persisted at offset <num>",
}

var words = []string{"alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet", "kilo", "lima", "mike"}

func genParam(r *rand.Rand, kind string) string {
	switch kind {
	case "dur":
		units := []string{"ms", "s", "m", "µs"}
		return strconv.Itoa(r.IntN(1000)) + units[r.IntN(len(units))]
	case "ip":
		return fmt.Sprintf("%d.%d.%d.%d", r.IntN(256), r.IntN(256), r.IntN(256), r.IntN(256))
	case "num":
		return strconv.Itoa(r.IntN(100000))
	case "word":
		return words[r.IntN(len(words))]
	case "uuid":
		return fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", r.Uint32(), r.IntN(1<<16), r.IntN(1<<16), r.IntN(1<<16), r.Uint64()&(1<<48-1))
	case "hex":
		return fmt.Sprintf("%016x", r.Uint64())
	case "path":
		return fmt.Sprintf("/srv/%s/%s-%d.log", words[r.IntN(len(words))], words[r.IntN(len(words))], r.IntN(100))
	case "email":
		return words[r.IntN(len(words))] + "@example.org"
	case "url":
		return "https://" + words[r.IntN(len(words))] + ".example.org/hook"
	}
	panic("unknown parameter kind " + kind)
}

// expand fills a generator template: it returns the message and the
// template as the miner should find it.
func expand(r *rand.Rand, tmpl string) (msg, want string) {
	var m, w strings.Builder
	for {
		i := strings.IndexByte(tmpl, '<')
		if i < 0 {
			m.WriteString(tmpl)
			w.WriteString(tmpl)
			break
		}
		j := strings.IndexByte(tmpl[i:], '>') + i
		m.WriteString(tmpl[:i])
		w.WriteString(tmpl[:i])
		m.WriteString(genParam(r, tmpl[i+1:j]))
		w.WriteString(Wildcard)
		tmpl = tmpl[j+1:]
	}
	// parameters glued to text ("<num>%", "<ip>:<num>", "<num>/<num>")
	// make the whole token a parameter
	toks := strings.Fields(w.String())
	for i, t := range toks {
		if strings.Contains(t, Wildcard) {
			toks[i] = Mask(strings.ReplaceAll(t, Wildcard, "0"))
		}
	}
	return m.String(), strings.Join(toks, " ")
}

// mineGenerated mines n generated lines and checks the known answers: each
// template found, and at least 95 % of lines grouped with their template.
func mineGenerated(t testing.TB, n int) {
	r := rand.New(rand.NewPCG(1, 2))
	m := New[struct{}](Config{})
	wants := make([]string, len(genTemplates))
	// per template: cluster id -> lines
	byTemplate := make([]map[int64]int, len(genTemplates))
	for i := range byTemplate {
		byTemplate[i] = map[int64]int{}
	}
	for range n {
		k := r.IntN(len(genTemplates))
		msg, want := expand(r, genTemplates[k])
		wants[k] = want
		c, _ := m.Add(msg)
		byTemplate[k][c.ID]++
	}
	clusters := map[int64]*Cluster[struct{}]{}
	m.All(func(c *Cluster[struct{}]) bool { clusters[c.ID] = c; return true })
	// A cluster belongs to the template that put most lines in it; a line
	// is grouped correctly when its cluster belongs to its template.
	owner := map[int64]int{}
	ownerLines := map[int64]int{}
	for k, ids := range byTemplate {
		for id, lines := range ids {
			if lines > ownerLines[id] {
				owner[id], ownerLines[id] = k, lines
			}
		}
	}
	correct := 0
	for k, ids := range byTemplate {
		best, bestLines := int64(0), 0
		for id, lines := range ids {
			if owner[id] == k {
				correct += lines
			}
			if lines > bestLines {
				best, bestLines = id, lines
			}
		}
		if c := clusters[best]; c == nil || c.Template() != wants[k] {
			got := "<none>"
			if c != nil {
				got = c.Template()
			}
			t.Errorf("template %d: miner found %q, want %q", k, got, wants[k])
		}
	}
	share := float64(correct) / float64(n)
	t.Logf("%d lines, %d templates: %d clusters, %.4f of lines grouped correctly", n, len(genTemplates), m.Len(), share)
	if share < 0.95 {
		t.Errorf("grouped %.4f of lines correctly, want >= 0.95", share)
	}
}

// TestMineGenerated mines 1,000,000 generated lines (about a second);
// -short runs 100,000.
func TestMineGenerated(t *testing.T) {
	n := 1_000_000
	if testing.Short() {
		n = 100_000
	}
	mineGenerated(t, n)
}

func BenchmarkMiner(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 4))
	msgs := make([]string, 4096)
	for i := range msgs {
		msgs[i], _ = expand(r, genTemplates[r.IntN(len(genTemplates))])
	}
	m := New[struct{}](Config{})
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		m.Add(msgs[i%len(msgs)])
	}
}

func FuzzMiner(f *testing.F) {
	for _, s := range []string{"timeout after 30s on host a", "", "<*> <*>", "a=b c=1", "\xff\xfe x"} {
		f.Add(s, s+" 2")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		m := New[int](Config{MaxClusters: 2, MaxTokens: 8})
		for _, s := range []string{a, b, a, b + " x"} {
			c, _ := m.Add(s)
			toks := Tokenize(nil, s, 8)
			if len(c.Tokens()) != len(toks) {
				t.Fatalf("cluster has %d tokens, message %d", len(c.Tokens()), len(toks))
			}
			for i, tok := range c.Tokens() {
				if tok != Wildcard && tok != toks[i] {
					t.Fatalf("template token %d = %q, message %q", i, tok, toks[i])
				}
			}
		}
		if m.Len() > 2 {
			t.Fatalf("%d clusters held, cap 2", m.Len())
		}
	})
}
