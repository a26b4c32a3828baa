package analyzer

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
)

// Go binaries carry their build information (Go version, main module,
// dependencies) in a blob that starts with buildInfoMagic at a 16-byte
// aligned address of a writable segment: what debug/buildinfo reads. It
// needs an io.ReaderAt over the whole file, and an image holds many large
// executables; so this reads the ELF program headers at the front of the
// stream, skips to the writable segments, and decodes the blob there with
// the same format rules (Go 1.18+ inline strings, then
// runtime/debug.ParseBuildInfo), holding at most a few hundred KB.
var buildInfoMagic = []byte("\xff Go buildinf:")

const (
	buildInfoAlign      = 16
	buildInfoHeaderSize = 32
	maxBuildInfo        = 1 << 20
	scanChunk           = 256 << 10
	maxProgramHeaders   = 64 << 10
)

type segment struct{ off, vaddr, size uint64 }

// buffers are reused from one executable to the next.
type buffers struct {
	r    *bufio.Reader
	scan []byte
}

var bufPool = sync.Pool{New: func() any {
	return &buffers{r: bufio.NewReaderSize(nil, maxProgramHeaders), scan: make([]byte, len(buildInfoMagic)-1+scanChunk)}
}}

// readGoBinary returns the modules of the Go binary r, or nil when r is not
// an ELF Go executable.
func readGoBinary(name string, r io.Reader) (*Result, error) {
	// Most executables of an image are not ELF at all (scripts): four
	// bytes say so before any buffer is taken.
	var magic [4]byte
	if _, err := io.ReadFull(r, magic[:]); err != nil || string(magic[:]) != "\x7fELF" {
		return nil, nil
	}
	bufs := bufPool.Get().(*buffers)
	defer bufPool.Put(bufs)
	br := bufs.r
	br.Reset(io.MultiReader(bytes.NewReader(magic[:]), r))
	defer br.Reset(nil)
	segs := writableSegments(br)
	if segs == nil {
		return nil, nil
	}
	var pos uint64
	buf := bufs.scan
	for _, s := range segs {
		if s.off < pos {
			continue // overlapping segments: the stream has moved on
		}
		skip := s.off - pos
		if skip > math.MaxInt64 {
			return nil, nil // past any file's end
		}
		if _, err := io.CopyN(io.Discard, br, int64(skip)); err != nil {
			return nil, nil
		}
		pos = s.off
		end := s.off + s.size
		carry := 0
		for pos < end {
			n := min(uint64(scanChunk), end-pos)
			if _, err := io.ReadFull(br, buf[carry:carry+int(n)]); err != nil {
				return nil, nil
			}
			data := buf[:carry+int(n)]
			base := pos - uint64(carry) //nolint:gosec // file offset of data[0]; carry is in [0, len(buildInfoMagic)-1]
			for j := 0; ; {
				k := bytes.Index(data[j:], buildInfoMagic)
				if k < 0 {
					break
				}
				at := j + k
				if (s.vaddr+base+uint64(at)-s.off)%buildInfoAlign == 0 {
					return readBuildInfo(name, io.MultiReader(bytes.NewReader(data[at:]), br)), nil
				}
				j = at + 1
			}
			pos += n
			carry = min(len(buildInfoMagic)-1, len(data))
			copy(buf, data[len(data)-carry:])
		}
	}
	return nil, nil
}

