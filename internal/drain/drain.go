// Package drain groups log messages into templates with the Drain
// algorithm (He et al., "Drain: An Online Log Parsing Approach with Fixed
// Depth Tree", ICWS 2017), so that "timeout after 30s on host a" and
// "timeout after 12s on host b" become one pattern,
// "timeout after <*> on host <*>".
//
// A message is split into tokens on white space and its parameters are
// masked first (see Mask: numbers, durations, sizes, hex strings, IP
// addresses, UUIDs, dates, paths and URLs become <*>). The masked tokens
// then descend a tree of fixed depth: the first level is the token count,
// the next Depth-2 levels are the leading tokens (a token holding a digit,
// or any token once a node has MaxChildren children, goes down the <*>
// branch). At the leaf the message joins the most similar cluster when the
// share of positions where the template and the message agree reaches
// SimThreshold, and the template's differing positions become <*>;
// otherwise it starts a new cluster.
//
// Memory is bounded: at most MaxClusters clusters are kept. When a new
// cluster would exceed the cap, the least recently matched cluster is
// evicted and handed to the OnEvict callback first, so the caller can
// record what it knew about it. A message of an evicted template that comes
// back starts a new cluster with a new id. Messages are cut to MaxTokens
// tokens (the rest becomes one "…" token). Tree nodes left empty by an
// eviction are removed, so the tree stays proportional to the clusters.
//
// A Miner is not safe for concurrent use.
package drain

import (
	"strings"
)

// Wildcard is the template token standing for a parameter.
const Wildcard = "<*>"

// Ellipsis is the last token of a message cut at MaxTokens.
const Ellipsis = "…"

// Config tunes the miner. Zero fields take the defaults.
type Config struct {
	// Depth of the parse tree, counting the token-count level and the leaf
	// level: Depth-2 leading tokens route a message. Default 3: only the
	// first token routes, so a variable word in second place ("user alice
	// logged in") is still grouped by similarity. Minimum 3.
	Depth int
	// SimThreshold is the least share of agreeing positions (0..1) for a
	// message to join a cluster. Default 0.4.
	SimThreshold float64
	// MaxChildren caps the children of an inner node; further tokens share
	// the <*> child. Default 100.
	MaxChildren int
	// MaxClusters caps the clusters kept (see the package comment).
	// Default 2000.
	MaxClusters int
	// MaxTokens caps the tokens of a message. Default 64.
	MaxTokens int
}

func (c Config) withDefaults() Config {
	if c.Depth < 3 {
		c.Depth = 3
	}
	if c.SimThreshold <= 0 || c.SimThreshold > 1 {
		c.SimThreshold = 0.4
	}
	if c.MaxChildren <= 0 {
		c.MaxChildren = 100
	}
	if c.MaxClusters <= 0 {
		c.MaxClusters = 2000
	}
	if c.MaxTokens <= 0 {
		c.MaxTokens = 64
	}
	return c
}

// Cluster is one template and the messages it stands for. Value is the
// caller's: the miner never reads it.
type Cluster[T any] struct {
	// ID is unique within a Miner and never reused.
	ID int64
	// Size is the number of messages that joined the cluster.
	Size  int64
	Value T

	tokens     []string
	leaf       *node[T]
	prev, next *Cluster[T] // recency list, most recent at the front
}

// Template is the cluster's template text, tokens joined by one space.
func (c *Cluster[T]) Template() string { return strings.Join(c.tokens, " ") }

// Tokens returns the template's tokens. The caller must not modify them.
func (c *Cluster[T]) Tokens() []string { return c.tokens }

type node[T any] struct {
	parent   *node[T]
	key      string // this node's key in parent.children
	children map[string]*node[T]
	clusters []*Cluster[T] // at leaves
}

// Miner is a Drain parse tree.
type Miner[T any] struct {
	cfg    Config
	root   map[int]*node[T] // by token count
	count  int              // clusters held
	nextID int64
	// recency list of clusters
	head, tail *Cluster[T]

	// OnEvict, when set, is called with each cluster just before the miner
	// forgets it to make room.
	OnEvict func(*Cluster[T])

	evicted int64
	scratch []string
}

// New returns an empty miner.
func New[T any](cfg Config) *Miner[T] {
	return &Miner[T]{cfg: cfg.withDefaults(), root: map[int]*node[T]{}}
}

// Config returns the configuration in use, defaults filled.
func (m *Miner[T]) Config() Config { return m.cfg }

// Len is the number of clusters held.
func (m *Miner[T]) Len() int { return m.count }

// Evicted is the number of clusters evicted so far.
func (m *Miner[T]) Evicted() int64 { return m.evicted }

// Add mines one message: it returns the cluster the message joined and
// whether that cluster was created for it. The message's tokens are masked
// and copied; msg is not retained.
func (m *Miner[T]) Add(msg string) (c *Cluster[T], created bool) {
	m.scratch = Tokenize(m.scratch[:0], msg, m.cfg.MaxTokens)
	return m.AddTokens(m.scratch)
}

// AddTokens mines a message already split and masked by Tokenize. The
// tokens are copied when kept.
func (m *Miner[T]) AddTokens(tokens []string) (c *Cluster[T], created bool) {
	leaf := m.leaf(tokens)
	if c := m.best(leaf.clusters, tokens); c != nil {
		m.merge(c, tokens)
		c.Size++
		m.touch(c)
		return c, false
	}
	if m.count >= m.cfg.MaxClusters {
		m.evictOldest()
		// eviction may have removed the leaf's branch; descend again
		leaf = m.leaf(tokens)
	}
	m.nextID++
	c = &Cluster[T]{ID: m.nextID, Size: 1, tokens: cloneTokens(tokens), leaf: leaf}
	leaf.clusters = append(leaf.clusters, c)
	m.count++
	m.pushFront(c)
	return c, true
}

