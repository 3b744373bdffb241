// Package isobmff walks the boxes of an untrusted HEIF image file (AVIF, HEIC:
// ISO/IEC 14496-12 boxes, ISO/IEC 23008-12 items) from its headers alone, before
// any decoder sees it.
//
// # Decoder weakness guarded against
//
// The AVIF and HEIC decoders (libavif/dav1d and libheif/libde265 compiled to
// WebAssembly) set no memory limit and cannot be cancelled: they allocate what the
// file's `ispe` properties and grid descriptors declare, follow every `iloc` extent
// and `dimg` tile, and run to completion. A small file can declare a 65535×65535
// image, a grid of 65536 tiles, box sizes past the end of the file or past their
// parent, or extents in a truncated `mdat`.
//
// [Scan] works over the whole file in memory. Every box size is checked against its
// parent and the file (32-bit sizes, 64-bit largesizes, and 0 meaning "to the end of
// the parent"), with overflow-safe arithmetic; the depth of the walk, the number of
// boxes, items, properties and grid tiles are bounded by [Limits]. It reads the
// `ftyp` brands, and inside the top-level `meta`: `hdlr`, `pitm`, `iinf`/`infe`,
// `iloc` (every extent must lie inside the file or the `idat`), `iref` (`dimg`,
// `auxl`), `iprp`/`ipco`/`ipma` (`ispe`, `pixi`, `irot`, `imir`, `auxC`, `hvcC`), and the
// primary item's grid descriptor. It reports the primary image's size (for a grid:
// the grid's output size, its tile count and every tile's size), its alpha plane,
// and its orientation as an EXIF orientation code.
//
// Scan never allocates memory proportional to a size or count field read from the
// input (only to boxes actually present, themselves bounded by Limits) and never
// panics.
package isobmff

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/big"
)

// Sentinel errors returned (wrapped with context) by [Scan]. Error strings never
// contain bytes copied from the input, except four-character box and item types
// made of printable ASCII.
var (
	// ErrMalformed reports a structurally invalid file: a box overrunning its parent
	// or the file, a bad full-box field, a duplicate or missing item, an extent past
	// the end of the file or idat, a missing or zero ispe.
	ErrMalformed = errors.New("malformed ISOBMFF")
	// ErrLimit reports a file over one of the [Limits]: too deep, too many boxes,
	// items, properties or tiles.
	ErrLimit = errors.New("ISOBMFF over limits")
	// ErrUnsupported reports a valid file this package does not admit: an image
	// sequence without a still primary item, a primary item of a type other than
	// av01, hvc1 or a grid of them, extents constructed from other items.
	ErrUnsupported = errors.New("unsupported ISOBMFF feature")
)

// Limits bound the walk. A zero field takes its value from [DefaultLimits].
type Limits struct {
	MaxDepth      int // nesting depth of boxes
	MaxBoxes      int // boxes walked in all
	MaxItems      int // entries of iinf, iloc and ipma
	MaxProperties int // boxes in ipco
	MaxTiles      int // tiles of a grid
	MaxRefs       int // item references in iref
}

// DefaultLimits are far above what cameras and encoders write (an iPhone HEIC has
// about 50 items; a 16384×16384 grid of 512×512 tiles has 1024 tiles).
func DefaultLimits() Limits {
	return Limits{MaxDepth: 8, MaxBoxes: 1 << 14, MaxItems: 4096, MaxProperties: 4096, MaxTiles: 4096, MaxRefs: 1 << 14}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	for _, p := range []struct{ v, d *int }{{&l.MaxDepth, &d.MaxDepth}, {&l.MaxBoxes, &d.MaxBoxes},
		{&l.MaxItems, &d.MaxItems}, {&l.MaxProperties, &d.MaxProperties}, {&l.MaxTiles, &d.MaxTiles}, {&l.MaxRefs, &d.MaxRefs}} {
		if *p.v <= 0 {
			*p.v = *p.d
		}
	}
	return l
}

// Size is an image size from an ispe property.
type Size struct{ Width, Height int }

// Info describes a HEIF file as seen by [Scan].
type Info struct {
	// MajorBrand is ftyp's major brand; Brands holds up to 16 compatible brands.
	MajorBrand string
	Brands     []string
	// Sequence reports an image sequence: a moov box or a sequence brand (avis,
	// msf1, hevs). Scan succeeds only when the file also has a still primary item,
	// which is what Info describes; without one it fails with ErrUnsupported.
	Sequence bool
	// Items is the number of items in iinf.
	Items int
	// PrimaryType is the primary item's type: "av01", "hvc1" or "grid".
	PrimaryType string
	// TileType is the type of a grid's tiles ("av01" or "hvc1"); "" for no grid.
	TileType string
	// Width and Height are the primary image's size as coded: its ispe (for a grid,
	// the grid's output size, which must agree with its ispe), before irot/imir.
	Width, Height int
	// Rows and Columns are a grid's tile layout, and Tiles every tile's ispe
	// (Rows*Columns of them); 0 and nil for a single coded image.
	Rows, Columns int
	Tiles         []Size
	// Alpha reports an auxiliary alpha item for the primary item, and AlphaSize its
	// ispe (for an alpha grid, its output size).
	Alpha      bool
	AlphaSize  Size
	AlphaTiles []Size
	// Channels and BitDepth come from the primary item's pixi (0 without one;
	// BitDepth is the largest channel depth).
	Channels, BitDepth int
	// Orientation is the EXIF orientation code (1..8) equivalent to the primary
	// item's irot and imir properties, applied in the order ipma lists them.
	Orientation int
	// Cropped is the size of the primary image once its clean aperture (clap) is
	// applied, computed as libheif does (which crops; libavif does not); equal to
	// Width×Height without a clap.
	Cropped Size
	// Padding is the pixels the HEVC decoder codes beyond the hvc1 items' ispe: an
	// SPS's picture may exceed its ispe by up to 63 columns and rows (pictures are
	// whole minimum coding blocks, cropped by their conformance window). CodedPixels
	// counts it.
	Padding int64
}

