package analyzer

import (
	"errors"
	"fmt"
	"io"

	"github.com/knqyf263/go-rpmdb/pkg/bdb"
)

// checkBerkeleyDB walks a Berkeley DB rpm database as go-rpmdb's bdb.Read
// will, and refuses one that would make it panic (an offset past its page:
// in bdb.Read's own goroutine, where nothing can recover, so the process
// would die) or loop for ever (an overflow chain through a page of another
// type, or a cycle). The arithmetic is bdb's own, wrapping included.
func checkBerkeleyDB(f io.ReaderAt) error {
	meta := make([]byte, 512)
	if _, err := f.ReadAt(meta, 0); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	m, err := bdb.ParseHashMetadataPage(meta)
	if err != nil {
		return nil // bdb.Open says so
	}
	switch m.PageSize {
	case 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536:
	default:
		return nil // bdb.Open says so
	}
	pageSize := m.PageSize
	page := make([]byte, pageSize)
	over := make([]byte, pageSize)
	readPage := func(buf []byte, off int64) bool {
		n, _ := f.ReadAt(buf, off)
		return n == len(buf) // else bdb stops with an error
	}
	for pageNum := uint32(0); pageNum <= m.LastPageNo; pageNum++ {
		if !readPage(page, int64(pageNum)*int64(pageSize)) {
			return nil
		}
		h, err := bdb.ParseHashPage(page)
		if err != nil {
			return nil
		}
		if h.PageType != bdb.HashUnsortedPageType && h.PageType != bdb.HashPageType {
			continue
		}
		if h.NumEntries%2 != 0 {
			return nil
		}
		lo := uint16(bdb.PageHeaderSize)
		hi := lo + h.NumEntries*bdb.HashIndexEntrySize
		if hi < lo || int(hi) > len(page) {
			return fmt.Errorf("page %d: %d entries overrun the page", pageNum, h.NumEntries)
		}
		index := page[lo:hi]
		for i := 2; i+2 <= len(index); i += 4 {
			v := uint16(index[i]) | uint16(index[i+1])<<8
			if int(v) >= len(page) {
				return fmt.Errorf("page %d: entry offset %d past the page", pageNum, v)
			}
			if page[v] != bdb.HashOffIndexPageType {
				continue
			}
			end := v + bdb.HashOffPageSize
			if end < v || int(end) > len(page) {
				return fmt.Errorf("page %d: entry at %d overruns the page", pageNum, v)
			}
			e, err := bdb.ParseHashOffPageEntry(page[v:end])
			if err != nil {
				return nil
			}
			seen := map[uint32]bool{}
			for cur := e.PageNo; cur != 0; {
				if seen[cur] {
					return fmt.Errorf("page %d: overflow pages loop at page %d", pageNum, cur)
				}
				seen[cur] = true
				if !readPage(over, int64(pageSize*cur)) { // uint32 product, as bdb
					return nil
				}
				o, err := bdb.ParseHashPage(over)
				if err != nil {
					return nil
				}
				if o.PageType != bdb.OverflowPageType {
					return fmt.Errorf("page %d: overflow chain reaches page %d of type %d", pageNum, cur, o.PageType)
				}
				if o.NextPageNo == 0 {
					last := uint16(bdb.PageHeaderSize) + o.FreeAreaOffset
					if last < bdb.PageHeaderSize || int(last) > len(over) {
						return fmt.Errorf("page %d: overflow page %d overruns itself", pageNum, cur)
					}
				}
				cur = o.NextPageNo
			}
		}
	}
	return nil
}