// Match returns the cluster msg would join, without changing anything, or
// nil.
func (m *Miner[T]) Match(msg string) *Cluster[T] {
	toks := Tokenize(nil, msg, m.cfg.MaxTokens)
	n := m.find(toks)
	if n == nil {
		return nil
	}
	return m.best(n.clusters, toks)
}

// All calls yield for every cluster held, most recently matched first,
// until yield returns false.
func (m *Miner[T]) All(yield func(*Cluster[T]) bool) {
	for c := m.head; c != nil; c = c.next {
		if !yield(c) {
			return
		}
	}
}

// routeKey is the child key a token takes at an inner node.
func routeKey(tok string) string {
	if hasDigit(tok) {
		return Wildcard
	}
	return tok
}

// find descends without creating nodes.
func (m *Miner[T]) find(tokens []string) *node[T] {
	n := m.root[len(tokens)]
	for i := 0; n != nil && i < m.cfg.Depth-2 && i < len(tokens); i++ {
		k := routeKey(tokens[i])
		next := n.children[k]
		if next == nil && k != Wildcard && len(n.children) >= m.cfg.MaxChildren {
			next = n.children[Wildcard]
		}
		n = next
	}
	return n
}

// leaf descends, creating nodes as needed, and returns the leaf.
func (m *Miner[T]) leaf(tokens []string) *node[T] {
	n := m.root[len(tokens)]
	if n == nil {
		n = &node[T]{}
		m.root[len(tokens)] = n
	}
	for i := 0; i < m.cfg.Depth-2 && i < len(tokens); i++ {
		k := routeKey(tokens[i])
		next := n.children[k]
		if next == nil && k != Wildcard && len(n.children) >= m.cfg.MaxChildren {
			k = Wildcard
			next = n.children[k]
		}
		if next == nil {
			if n.children == nil {
				n.children = map[string]*node[T]{}
			}
			next = &node[T]{parent: n, key: strings.Clone(k)}
			n.children[next.key] = next
		}
		n = next
	}
	return n
}

// best returns the most similar cluster at or above the threshold: the
// highest share of agreeing positions, then the most wildcards.
func (m *Miner[T]) best(clusters []*Cluster[T], tokens []string) *Cluster[T] {
	var best *Cluster[T]
	bestSim, bestParams := -1.0, -1
	for _, c := range clusters {
		sim, params := similarity(c.tokens, tokens)
		if sim > bestSim || (sim == bestSim && params > bestParams) {
			best, bestSim, bestParams = c, sim, params
		}
	}
	if best == nil || bestSim < m.cfg.SimThreshold {
		return nil
	}
	return best
}

// similarity is the share of positions where template and tokens hold the
// same literal token, among the positions that are not a wildcard in both
// (a parameter in both says nothing either way; a template wildcard against
// a concrete token counts against), and the number of template wildcards.
func similarity(template, tokens []string) (float64, int) {
	if len(template) != len(tokens) {
		return 0, 0
	}
	same, params, both := 0, 0, 0
	for i, t := range template {
		if t == Wildcard {
			params++
			if tokens[i] == Wildcard {
				both++
			}
			continue
		}
		if t == tokens[i] {
			same++
		}
	}
	if both == len(template) {
		return 1, params
	}
	return float64(same) / float64(len(template)-both), params
}

// merge turns the template positions that differ from tokens into
// wildcards.
func (m *Miner[T]) merge(c *Cluster[T], tokens []string) {
	for i, t := range c.tokens {
		if t != tokens[i] && t != Wildcard {
			c.tokens[i] = Wildcard
		}
	}
}

func cloneTokens(tokens []string) []string {
	out := make([]string, len(tokens))
	for i, t := range tokens {
		if t == Wildcard {
			out[i] = Wildcard
		} else {
			out[i] = strings.Clone(t)
		}
	}
	return out
}

func (m *Miner[T]) pushFront(c *Cluster[T]) {
	c.prev = nil
	c.next = m.head
	if m.head != nil {
		m.head.prev = c
	}
	m.head = c
	if m.tail == nil {
		m.tail = c
	}
}

func (m *Miner[T]) unlink(c *Cluster[T]) {
	if c.prev != nil {
		c.prev.next = c.next
	} else {
		m.head = c.next
	}
	if c.next != nil {
		c.next.prev = c.prev
	} else {
		m.tail = c.prev
	}
	c.prev, c.next = nil, nil
}

func (m *Miner[T]) touch(c *Cluster[T]) {
	if m.head == c {
		return
	}
	m.unlink(c)
	m.pushFront(c)
}

// evictOldest forgets the least recently matched cluster and prunes the
// tree nodes it leaves empty.
func (m *Miner[T]) evictOldest() {
	c := m.tail
	if c == nil {
		return
	}
	if m.OnEvict != nil {
		m.OnEvict(c)
	}
	m.unlink(c)
	m.count--
	m.evicted++
	n := c.leaf
	for i, x := range n.clusters {
		if x == c {
			n.clusters = append(n.clusters[:i], n.clusters[i+1:]...)
			break
		}
	}
	c.leaf = nil
	for n != nil && len(n.clusters) == 0 && len(n.children) == 0 {
		if n.parent == nil {
			for k, v := range m.root {
				if v == n {
					delete(m.root, k)
					break
				}
			}
			break
		}
		delete(n.parent.children, n.key)
		n = n.parent
	}
}