// CodedPixels is the number of pixels the decoder produces for the primary image and
// its alpha: for a grid, the tiles (which may overhang the output) and the output.
func (in Info) CodedPixels() int64 {
	var n int64
	if len(in.Tiles) > 0 {
		for _, t := range in.Tiles {
			n += int64(t.Width) * int64(t.Height)
		}
	}
	n += int64(in.Width)*int64(in.Height) + in.Padding
	if in.Alpha {
		n += int64(in.AlphaSize.Width) * int64(in.AlphaSize.Height)
		for _, t := range in.AlphaTiles {
			n += int64(t.Width) * int64(t.Height)
		}
	}
	return n
}

// item is what the walk learns about one item.
type item struct {
	id        uint32
	typ       string
	hidden    bool
	located   bool
	method    uint8 // iloc construction method
	extents   []extent
	props     []uint16 // 1-based ipco indexes, in ipma order
	dimg      []uint32 // dimg references from this item, in order
	auxlTo    []uint32 // items this one is auxiliary for (auxl from this item)
	hasInfe   bool
	hasIpmaID bool
}

type extent struct{ off, len uint64 }

// property is a parsed ipco child.
type property struct {
	typ      string
	w, h     uint32 // ispe
	channels int    // pixi
	depth    int    // pixi
	angle    int    // irot, quarter turns anticlockwise
	axis     int    // imir
	alpha    bool   // auxC naming an alpha plane
	clap     [8]int64
	hvcC     hvcC // hvcC: its SPS NAL units
}

type scanner struct {
	data  []byte
	lim   Limits
	boxes int
	items map[uint32]*item
	order []uint32
	props []property
	idat  []byte
	refs  int
	// seen boxes inside meta, each allowed once
	seen map[string]bool
	pitm uint32
	info Info
	// walked counts the item data bytes av1Check and hevcCheck have read.
	walked int64
}

// Scan walks data, a whole HEIF file, under lim.
func Scan(data []byte, lim Limits) (Info, error) {
	s := &scanner{data: data, lim: lim.withDefaults(), items: map[uint32]*item{}, seen: map[string]bool{}}
	if err := s.top(); err != nil {
		return Info{}, err
	}
	return s.info, nil
}

// box is one box header.
type box struct {
	typ         string
	start, end  int // payload bounds within the buffer walked
	headerBytes int
}

// each calls fn for every box in b, each bounded by b, counting them against MaxBoxes.
func (s *scanner) each(b []byte, depth int, fn func(bx box, payload []byte) error) error {
	if depth > s.lim.MaxDepth {
		return fmt.Errorf("boxes nested deeper than %d: %w", s.lim.MaxDepth, ErrLimit)
	}
	for pos := 0; pos < len(b); {
		bx, err := readBox(b, pos)
		if err != nil {
			return err
		}
		s.boxes++
		if s.boxes > s.lim.MaxBoxes {
			return fmt.Errorf("more than %d boxes: %w", s.lim.MaxBoxes, ErrLimit)
		}
		if err := fn(bx, b[bx.start:bx.end]); err != nil {
			return err
		}
		pos = bx.end
	}
	return nil
}

// readBox reads the box header at b[pos:]; its size must fit in b.
func readBox(b []byte, pos int) (box, error) {
	rest := len(b) - pos
	if rest < 8 {
		return box{}, fmt.Errorf("%d bytes left for a box header: %w", rest, ErrMalformed)
	}
	size := uint64(binary.BigEndian.Uint32(b[pos:]))
	typ := fourCC(b[pos+4 : pos+8])
	hdr := 8
	switch size {
	case 0: // to the end of the parent
		size = uint64(rest)
	case 1:
		if rest < 16 {
			return box{}, fmt.Errorf("box %s: %d bytes left for a largesize: %w", typ, rest, ErrMalformed)
		}
		size = binary.BigEndian.Uint64(b[pos+8:])
		hdr = 16
	}
	if typ == "uuid" {
		hdr += 16
	}
	if size < uint64(hdr) || size > uint64(rest) {
		return box{}, fmt.Errorf("box %s: size %d outside %d..%d: %w", typ, size, hdr, rest, ErrMalformed)
	}
	return box{typ: typ, start: pos + hdr, end: pos + int(size), headerBytes: hdr}, nil // #nosec G115 -- size <= rest, an int
}