// writableSegments returns the file ranges of the ELF's writable PT_LOAD
// segments in file order, or nil when r is not an ELF file.
func writableSegments(br *bufio.Reader) []segment {
	h, err := br.Peek(64)
	if err != nil || !bytes.HasPrefix(h, []byte("\x7fELF")) {
		return nil
	}
	var bo binary.ByteOrder
	switch h[5] {
	case 1:
		bo = binary.LittleEndian
	case 2:
		bo = binary.BigEndian
	default:
		return nil
	}
	var phoff, entsize, num uint64
	switch h[4] {
	case 1: // 32-bit
		phoff, entsize, num = uint64(bo.Uint32(h[28:])), uint64(bo.Uint16(h[42:])), uint64(bo.Uint16(h[44:]))
	case 2:
		phoff, entsize, num = bo.Uint64(h[32:]), uint64(bo.Uint16(h[54:])), uint64(bo.Uint16(h[56:]))
	default:
		return nil
	}
	// entsize and num are 16-bit: their product cannot overflow, and
	// bounding phoff first keeps the sum from wrapping.
	if entsize == 0 || phoff > maxProgramHeaders || phoff+entsize*num > maxProgramHeaders {
		return nil
	}
	ph, err := br.Peek(int(phoff + entsize*num)) //nolint:gosec // G115: at most maxProgramHeaders, checked above
	if err != nil {
		return nil
	}
	var segs []segment
	for i := uint64(0); i < num; i++ {
		p := ph[phoff+i*entsize:]
		var typ, flags uint32
		var s segment
		if h[4] == 1 {
			if len(p) < 32 {
				return nil
			}
			typ, flags = bo.Uint32(p), bo.Uint32(p[24:])
			s = segment{off: uint64(bo.Uint32(p[4:])), vaddr: uint64(bo.Uint32(p[8:])), size: uint64(bo.Uint32(p[16:]))}
		} else {
			if len(p) < 56 {
				return nil
			}
			typ, flags = bo.Uint32(p), bo.Uint32(p[4:])
			s = segment{off: bo.Uint64(p[8:]), vaddr: bo.Uint64(p[16:]), size: bo.Uint64(p[32:])}
		}
		const ptLoad, pfW = 1, 2
		if typ == ptLoad && flags&pfW != 0 && s.size > 0 {
			segs = append(segs, s)
		}
	}
	sort.Slice(segs, func(i, j int) bool { return segs[i].off < segs[j].off })
	if segs == nil {
		segs = []segment{}
	}
	return segs
}

// readBuildInfo reads the blob that starts with buildInfoMagic as
// debug/buildinfo decodes it: a 32-byte header, then (Go 1.18 and later)
// the Go version and the module information as length-prefixed strings.
func readBuildInfo(name string, r io.Reader) *Result {
	var h [buildInfoHeaderSize]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return nil
	}
	const flagsVersionInl = 0x2
	if h[len(buildInfoMagic)+1]&flagsVersionInl == 0 {
		return &Result{kind: kindGoBinary, warning: fmt.Sprintf("%s: Go binary built before Go 1.18; its module list is not read", name)}
	}
	br := bufio.NewReaderSize(r, 4<<10)
	vers := readString(br)
	if vers == "" {
		return nil
	}
	mod := readString(br)
	// Module information is framed by 16-byte sentinels (cmd/go's
	// infoStart and infoEnd).
	if len(mod) >= 33 && mod[len(mod)-17] == '\n' {
		mod = mod[16 : len(mod)-16]
	} else {
		mod = ""
	}
	bi, err := debug.ParseBuildInfo(mod)
	if err != nil {
		return &Result{kind: kindGoBinary, warning: fmt.Sprintf("%s: Go build information: %v", name, err)}
	}
	bi.GoVersion = vers
	return &Result{kind: kindGoBinary, packages: goPackages(name, bi)}
}

func readString(br *bufio.Reader) string {
	n, err := binary.ReadUvarint(br)
	if err != nil || n > maxBuildInfo {
		return ""
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(br, b); err != nil {
		return ""
	}
	return string(b)
}

// goPackages lists the modules of a binary as trivy does: the standard
// library at the Go version, the main module when versioned, and every
// dependency (as replaced).
func goPackages(file string, bi *debug.BuildInfo) []Package {
	var pkgs []Package
	add := func(path, version string) {
		pkgs = append(pkgs, Package{Type: TypeGoBinary, Name: path, Version: version, Path: file})
	}
	if v, _, _ := strings.Cut(bi.GoVersion, " "); strings.HasPrefix(v, "go") && !strings.HasPrefix(v, "devel") {
		add("stdlib", "v"+strings.TrimPrefix(v, "go"))
	}
	if bi.Main.Path != "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		add(bi.Main.Path, bi.Main.Version)
	}
	for _, d := range bi.Deps {
		m := d
		if d.Replace != nil {
			m = d.Replace
		}
		if m.Path == "" {
			continue
		}
		add(m.Path, m.Version)
	}
	return pkgs
}
