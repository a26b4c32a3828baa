package manifest

import (
	"math"
	"slices"
	"strings"
)

// lineIndex holds the line of every field of a document, by JSON pointer:
// the key's line for a mapping entry, the item's for a sequence item, as
// lookup finds them. Findings ask for lines of objects that were parsed
// long before; without it each asks for the document to be parsed again.
// Pointers are kept as 64-bit hashes, so a field costs 16 bytes. Documents
// with anchors, merge keys or repeated keys get none: lookup's rules for
// those are kept in one place, and such documents are rare.
type lineIndex []lineEntry // sorted by hash; lines counted in the file

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

// hashToken extends the hash of a pointer with one more token: the hash
// of p + "/" + tok.
func hashToken(h uint64, tok string) uint64 {
	h = (h ^ '/') * fnvPrime
	for i := 0; i < len(tok); i++ {
		h = (h ^ uint64(tok[i])) * fnvPrime
	}
	return h
}

// indexer collects a document's lines while the converter walks it. Its
// methods do nothing on a nil indexer: no index wanted.
type indexer struct {
	stack   []uint64 // hashes of the pointers of the open levels
	entries []lineEntry
	off     bool // the document has what the index does not model
}

type lineEntry struct {
	hash uint64
	line int32
}

// enter opens the level of token tok under the open one, found at line.
func (x *indexer) enter(tok string, line int) {
	if x == nil {
		return
	}
	h := uint64(fnvOffset)
	if len(x.stack) > 0 {
		h = x.stack[len(x.stack)-1]
	}
	h = hashToken(h, tok)
	x.stack = append(x.stack, h)
	if line < 0 || line > math.MaxInt32 {
		x.off = true // a line an int32 cannot hold: no index, lookup parses
		return
	}
	x.entries = append(x.entries, lineEntry{h, int32(line)})
}

func (x *indexer) leave() {
	if x != nil {
		x.stack = x.stack[:len(x.stack)-1]
	}
}

// stop gives up the index: anchors, merge keys and repeated keys.
func (x *indexer) stop() {
	if x != nil {
		x.off = true
	}
}

// reset readies the indexer for another document, keeping its buffers:
// one indexer serves every document of a file.
func (x *indexer) reset() {
	x.stack, x.entries, x.off = x.stack[:0], x.entries[:0], false
}

func byHash(a, b lineEntry) int {
	switch {
	case a.hash < b.hash:
		return -1
	case a.hash > b.hash:
		return 1
	}
	return 0
}

// index returns the finished index, with d's lines in the file; nil
// when the document has anchors, merge keys or repeated keys. It is a
// copy: the indexer may be reset.
func (x *indexer) index(d *document) lineIndex {
	if x.off {
		return nil
	}
	slices.SortFunc(x.entries, byHash)
	idx := make(lineIndex, len(x.entries))
	for i, e := range x.entries {
		line := d.at(int(e.line))
		if line < 0 || line > math.MaxInt32 {
			return nil // a line an int32 cannot hold: no index, lookup parses
		}
		idx[i] = lineEntry{e.hash, int32(line)}
	}
	return idx
}

// line returns the line of the field at pointer; ok is false when the
// document has no such field. known is false for a pointer written in a
// form the index cannot answer for (a token such as "01" or "~2", which
// lookup reads its own way).
func (idx lineIndex) line(pointer string) (line int, ok, known bool) {
	h := uint64(fnvOffset)
	for rest := strings.TrimPrefix(pointer, "/"); ; {
		tok, more, found := strings.Cut(rest, "/")
		if !canonical(tok) {
			return 0, false, false
		}
		h = hashToken(h, tok)
		if !found {
			break
		}
		rest = more
	}
	i, found := slices.BinarySearchFunc(idx, lineEntry{hash: h}, byHash)
	if !found {
		return 0, false, true
	}
	return int(idx[i].line), true, true
}

// canonical reports whether tok is spelled as the index spells tokens:
// escapes only ~0 and ~1, numbers without sign or leading zero.
func canonical(tok string) bool {
	if strings.Contains(tok, "~") && Escape(Unescape(tok)) != tok {
		return false
	}
	if tok == "" {
		return true
	}
	if c := tok[0]; c == '+' || c == '-' || c == '0' && len(tok) > 1 && allDigits(tok) {
		return false
	}
	return true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