// fourCC renders a box or item type, replacing anything but printable ASCII.
func fourCC(b []byte) string {
	var r [4]byte
	for i := range r {
		c := b[i]
		if c < 0x20 || c > 0x7e {
			c = '?'
		}
		r[i] = c
	}
	return string(r[:])
}

func (s *scanner) top() error {
	if len(s.data) < 8 || fourCC(s.data[4:8]) != "ftyp" {
		return fmt.Errorf("first box is not ftyp: %w", ErrMalformed)
	}
	var haveFtyp, haveMeta bool
	err := s.each(s.data, 1, func(bx box, p []byte) error {
		switch bx.typ {
		case "ftyp":
			if haveFtyp {
				return fmt.Errorf("second ftyp: %w", ErrMalformed)
			}
			haveFtyp = true
			return s.ftyp(p)
		case "meta":
			if haveMeta {
				return fmt.Errorf("second top-level meta: %w", ErrMalformed)
			}
			haveMeta = true
			return s.meta(p)
		case "moov":
			s.info.Sequence = true
		}
		return nil
	})
	if err != nil {
		return err
	}
	if !haveMeta {
		if s.info.Sequence {
			return fmt.Errorf("an image sequence without a still image: %w", ErrUnsupported)
		}
		return fmt.Errorf("no meta box: %w", ErrMalformed)
	}
	return s.resolve()
}

func (s *scanner) ftyp(p []byte) error {
	if len(p) < 8 || len(p)%4 != 0 {
		return fmt.Errorf("ftyp of %d bytes: %w", len(p), ErrMalformed)
	}
	s.info.MajorBrand = fourCC(p[0:4])
	for i := 8; i < len(p); i += 4 {
		b := fourCC(p[i : i+4])
		if len(s.info.Brands) < 16 {
			s.info.Brands = append(s.info.Brands, b)
		}
		if b == "avis" || b == "msf1" || b == "hevs" {
			s.info.Sequence = true
		}
	}
	if m := s.info.MajorBrand; m == "avis" || m == "msf1" || m == "hevs" {
		s.info.Sequence = true
	}
	return nil
}

// fullBox splits a FullBox payload into version, flags and the rest.
func fullBox(typ string, p []byte) (uint8, uint32, []byte, error) {
	if len(p) < 4 {
		return 0, 0, nil, fmt.Errorf("%s: %d bytes for a full box header: %w", typ, len(p), ErrMalformed)
	}
	return p[0], binary.BigEndian.Uint32(p[0:4]) & 0xffffff, p[4:], nil
}

func (s *scanner) meta(p []byte) error {
	_, _, body, err := fullBox("meta", p)
	if err != nil {
		return err
	}
	// idat first: iloc extents with construction method 1 are checked against it,
	// wherever it appears in meta.
	err = s.each(body, 2, func(bx box, q []byte) error {
		if bx.typ == "idat" {
			if s.idat != nil {
				return fmt.Errorf("second idat: %w", ErrMalformed)
			}
			s.idat = q[:len(q):len(q)]
		}
		return nil
	})
	if err != nil {
		return err
	}
	return s.each(body, 2, func(bx box, q []byte) error {
		switch bx.typ {
		case "hdlr", "pitm", "iinf", "iloc", "iref", "iprp":
			if s.seen[bx.typ] {
				return fmt.Errorf("second %s: %w", bx.typ, ErrMalformed)
			}
			s.seen[bx.typ] = true
		}
		switch bx.typ {
		case "hdlr":
			_, _, r, err := fullBox(bx.typ, q)
			if err != nil {
				return err
			}
			if len(r) < 8 || string(r[4:8]) != "pict" {
				return fmt.Errorf("meta handler is not pict: %w", ErrUnsupported)
			}
		case "pitm":
			v, _, r, err := fullBox(bx.typ, q)
			if err != nil {
				return err
			}
			c := cursor{b: r}
			s.pitm = c.id(v)
			if c.bad || s.pitm == 0 {
				return fmt.Errorf("pitm: %w", ErrMalformed)
			}
		case "iinf":
			return s.iinf(q)
		case "iloc":
			return s.iloc(q)
		case "iref":
			return s.iref(q)
		case "iprp":
			return s.iprp(q)
		}
		return nil
	})
}

// cursor reads big-endian fields; a read past the end sets bad and returns 0.
type cursor struct {
	b   []byte
	bad bool
}

func (c *cursor) take(n int) []byte {
	if c.bad || n > len(c.b) {
		c.bad = true
		return nil
	}
	r := c.b[:n]
	c.b = c.b[n:]
	return r
}

func (c *cursor) u8() uint8 {
	if b := c.take(1); b != nil {
		return b[0]
	}
	return 0
}

func (c *cursor) u16() uint16 {
	if b := c.take(2); b != nil {
		return binary.BigEndian.Uint16(b)
	}
	return 0
}

