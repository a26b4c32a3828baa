package main

import (
	"sort"
	"strconv"
	"strings"
)

// merge puts the nodes of every release into one table in which nodes that
// accept the same documents are one node: most of a release's schemas are
// those of the release before, and even within a release many definitions
// are alike (the ObjectReferences, the LabelSelectors of each version).
// Alike is bisimilar: the same type, format, field names, required fields
// and flags, and children that are alike in turn; the classes are found by
// partition refinement, which handles recursive definitions
// (JSONSchemaProps) as well as trees.
func merge(rels []*release) *file {
	var all []node
	offset := make([]int, len(rels))
	for i, r := range rels {
		offset[i] = len(all)
		for _, n := range r.nodes {
			all = append(all, shift(n, offset[i]))
		}
	}

	// Start from the nodes' own labels, then split classes by their
	// children's classes until nothing splits.
	class := make([]int, len(all))
	ids := map[string]int{}
	for i, n := range all {
		class[i] = intern(ids, label(n))
	}
	for count := len(ids); ; {
		next := make([]int, len(all))
		ids = map[string]int{}
		for i, n := range all {
			next[i] = intern(ids, signature(n, class[i], class))
		}
		class = next
		if len(ids) == count {
			break
		}
		count = len(ids)
	}
	rep := make(map[int]int, len(ids)) // class -> a node of it
	for i := range all {
		if _, ok := rep[class[i]]; !ok {
			rep[class[i]] = i
		}
	}

	// Number the classes in the order a walk from each release's kinds
	// (in key order) meets them, so the output does not depend on map
	// order and a kind's nodes are near each other.
	f := &file{}
	index := map[int]int{} // class -> output node
	var visit func(i int) int
	visit = func(i int) int {
		c := class[i]
		if idx, ok := index[c]; ok {
			return idx
		}
		idx := len(f.Nodes)
		index[c] = idx
		f.Nodes = append(f.Nodes, node{})
		n := all[rep[c]]
		out := node{T: n.T, F: n.F, R: n.R, U: n.U, E: n.E}
		if n.P != nil {
			out.P = make(map[string]int, len(n.P))
			for _, p := range sortedKeys(n.P) {
				out.P[p] = visit(n.P[p])
			}
		}
		if n.A > 0 {
			out.A = visit(n.A-1) + 1
		}
		if n.I > 0 {
			out.I = visit(n.I-1) + 1
		}
		f.Nodes[idx] = out
		return idx
	}
	for i, r := range rels {
		wr := wireRelease{Kubernetes: r.name, Groups: r.groups, Kinds: make(map[string]int, len(r.kinds))}
		for _, k := range sortedKeys(r.kinds) {
			wr.Kinds[k] = visit(offset[i] + r.kinds[k])
		}
		f.Releases = append(f.Releases, wr)
	}
	return f
}

// shift moves a release's node references to the merged table.
func shift(n node, by int) node {
	if n.P != nil {
		p := make(map[string]int, len(n.P))
		for k, v := range n.P {
			p[k] = v + by
		}
		n.P = p
	}
	if n.A > 0 {
		n.A += by
	}
	if n.I > 0 {
		n.I += by
	}
	return n
}

// label is what a node says of itself, without its children.
func label(n node) string {
	var b strings.Builder
	b.WriteString(n.T + "|" + n.F + "|" + strings.Join(n.R, ",") + "|")
	b.WriteString(strconv.FormatBool(n.U) + strconv.FormatBool(n.E) + strconv.FormatBool(n.A > 0) + strconv.FormatBool(n.I > 0))
	for _, p := range sortedKeys(n.P) {
		b.WriteString("\x00" + p)
	}
	return b.String()
}

// signature is a node's class and its children's classes.
func signature(n node, own int, class []int) string {
	b := []byte(strconv.Itoa(own))
	for _, p := range sortedKeys(n.P) {
		b = append(b, ' ')
		b = strconv.AppendInt(b, int64(class[n.P[p]]), 10)
	}
	if n.A > 0 {
		b = append(b, " a"...)
		b = strconv.AppendInt(b, int64(class[n.A-1]), 10)
	}
	if n.I > 0 {
		b = append(b, " i"...)
		b = strconv.AppendInt(b, int64(class[n.I-1]), 10)
	}
	return string(b)
}

func intern(ids map[string]int, s string) int {
	if id, ok := ids[s]; ok {
		return id
	}
	id := len(ids)
	ids[s] = id
	return id
}

func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
