package analyzer

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"
)

// bdbFile is a two-page Berkeley DB hash database (512-byte pages) whose
// hash page holds one HOFFPAGE entry pointing at overflow page next.
func bdbFile(next uint32, pageType byte) []byte {
	const size = 512
	b := make([]byte, 3*size)
	le := binary.LittleEndian
	le.PutUint32(b[12:], 0x061561) // hash magic
	le.PutUint32(b[16:], 9)        // version
	le.PutUint32(b[20:], size)
	b[25] = 8                 // hash metadata page
	le.PutUint32(b[32:], 2)   // last page
	p := b[size : 2*size]     // page 1: a hash page with one key/value
	le.PutUint16(p[20:], 2)   // entries
	p[25] = 13                // sorted hash page
	le.PutUint16(p[26:], 100) // key offset
	le.PutUint16(p[28:], 200) // value offset
	p[200] = 3                // HOFFPAGE
	le.PutUint32(p[204:], next)
	o := b[2*size:] // page 2
	o[25] = pageType
	le.PutUint16(o[22:], 10) // free area offset: 10 bytes of data
	return b
}

// Databases go-rpmdb would loop on for ever are refused; a well-formed
// chain is let through to it.
func TestRPMOverflowChains(t *testing.T) {
	for _, tc := range []struct {
		name    string
		db      []byte
		refusal string
	}{
		{"chain through a hash page", bdbFile(1, 7), "overflow chain reaches page 1"},
		{"chain through a page of another type", bdbFile(2, 13), "overflow chain reaches page 2 of type 13"},
		{"good chain", bdbFile(2, 7), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := readRPM(bytes.NewReader(tc.db), int64(len(tc.db)))
			switch {
			case tc.refusal != "" && (err == nil || !strings.Contains(err.Error(), tc.refusal)):
				t.Errorf("error %v, want %q", err, tc.refusal)
			case tc.refusal == "" && err != nil && strings.Contains(err.Error(), "malformed rpm database: page"):
				t.Errorf("well-formed chain refused: %v", err)
			}
		})
	}
}