func (c *cursor) u32() uint32 {
	if b := c.take(4); b != nil {
		return binary.BigEndian.Uint32(b)
	}
	return 0
}

// uN reads an n-byte field, n in {0, 4, 8} (iloc's sizes).
func (c *cursor) uN(n int) uint64 {
	switch n {
	case 0:
		return 0
	case 4:
		return uint64(c.u32())
	case 8:
		if b := c.take(8); b != nil {
			return binary.BigEndian.Uint64(b)
		}
		return 0
	}
	c.bad = true
	return 0
}

// id reads an item ID: 16 bits in version 0 boxes, 32 bits otherwise.
func (c *cursor) id(version uint8) uint32 {
	if version == 0 {
		return uint32(c.u16())
	}
	return c.u32()
}

// item returns the item with id, creating it within MaxItems.
func (s *scanner) item(id uint32) (*item, error) {
	if it, ok := s.items[id]; ok {
		return it, nil
	}
	if len(s.items) >= s.lim.MaxItems {
		return nil, fmt.Errorf("more than %d items: %w", s.lim.MaxItems, ErrLimit)
	}
	it := &item{id: id}
	s.items[id] = it
	s.order = append(s.order, id)
	return it, nil
}

func (s *scanner) iinf(p []byte) error {
	v, _, r, err := fullBox("iinf", p)
	if err != nil {
		return err
	}
	c := cursor{b: r}
	var n uint32
	if v == 0 {
		n = uint32(c.u16())
	} else {
		n = c.u32()
	}
	if c.bad {
		return fmt.Errorf("iinf: %w", ErrMalformed)
	}
	if n > uint32(s.lim.MaxItems) { // #nosec G115 -- a positive int limit
		return fmt.Errorf("iinf declares %d items, limit %d: %w", n, s.lim.MaxItems, ErrLimit)
	}
	count := uint32(0)
	err = s.each(c.b, 3, func(bx box, q []byte) error {
		if bx.typ != "infe" {
			return nil
		}
		count++
		return s.infe(q)
	})
	if err != nil {
		return err
	}
	if count != n {
		return fmt.Errorf("iinf declares %d items, holds %d: %w", n, count, ErrMalformed)
	}
	s.info.Items = int(count)
	return nil
}

func (s *scanner) infe(p []byte) error {
	v, flags, r, err := fullBox("infe", p)
	if err != nil {
		return err
	}
	if v < 2 {
		return fmt.Errorf("infe version %d (no item type): %w", v, ErrUnsupported)
	}
	c := cursor{b: r}
	var id uint32
	if v == 2 {
		id = uint32(c.u16())
	} else {
		id = c.u32()
	}
	c.u16() // item_protection_index
	t := c.take(4)
	if c.bad || id == 0 {
		return fmt.Errorf("infe: %w", ErrMalformed)
	}
	it, err := s.item(id)
	if err != nil {
		return err
	}
	if it.hasInfe {
		return fmt.Errorf("two infe for one item: %w", ErrMalformed)
	}
	it.hasInfe = true
	it.typ = fourCC(t)
	it.hidden = flags&1 != 0
	return nil
}

func (s *scanner) iloc(p []byte) error {
	v, _, r, err := fullBox("iloc", p)
	if err != nil {
		return err
	}
	if v > 2 {
		return fmt.Errorf("iloc version %d: %w", v, ErrUnsupported)
	}
	c := cursor{b: r}
	a, b := c.u8(), c.u8()
	offSize, lenSize, baseSize, idxSize := int(a>>4), int(a&15), int(b>>4), int(b&15)
	if v == 0 {
		idxSize = 0
	}
	for _, n := range []int{offSize, lenSize, baseSize, idxSize} {
		if n != 0 && n != 4 && n != 8 {
			return fmt.Errorf("iloc field size %d: %w", n, ErrMalformed)
		}
	}
	var n uint32
	if v < 2 {
		n = uint32(c.u16())
	} else {
		n = c.u32()
	}
	if c.bad {
		return fmt.Errorf("iloc: %w", ErrMalformed)
	}
	if n > uint32(s.lim.MaxItems) { // #nosec G115 -- a positive int limit
		return fmt.Errorf("iloc declares %d items, limit %d: %w", n, s.lim.MaxItems, ErrLimit)
	}
	for range n {
		id := c.id(boolU8(v == 2)) // 16 bits in versions 0 and 1, 32 in 2
		var method uint8
		if v >= 1 {
			method = uint8(c.u16() & 15)
		}
		c.u16() // data_reference_index
		base := c.uN(baseSize)
		ne := c.u16()
		if c.bad {
			return fmt.Errorf("iloc: %w", ErrMalformed)
		}
		it, err := s.item(id)
		if err != nil {
			return err
		}
		if it.located {
			return fmt.Errorf("two iloc entries for one item: %w", ErrMalformed)
		}
		it.located = true
		it.method = method
		if method > 1 {
			return fmt.Errorf("iloc construction method %d: %w", method, ErrUnsupported)
		}
		for range ne {
			c.uN(idxSize)
			off, l := c.uN(offSize), c.uN(lenSize)
			if c.bad {
				return fmt.Errorf("iloc: %w", ErrMalformed)
			}
			e, err := s.extent(method, base, off, l)
			if err != nil {
				return err
			}
			it.extents = append(it.extents, e) // one per 0..16 bytes of iloc read
		}
	}
	return nil
}

func boolU8(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

// extent checks that an extent lies inside the file (method 0) or the idat (1) and
// returns its absolute bounds in that space. A length of 0 means "to the end".
func (s *scanner) extent(method uint8, base, off, l uint64) (extent, error) {
	space := uint64(len(s.data))
	where := "file"
	if method == 1 {
		space = uint64(len(s.idat))
		where = "idat"
	}
	if off > math.MaxUint64-base || base+off > space {
		return extent{}, fmt.Errorf("extent starts past the end of the %s: %w", where, ErrMalformed)
	}
	start := base + off
	if l == 0 {
		l = space - start
	}
	if l > space-start {
		return extent{}, fmt.Errorf("extent of %d bytes at %d runs past the %s's %d bytes: %w", l, start, where, space, ErrMalformed)
	}
	return extent{off: start, len: l}, nil
}

func (s *scanner) iref(p []byte) error {
	v, _, r, err := fullBox("iref", p)
	if err != nil {
		return err
	}
	if v > 1 {
		return fmt.Errorf("iref version %d: %w", v, ErrUnsupported)
	}
	return s.each(r, 3, func(bx box, q []byte) error {
		c := cursor{b: q}
		from := c.id(v)
		n := c.u16()
		if c.bad || from == 0 {
			return fmt.Errorf("iref %s: %w", bx.typ, ErrMalformed)
		}
		if s.refs+int(n) > s.lim.MaxRefs {
			return fmt.Errorf("more than %d item references: %w", s.lim.MaxRefs, ErrLimit)
		}
		s.refs += int(n)
		it, err := s.item(from)
		if err != nil {
			return err
		}
		for range n {
			to := c.id(v)
			if c.bad {
				return fmt.Errorf("iref %s: %w", bx.typ, ErrMalformed)
			}
			switch bx.typ {
			case "dimg":
				if len(it.dimg) >= s.lim.MaxTiles {
					return fmt.Errorf("more than %d derived-image inputs: %w", s.lim.MaxTiles, ErrLimit)
				}
				it.dimg = append(it.dimg, to)
			case "auxl":
				it.auxlTo = append(it.auxlTo, to) // bounded by MaxRefs and by bytes read
			}
		}
		return nil
	})
}

func (s *scanner) iprp(p []byte) error {
	var ipco []byte
	haveIpco, haveIpma := false, false
	var ipmas [][]byte
	err := s.each(p, 3, func(bx box, q []byte) error {
		switch bx.typ {
		case "ipco":
			if haveIpco {
				return fmt.Errorf("second ipco: %w", ErrMalformed)
			}
			haveIpco, ipco = true, q
		case "ipma":
			haveIpma = true
			ipmas = append(ipmas, q) // bounded by MaxBoxes
		}
		return nil
	})
	if err != nil {
		return err
	}
	if !haveIpco || !haveIpma {
		return fmt.Errorf("iprp without ipco or ipma: %w", ErrMalformed)
	}
	err = s.each(ipco, 4, func(bx box, q []byte) error {
		if len(s.props) >= s.lim.MaxProperties {
			return fmt.Errorf("more than %d properties: %w", s.lim.MaxProperties, ErrLimit)
		}
		pr, err := parseProperty(bx.typ, q)
		if err != nil {
			return err
		}
		s.props = append(s.props, pr)
		return nil
	})
	if err != nil {
		return err
	}
	for _, m := range ipmas {
		if err := s.ipma(m); err != nil {
			return err
		}
	}
	return nil
}

// alphaURNs name an auxiliary image that is an alpha plane (AVIF; HEVC).
var alphaURNs = []string{"urn:mpeg:mpegB:cicp:systems:auxiliary:alpha", "urn:mpeg:hevc:2015:auxid:1"}

func parseProperty(typ string, q []byte) (property, error) {
	pr := property{typ: typ}
	switch typ {
	case "ispe":
		_, _, r, err := fullBox(typ, q)
		if err != nil {
			return pr, err
		}
		c := cursor{b: r}
		pr.w, pr.h = c.u32(), c.u32()
		if c.bad {
			return pr, fmt.Errorf("ispe: %w", ErrMalformed)
		}
	case "pixi":
		_, _, r, err := fullBox(typ, q)
		if err != nil {
			return pr, err
		}
		c := cursor{b: r}
		pr.channels = int(c.u8())
		for range pr.channels {
			pr.depth = max(pr.depth, int(c.u8()))
		}
		if c.bad {
			return pr, fmt.Errorf("pixi: %w", ErrMalformed)
		}
	case "irot":
		if len(q) < 1 {
			return pr, fmt.Errorf("irot: %w", ErrMalformed)
		}
		pr.angle = int(q[0] & 3)
	case "clap":
		c := cursor{b: q}
		for i := range pr.clap {
			if i == 4 || i == 6 { // the offsets' numerators are signed
				pr.clap[i] = int64(int32(c.u32())) // #nosec G115 -- reinterpreting the signed field is the intent
			} else {
				pr.clap[i] = int64(c.u32())
			}
		}
		if c.bad || pr.clap[1] == 0 || pr.clap[3] == 0 || pr.clap[5] == 0 || pr.clap[7] == 0 {
			return pr, fmt.Errorf("clap: %w", ErrMalformed)
		}
	case "hvcC":
		pr.hvcC = parseHvcC(q)
	case "imir":
		if len(q) < 1 {
			return pr, fmt.Errorf("imir: %w", ErrMalformed)
		}
		pr.axis = int(q[0] & 1)
	case "auxC":
		_, _, r, err := fullBox(typ, q)
		if err != nil {
			return pr, err
		}
		for _, u := range alphaURNs {
			if len(r) > len(u) && string(r[:len(u)]) == u && r[len(u)] == 0 {
				pr.alpha = true
			}
		}
	}
	return pr, nil
}

func (s *scanner) ipma(p []byte) error {
	v, flags, r, err := fullBox("ipma", p)
	if err != nil {
		return err
	}
	c := cursor{b: r}
	n := c.u32()
	if c.bad {
		return fmt.Errorf("ipma: %w", ErrMalformed)
	}
	if n > uint32(s.lim.MaxItems) { // #nosec G115 -- a positive int limit
		return fmt.Errorf("ipma declares %d items, limit %d: %w", n, s.lim.MaxItems, ErrLimit)
	}
	for range n {
		id := c.id(v)
		k := c.u8()
		if c.bad {
			return fmt.Errorf("ipma: %w", ErrMalformed)
		}
		it, err := s.item(id)
		if err != nil {
			return err
		}
		if it.hasIpmaID {
			return fmt.Errorf("two ipma entries for one item: %w", ErrMalformed)
		}
		it.hasIpmaID = true
		for range k {
			var idx uint16
			if flags&1 != 0 {
				idx = c.u16() & 0x7fff
			} else {
				idx = uint16(c.u8() & 0x7f)
			}
			if c.bad {
				return fmt.Errorf("ipma: %w", ErrMalformed)
			}
			if idx == 0 {
				continue
			}
			if int(idx) > len(s.props) {
				return fmt.Errorf("ipma names property %d of %d: %w", idx, len(s.props), ErrMalformed)
			}
			it.props = append(it.props, idx) // one per byte or two of ipma read
		}
	}
	return nil
}

// size returns an item's ispe.
func (s *scanner) size(it *item) (Size, error) {
	for _, idx := range it.props {
		if p := s.props[idx-1]; p.typ == "ispe" {
			if p.w == 0 || p.h == 0 || p.w > math.MaxInt32 || p.h > math.MaxInt32 {
				return Size{}, fmt.Errorf("item ispe %dx%d: %w", p.w, p.h, ErrMalformed)
			}
			return Size{int(p.w), int(p.h)}, nil
		}
	}
	return Size{}, fmt.Errorf("item of type %s has no ispe: %w", it.typ, ErrMalformed)
}

// coded checks that a coded image item (av01 or hvc1) has an infe, data and a size.
func (s *scanner) coded(it *item, want string) (Size, error) {
	if it.typ != want {
		return Size{}, fmt.Errorf("item of type %s where %s was expected: %w", it.typ, want, ErrUnsupported)
	}
	if !it.located || len(it.extents) == 0 {
		return Size{}, fmt.Errorf("%s item has no data: %w", it.typ, ErrMalformed)
	}
	sz, err := s.size(it)
	if err == nil && it.typ == "av01" {
		err = s.av1Check(it, sz)
	}
	if err == nil && it.typ == "hvc1" {
		var w, h int64
		w, h, err = s.hevcCheck(it, sz)
		if pad := max(w, int64(sz.Width))*max(h, int64(sz.Height)) - int64(sz.Width)*int64(sz.Height); err == nil {
			s.info.Padding += pad
		}
	}
	return sz, err
}

// data copies up to n bytes of an item's data (grid descriptors are 8 or 12 bytes).
func (s *scanner) itemData(it *item, n int) []byte {
	var out []byte
	for _, e := range it.extents {
		src := s.data
		if it.method == 1 {
			src = s.idat
		}
		chunk := src[e.off : e.off+e.len]
		out = append(out, chunk[:min(len(chunk), n-len(out))]...)
		if len(out) == n {
			break
		}
	}
	return out
}

// resolve turns the items into Info once every box of meta has been read.
func (s *scanner) resolve() error {
	if s.pitm == 0 {
		return fmt.Errorf("no pitm: %w", ErrMalformed)
	}
	for _, id := range s.order {
		if !s.items[id].hasInfe {
			return fmt.Errorf("an item without infe: %w", ErrMalformed)
		}
	}
	prim, ok := s.items[s.pitm]
	if !ok {
		return fmt.Errorf("pitm names a missing item: %w", ErrMalformed)
	}
	s.info.PrimaryType = prim.typ
	sz, rows, cols, tileType, tiles, err := s.image(prim)
	if err != nil {
		return fmt.Errorf("primary item: %w", err)
	}
	s.info.Width, s.info.Height = sz.Width, sz.Height
	s.info.Rows, s.info.Columns, s.info.TileType, s.info.Tiles = rows, cols, tileType, tiles
	s.info.Orientation = s.orientation(prim)
	s.info.Cropped = sz
	for _, idx := range prim.props {
		if p := s.props[idx-1]; p.typ == "clap" {
			c, err := clapSize(p.clap, sz)
			if err != nil {
				return err
			}
			s.info.Cropped = c
		}
	}
	for _, idx := range prim.props {
		if p := s.props[idx-1]; p.typ == "pixi" {
			s.info.Channels, s.info.BitDepth = p.channels, p.depth
		}
	}
	// An alpha plane: an item with an auxl reference to the primary item and an auxC
	// naming alpha. Its size counts for the decode.
	for _, id := range s.order {
		a := s.items[id]
		if a == prim || !refers(a.auxlTo, prim.id) || !s.isAlpha(a) {
			continue
		}
		if s.info.Alpha {
			return fmt.Errorf("two alpha planes: %w", ErrMalformed)
		}
		asz, _, _, _, atiles, err := s.image(a)
		if err != nil {
			return fmt.Errorf("alpha item: %w", err)
		}
		s.info.Alpha, s.info.AlphaSize, s.info.AlphaTiles = true, asz, atiles
	}
	return nil
}

func refers(ids []uint32, id uint32) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

func (s *scanner) isAlpha(it *item) bool {
	for _, idx := range it.props {
		if s.props[idx-1].alpha {
			return true
		}
	}
	return false
}

// image checks an image item: a coded av01/hvc1 item, or a grid of them.
func (s *scanner) image(it *item) (sz Size, rows, cols int, tileType string, tiles []Size, err error) {
	switch it.typ {
	case "av01", "hvc1":
		sz, err = s.coded(it, it.typ)
		return sz, 0, 0, "", nil, err
	case "grid":
	default:
		return Size{}, 0, 0, "", nil, fmt.Errorf("item type %s: %w", it.typ, ErrUnsupported)
	}
	if !it.located || len(it.extents) == 0 {
		return Size{}, 0, 0, "", nil, fmt.Errorf("grid has no descriptor: %w", ErrMalformed)
	}
	d := s.itemData(it, 12)
	c := cursor{b: d}
	if c.u8() != 0 { // version
		return Size{}, 0, 0, "", nil, fmt.Errorf("grid descriptor version: %w", ErrUnsupported)
	}
	flags := c.u8()
	rows, cols = int(c.u8())+1, int(c.u8())+1
	var ow, oh uint32
	if flags&1 != 0 {
		ow, oh = c.u32(), c.u32()
	} else {
		ow, oh = uint32(c.u16()), uint32(c.u16())
	}
	if c.bad || ow == 0 || oh == 0 || ow > math.MaxInt32 || oh > math.MaxInt32 {
		return Size{}, 0, 0, "", nil, fmt.Errorf("grid descriptor: %w", ErrMalformed)
	}
	if rows*cols > s.lim.MaxTiles {
		return Size{}, 0, 0, "", nil, fmt.Errorf("grid of %d tiles, limit %d: %w", rows*cols, s.lim.MaxTiles, ErrLimit)
	}
	if len(it.dimg) != rows*cols {
		return Size{}, 0, 0, "", nil, fmt.Errorf("grid of %dx%d has %d tiles: %w", cols, rows, len(it.dimg), ErrMalformed)
	}
	sz, err = s.size(it)
	if err != nil {
		return Size{}, 0, 0, "", nil, err
	}
	if sz.Width != int(ow) || sz.Height != int(oh) {
		return Size{}, 0, 0, "", nil, fmt.Errorf("grid output %dx%d, ispe %dx%d: %w", ow, oh, sz.Width, sz.Height, ErrMalformed)
	}
	tiles = make([]Size, 0, len(it.dimg))
	var tw, th int
	for i, id := range it.dimg {
		t, ok := s.items[id]
		if !ok || t == it {
			return Size{}, 0, 0, "", nil, fmt.Errorf("grid tile %d is not an item: %w", i, ErrMalformed)
		}
		if i == 0 {
			tileType = t.typ
			if tileType != "av01" && tileType != "hvc1" {
				return Size{}, 0, 0, "", nil, fmt.Errorf("grid tile type %s: %w", tileType, ErrUnsupported)
			}
		}
		ts, err := s.coded(t, tileType)
		if err != nil {
			return Size{}, 0, 0, "", nil, fmt.Errorf("grid tile %d: %w", i, err)
		}
		if i == 0 {
			tw, th = ts.Width, ts.Height
		} else if ts.Width != tw || ts.Height != th {
			return Size{}, 0, 0, "", nil, fmt.Errorf("grid tiles of different sizes: %w", ErrMalformed)
		}
		tiles = append(tiles, ts)
	}
	// The tiles must cover the output, and no column or row of tiles may lie wholly
	// outside it (ISO/IEC 23008-12 6.6.2.3.1).
	if int64(tw)*int64(cols) < int64(ow) || int64(th)*int64(rows) < int64(oh) ||
		int64(tw)*int64(cols-1) >= int64(ow) || int64(th)*int64(rows-1) >= int64(oh) {
		return Size{}, 0, 0, "", nil, fmt.Errorf("grid of %dx%d tiles of %dx%d does not fit %dx%d: %w", cols, rows, tw, th, ow, oh, ErrMalformed)
	}
	return sz, rows, cols, tileType, tiles, nil
}

// Orientation as a transform of display coordinates (x right, y down): the EXIF
// orientation code o means "apply exifMatrix[o] to the stored image to display it".
type matrix [4]int8 // a b; c d: (x, y) -> (a*x + b*y, c*x + d*y)

var exifMatrix = [9]matrix{
	1: {1, 0, 0, 1},   // identity
	2: {-1, 0, 0, 1},  // mirror left-right
	3: {-1, 0, 0, -1}, // rotate 180
	4: {1, 0, 0, -1},  // mirror top-bottom
	5: {0, 1, 1, 0},   // transpose
	6: {0, -1, 1, 0},  // rotate 90 clockwise
	7: {0, -1, -1, 0}, // transverse
	8: {0, 1, -1, 0},  // rotate 90 anticlockwise
}

// then returns the transform m followed by n.
func (m matrix) then(n matrix) matrix {
	return matrix{
		n[0]*m[0] + n[1]*m[2], n[0]*m[1] + n[1]*m[3],
		n[2]*m[0] + n[3]*m[2], n[2]*m[1] + n[3]*m[3],
	}
}

// orientation composes the item's irot (angle × 90° anticlockwise, ISO/IEC 23008-12
// 6.5.10) and imir (axis 0: top and bottom exchanged; axis 1: left and right,
// ISO/IEC 23008-12:2022 6.5.12, whose note maps them to EXIF 4 and 2) in ipma order.
func (s *scanner) orientation(it *item) int {
	m := exifMatrix[1]
	for _, idx := range it.props {
		switch p := s.props[idx-1]; p.typ {
		case "irot":
			for range p.angle {
				m = m.then(exifMatrix[8])
			}
		case "imir":
			if p.axis == 0 {
				m = m.then(exifMatrix[4])
			} else {
				m = m.then(exifMatrix[2])
			}
		}
	}
	for o := 1; o <= 8; o++ {
		if exifMatrix[o] == m {
			return o
		}
	}
	return 1 // unreachable: the group is closed
}

// clapSize is the size of a w×h image cropped to the clean aperture c (widthN,
// widthD, heightN, heightD, horizOffN, horizOffD, vertOffN, vertOffD), by libheif's
// arithmetic (Box_clap::left_rounded, right_rounded: the left edge rounded down,
// the right edge rounded, both clamped to the image).
func clapSize(c [8]int64, sz Size) (Size, error) {
	w, err := clapAxis(c[0], c[1], c[4], c[5], int64(sz.Width))
	if err != nil {
		return Size{}, err
	}
	h, err := clapAxis(c[2], c[3], c[6], c[7], int64(sz.Height))
	if err != nil {
		return Size{}, err
	}
	return Size{int(w), int(h)}, nil
}

// clapAxis is one axis of clapSize: extent n/d centred at off/offD past the middle
// of size. The products overflow 64 bits, so it works in big integers.
func clapAxis(n, d, off, offD, size int64) (int64, error) {
	B := big.NewInt
	mul := func(a, b *big.Int) *big.Int { return new(big.Int).Mul(a, b) }
	// pc = off/offD + (size-1)/2 = pcN/pcD; left = pc - (n-d)/(2d) = lN/lD.
	pcN := new(big.Int).Add(mul(B(off), B(2)), mul(B(size-1), B(offD)))
	pcD := mul(B(offD), B(2))
	lN := new(big.Int).Sub(mul(pcN, B(2*d)), mul(B(n-d), pcD))
	lD := mul(pcD, B(2*d))
	leftB := new(big.Int).Quo(lN, lD) // truncated, as C's integer division
	if !leftB.IsInt64() || leftB.Int64() > size || leftB.Int64() < -size-(n/d)-1 {
		return 0, fmt.Errorf("clean aperture outside the image: %w", ErrMalformed)
	}
	left := leftB.Int64()
	// right = n/d - 1 + left, rounded: (n - d + left*d + d/2) / d.
	right := new(big.Int).Quo(new(big.Int).Add(B(n-d+d/2), mul(B(left), B(d))), B(d)).Int64()
	left = max(left, 0)
	right = min(right, size-1)
	if left > right {
		return 0, fmt.Errorf("clean aperture outside the image: %w", ErrMalformed)
	}
	return right - left + 1, nil
}
