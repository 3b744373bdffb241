package isobmff_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"image"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fastimagecache/fastimagecache/internal/codec"
	"github.com/fastimagecache/fastimagecache/internal/fixture"
	"github.com/fastimagecache/fastimagecache/internal/isobmff"
)

func scan(t *testing.T, b []byte) isobmff.Info {
	t.Helper()
	info, err := isobmff.Scan(b, isobmff.Limits{})
	if err != nil {
		t.Fatalf("Scan: %v", err)
	}
	return info
}

func TestScanStill(t *testing.T) {
	for _, tc := range []struct {
		f    fixture.HEIF
		typ  string
		w, h int
	}{
		{fixture.AVIFFile(640, 480), "av01", 640, 480},
		{fixture.HEICFile(4032, 3024), "hvc1", 4032, 3024},
	} {
		info := scan(t, tc.f.Bytes())
		if info.PrimaryType != tc.typ || info.Width != tc.w || info.Height != tc.h || info.Orientation != 1 ||
			info.Sequence || info.Alpha || info.Rows != 0 || info.Items != 1 {
			t.Errorf("%s: %+v", tc.typ, info)
		}
		if got := info.CodedPixels(); got != int64(tc.w*tc.h) {
			t.Errorf("%s: CodedPixels %d", tc.typ, got)
		}
	}
	if info := scan(t, fixture.AVIFFile(1, 1).Bytes()); info.Channels != 3 || info.BitDepth != 8 {
		t.Errorf("pixi: %+v", info)
	}
}

// TestOrientation checks the irot/imir conventions: irot counts quarter turns
// anticlockwise (ISO/IEC 23008-12 6.5.10), imir axis 0 exchanges top and bottom and
// axis 1 left and right (ISO/IEC 23008-12:2022 6.5.12, whose note maps them to EXIF 4
// and 2), and they apply in ipma order. Expected codes by hand: libavif's table in
// avif.h (irot 1 + imir 0 is EXIF 5, irot 3 + imir 0 is EXIF 7).
func TestOrientation(t *testing.T) {
	for _, tc := range []struct {
		irot, imir  int
		mirrorFirst bool
		want        int
	}{
		{-1, -1, false, 1},
		{0, -1, false, 1},
		{1, -1, false, 8}, // 90° anticlockwise
		{2, -1, false, 3},
		{3, -1, false, 6}, // 270° anticlockwise = 90° clockwise
		{-1, 1, false, 2},
		{-1, 0, false, 4},
		{1, 0, false, 5},
		{3, 0, false, 7},
		{2, 0, false, 2},
		{1, 1, false, 7},
		{3, 1, false, 5},
		{1, 0, true, 7}, // mirror, then rotate: a different result
	} {
		f := fixture.AVIFFile(30, 20)
		f.Items[0].Irot, f.Items[0].Imir, f.Items[0].MirrorFirst = tc.irot, tc.imir, tc.mirrorFirst
		if got := scan(t, f.Bytes()).Orientation; got != tc.want {
			t.Errorf("irot %d imir %d mirrorFirst %v: orientation %d, want %d", tc.irot, tc.imir, tc.mirrorFirst, got, tc.want)
		}
	}
}

func TestGrid(t *testing.T) {
	info := scan(t, fixture.HEIFGrid("heic", "hvc1", 2, 3, 512, 512, 1500, 1000).Bytes())
	if info.PrimaryType != "grid" || info.TileType != "hvc1" || info.Rows != 2 || info.Columns != 3 ||
		len(info.Tiles) != 6 || info.Width != 1500 || info.Height != 1000 || info.Items != 7 {
		t.Fatalf("%+v", info)
	}
	for _, ts := range info.Tiles {
		if ts != (isobmff.Size{Width: 512, Height: 512}) {
			t.Fatalf("tile %+v", ts)
		}
	}
	if got, want := info.CodedPixels(), int64(6*512*512+1500*1000); got != want {
		t.Errorf("CodedPixels %d, want %d", got, want)
	}
}

func TestAlpha(t *testing.T) {
	f := fixture.AVIFFile(64, 48)
	f.Items = append(f.Items, fixture.HEIFItem{ID: 2, Type: "av01", Data: fixture.AV1Still(64, 48), Width: 64, Height: 48, Alpha: true, AuxFor: 1, Irot: -1, Imir: -1})
	info := scan(t, f.Bytes())
	if !info.Alpha || info.AlphaSize != (isobmff.Size{Width: 64, Height: 48}) || info.CodedPixels() != 2*64*48 {
		t.Fatalf("%+v", info)
	}
	// An auxiliary item that is not alpha (a depth map) is not alpha.
	f.Items[1].Alpha = false
	if info := scan(t, f.Bytes()); info.Alpha {
		t.Fatalf("non-alpha auxiliary counted as alpha: %+v", info)
	}
}

// TestEncoderOutput reads what the AVIF encoder (libavif in WebAssembly) writes.
func TestEncoderOutput(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the AVIF encoder")
	}
	for _, alpha := range []bool{false, true} {
		img := image.NewNRGBA(image.Rect(0, 0, 67, 41))
		for i := range img.Pix {
			img.Pix[i] = byte(i * 7)
		}
		if !alpha {
			for i := 3; i < len(img.Pix); i += 4 {
				img.Pix[i] = 255
			}
		}
		var buf bytes.Buffer
		if err := codec.EncodeAVIF(&buf, img, codec.AVIFOptions{Quality: 60, Speed: 10}); err != nil {
			t.Fatal(err)
		}
		info := scan(t, buf.Bytes())
		if info.MajorBrand != "avif" || info.PrimaryType != "av01" || info.Width != 67 || info.Height != 41 ||
			info.Alpha != alpha || info.Orientation != 1 || info.Sequence {
			t.Errorf("alpha %v: %+v", alpha, info)
		}
	}
}

// TestHostile: each malformed or oversized file fails with the right sentinel.
func TestHostile(t *testing.T) {
	noISpe := fixture.AVIFFile(10, 10)
	noISpe.Items[0].Width, noISpe.Items[0].Height = 0, 0
	zero := fixture.AVIFFile(0, 10)
	truncMdat := fixture.AVIFFile(10, 10)
	truncMdat.ExtentPad = 1000
	mdatOver := fixture.AVIFFile(10, 10)
	mdatOver.MdatSize = 1 << 30
	seqOnly := fixture.AVIFFile(10, 10)
	seqOnly.Major, seqOnly.NoMeta, seqOnly.Moov = "avis", true, true
	noPitm := fixture.AVIFFile(10, 10)
	noPitm.Primary = 0
	badPitm := fixture.AVIFFile(10, 10)
	badPitm.Primary = 7
	tooManyTiles := fixture.HEIFGrid("avif", "av01", 2, 2, 64, 64, 128, 128)
	tooManyTiles.Items[0].Data = fixture.GridDescriptor(256, 256, 128, 128) // 65536 tiles declared, 4 present
	fewTiles := fixture.HEIFGrid("avif", "av01", 2, 2, 64, 64, 128, 128)
	fewTiles.Items[0].Dimg = fewTiles.Items[0].Dimg[:3]
	gridGap := fixture.HEIFGrid("avif", "av01", 2, 2, 64, 64, 200, 128) // tiles cover 128 of 200
	gridMismatch := fixture.HEIFGrid("avif", "av01", 2, 2, 64, 64, 128, 128)
	gridMismatch.Items[0].Width = 4096 // ispe disagrees with the descriptor
	tileBig := fixture.HEIFGrid("avif", "av01", 1, 2, 64, 64, 128, 64)
	tileBig.Items[2].Width = 65535 // tiles of different sizes
	overlay := fixture.AVIFFile(10, 10)
	overlay.Items[0].Type = "iovl"
	tileSelf := fixture.HEIFGrid("avif", "av01", 1, 1, 64, 64, 64, 64)
	tileSelf.Items[0].Dimg = []uint32{1}

	valid := fixture.AVIFFile(10, 10).Bytes()
	ftypLen := int(binary.BigEndian.Uint32(valid))
	withBox := func(b []byte) []byte {
		return append(append([]byte{}, valid[:ftypLen]...), append(b, valid[ftypLen:]...)...)
	}
	// iinf declaring 1,000,000 items in a few bytes: version 1 (a 32-bit count) over
	// the same bytes, its count field overwriting the first infe's header.
	itemFlood := append([]byte{}, valid...)
	if i := bytes.Index(itemFlood, []byte("iinf")); i > 0 {
		itemFlood = append(itemFlood[:i+4:i+4], append(fixture.FullBox("x", 1, 0)[8:12], itemFlood[i+8:]...)...)
		binary.BigEndian.PutUint32(itemFlood[i+8:], 1_000_000)
	}
	withData := func(d []byte) []byte {
		f := fixture.AVIFFile(16, 16)
		f.Items[0].Data = d
		return f.Bytes()
	}
	for _, tc := range []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, isobmff.ErrMalformed},
		{"no ftyp first", fixture.Box("meta"), isobmff.ErrMalformed},
		{"missing ispe", noISpe.Bytes(), isobmff.ErrMalformed},
		{"zero ispe", zero.Bytes(), isobmff.ErrMalformed},
		{"truncated mdat: extent past EOF", truncMdat.Bytes(), isobmff.ErrMalformed},
		{"mdat size past EOF", mdatOver.Bytes(), isobmff.ErrMalformed},
		{"box size overflow: largesize 2^64-1", withBox(fixture.LargeBox("free", 1<<64-1, nil)), isobmff.ErrMalformed},
		{"box size under its header", withBox([]byte{0, 0, 0, 4, 'f', 'r', 'e', 'e'}), isobmff.ErrMalformed},
		{"largesize under its header", withBox(fixture.LargeBox("free", 8, nil)), isobmff.ErrMalformed},
		{"avis sequence without a still image", seqOnly.Bytes(), isobmff.ErrUnsupported},
		{"no pitm", noPitm.Bytes(), isobmff.ErrMalformed},
		{"pitm names a missing item", badPitm.Bytes(), isobmff.ErrMalformed},
		{"grid declaring 65536 tiles", tooManyTiles.Bytes(), isobmff.ErrLimit},
		{"grid with fewer dimg than tiles", fewTiles.Bytes(), isobmff.ErrMalformed},
		{"grid tiles not covering the output", gridGap.Bytes(), isobmff.ErrMalformed},
		{"grid ispe disagreeing with descriptor", gridMismatch.Bytes(), isobmff.ErrMalformed},
		{"grid tiles of different sizes", tileBig.Bytes(), isobmff.ErrMalformed},
		{"grid made of itself", tileSelf.Bytes(), isobmff.ErrMalformed},
		{"overlay primary item", overlay.Bytes(), isobmff.ErrUnsupported},
		{"iinf declaring 1,000,000 items", itemFlood, isobmff.ErrLimit},
		{"av1 sequence header wider than ispe", fixture.AVIFBitstreamOverISPE(16, 16, 65536, 16), isobmff.ErrLimit},
		{"av1 sequence header taller than ispe", fixture.AVIFBitstreamOverISPE(16, 16, 16, 17), isobmff.ErrLimit},
		{"av1 sequence header truncated", withData(fixture.AV1Still(16, 16)[:7]), isobmff.ErrMalformed},
		{"av1 OBU size past the item", withData([]byte{1<<3 | 2, 100, 0}), isobmff.ErrMalformed},
		{"hevc SPS in hvcC wider than ispe", fixture.HEICBitstreamOverISPE(16, 16, 65536, 16, false), isobmff.ErrLimit},
		{"hevc SPS in hvcC taller than ispe rounded to 64", fixture.HEICBitstreamOverISPE(100, 100, 128, 129, false), isobmff.ErrLimit},
		{"hevc SPS in-band wider than ispe", fixture.HEICBitstreamOverISPE(16, 16, 1<<20, 1<<20, true), isobmff.ErrLimit},
		{"hevc SPS in-band 2^32 wide", fixture.HEICBitstreamOverISPE(16, 16, 1<<32, 16, true), isobmff.ErrLimit},
		{"hevc SPS of a grid tile over its ispe", hevcTile(fixture.SPS{Width: 4096, Height: 512}), isobmff.ErrLimit},
		{"hevc SPS with sub-layers over ispe", hevcProps(fixture.SPS{Width: 4096, Height: 64, SubLayers: 6}), isobmff.ErrLimit},
		{"hevc SPS truncated", hevcProps(cut(fixture.SPS{Width: 64, Height: 64}.NAL(), 20)), isobmff.ErrMalformed},
		{"hevc SPS truncated in-band", hevcData(cut(fixture.SPS{Width: 64, Height: 64}.NAL(), 20)), isobmff.ErrMalformed},
		{"hevc SPS exp-Golomb over 32 bits", hevcProps(fixture.SPS{OverlongWidth: true, Height: 64}), isobmff.ErrMalformed},
		{"hevc SPS of 7 sub-layers+1", hevcProps(fixture.SPS{Width: 64, Height: 64, SubLayers: 7}), isobmff.ErrMalformed},
		{"hevc SPS bit depth 17", hevcProps(fixture.SPS{Width: 64, Height: 64, BitDepth: 9}), isobmff.ErrMalformed},
		{"hevc SPS of width 0", hevcProps(fixture.SPS{Width: 0, Height: 64}), isobmff.ErrMalformed},
		{"hvc1 without an SPS", hevcProps(fixture.HEVCSlice()), isobmff.ErrMalformed},
		{"hvc1 without an SPS (layer 1 only)", hevcProps(fixture.SPS{Width: 64, Height: 64, LayerID: 1}), isobmff.ErrMalformed},
		{"hvc1 grid tile without an SPS", hevcTile(nil), isobmff.ErrMalformed},
		{"hevc NAL length past the item", hevcData([]byte{0, 0, 0, 9, 0x26, 1}), isobmff.ErrMalformed},
		{"hevc NAL length truncated", hevcData([]byte{0, 0}), isobmff.ErrMalformed},
		{"hvc1 item of two pictures", hevcData(fixture.NALStream(fixture.SPS{Width: 64, Height: 64}.NAL(), fixture.HEVCSlice(), fixture.HEVCSlice())), isobmff.ErrUnsupported},
		{"hvcC record truncated", hevcRaw(fixture.Box("hvcC", fixture.HvcC(fixture.SPS{Width: 64, Height: 64}.NAL())[8:38])), isobmff.ErrMalformed},
	} {
		_, err := isobmff.Scan(tc.in, isobmff.Limits{})
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestLimits(t *testing.T) {
	grid := fixture.HEIFGrid("avif", "av01", 4, 4, 64, 64, 256, 256).Bytes()
	if _, err := isobmff.Scan(grid, isobmff.Limits{MaxTiles: 15}); !errors.Is(err, isobmff.ErrLimit) {
		t.Errorf("MaxTiles 15, 16 tiles: %v", err)
	}
	if _, err := isobmff.Scan(grid, isobmff.Limits{MaxTiles: 16}); err != nil {
		t.Errorf("MaxTiles 16, 16 tiles: %v", err)
	}
	if _, err := isobmff.Scan(grid, isobmff.Limits{MaxItems: 16}); !errors.Is(err, isobmff.ErrLimit) {
		t.Errorf("MaxItems 16, 17 items: %v", err)
	}
	if _, err := isobmff.Scan(grid, isobmff.Limits{MaxItems: 17}); err != nil {
		t.Errorf("MaxItems 17, 17 items: %v", err)
	}
	valid := fixture.AVIFFile(10, 10).Bytes()
	if _, err := isobmff.Scan(valid, isobmff.Limits{MaxDepth: 3}); !errors.Is(err, isobmff.ErrLimit) {
		t.Errorf("MaxDepth 3 (ipco children are at 4): %v", err)
	}
	if _, err := isobmff.Scan(valid, isobmff.Limits{MaxDepth: 4}); err != nil {
		t.Errorf("MaxDepth 4: %v", err)
	}
	// A flood of empty boxes before meta.
	ftypLen := int(binary.BigEndian.Uint32(valid))
	flood := append([]byte{}, valid[:ftypLen]...)
	for range 100 {
		flood = append(flood, fixture.Box("free")...)
	}
	flood = append(flood, valid[ftypLen:]...)
	if _, err := isobmff.Scan(flood, isobmff.Limits{MaxBoxes: 100}); !errors.Is(err, isobmff.ErrLimit) {
		t.Errorf("MaxBoxes 100, 100 free boxes and more: %v", err)
	}
	if _, err := isobmff.Scan(flood, isobmff.Limits{}); err != nil {
		t.Errorf("100 free boxes under the default: %v", err)
	}
}

// TestSequenceWithStill: an avis file with a meta and a still primary item is read
// as that still image, flagged as a sequence.
func TestSequenceWithStill(t *testing.T) {
	f := fixture.AVIFFile(32, 32)
	f.Major, f.Brands, f.Moov = "avis", []string{"avis", "avif", "msf1"}, true
	info := scan(t, f.Bytes())
	if !info.Sequence || info.Width != 32 {
		t.Fatalf("%+v", info)
	}
}

// TestTruncationsNeverPanic scans every prefix and every one-byte corruption of
// small valid files.
func TestTruncationsNeverPanic(t *testing.T) {
	for _, f := range []fixture.HEIF{fixture.AVIFFile(10, 10), fixture.HEIFGrid("heic", "hvc1", 2, 2, 8, 8, 16, 16)} {
		b := f.Bytes()
		for i := range b {
			if _, err := isobmff.Scan(b[:i], isobmff.Limits{}); err == nil {
				t.Errorf("prefix of %d of %d bytes accepted", i, len(b))
			}
			c := append([]byte{}, b...)
			for _, v := range []byte{0, 0xff, c[i] + 1} {
				c[i] = v
				_, _ = isobmff.Scan(c, isobmff.Limits{})
			}
		}
	}
}

// cut returns b's first n bytes.
func cut(b []byte, n int) []byte { return append([]byte{}, b[:n]...) }

// hevcProps is a 64×64 HEIC whose item's hvcC carries p (an SPS or NAL unit bytes)
// and whose data is one slice.
func hevcProps(p any) []byte {
	f := fixture.HEICFile(64, 64)
	f.Items[0].Props = [][]byte{fixture.HvcC(nalOf(p))}
	return f.Bytes()
}

// hevcData is a 64×64 HEIC whose hvcC has no NAL unit and whose data is d: an SPS
// NAL unit (length-prefixed here) or the bytes of a NAL stream.
func hevcData(d []byte) []byte {
	f := fixture.HEICFile(64, 64)
	f.Items[0].Props = [][]byte{fixture.HvcC()}
	if len(d) >= 2 && d[0]>>1 == 33 {
		d = fixture.NALStream(d)
	}
	f.Items[0].Data = d
	return f.Bytes()
}

// hevcRaw is a 64×64 HEIC with hvcC as its item's property box.
func hevcRaw(hvcC []byte) []byte {
	f := fixture.HEICFile(64, 64)
	f.Items[0].Props = [][]byte{hvcC}
	return f.Bytes()
}

// hevcTile is a 1×2 HEIC grid of 512×512 tiles whose second tile's hvcC carries sps
// (none: nil).
func hevcTile(sps any) []byte {
	f := fixture.HEIFGrid("heic", "hvc1", 1, 2, 512, 512, 1024, 512)
	if sps == nil {
		f.Items[2].Props = [][]byte{fixture.HvcC()}
	} else {
		f.Items[2].Props = [][]byte{fixture.HvcC(nalOf(sps))}
	}
	return f.Bytes()
}

func nalOf(p any) []byte {
	if s, ok := p.(fixture.SPS); ok {
		return s.NAL()
	}
	return p.([]byte)
}

// TestHEVCAccepted: SPS layouts a real encoder writes pass: padding up to 64 with a
// conformance window, sub-layers, SPS in-band as well as in hvcC, 10 bits, a second
// SPS of layer 1 larger than ispe (libde265 discards layers over 0); CodedPixels
// counts the padding.
func TestHEVCAccepted(t *testing.T) {
	for _, tc := range []struct {
		name   string
		w, h   uint32
		sps    fixture.SPS
		inBand bool
		extra  [][]byte
	}{
		{"exact", 64, 48, fixture.SPS{Width: 64, Height: 48}, false, nil},
		{"padded to 8 and cropped", 100, 75, fixture.SPS{Width: 104, Height: 80, Crop: []uint64{0, 2, 0, 2}}, false, nil},
		{"padded to 64", 100, 100, fixture.SPS{Width: 128, Height: 128}, false, nil},
		{"six sub-layers", 4032, 3024, fixture.SPS{Width: 4032, Height: 3024, SubLayers: 6}, false, nil},
		{"one sub-layer", 512, 512, fixture.SPS{Width: 512, Height: 512, SubLayers: 1}, false, nil},
		{"in-band, 10 bits", 640, 480, fixture.SPS{Width: 640, Height: 480, BitDepth: 2}, true, nil},
		{"huge layer-1 SPS ignored", 64, 64, fixture.SPS{Width: 64, Height: 64}, false, [][]byte{fixture.SPS{Width: 1 << 20, Height: 1 << 20, LayerID: 1}.NAL()}},
	} {
		f := fixture.HEICFile(tc.w, tc.h)
		nals := append([][]byte{tc.sps.NAL()}, tc.extra...)
		if tc.inBand {
			f.Items[0].Props = [][]byte{fixture.HvcC()}
			f.Items[0].Data = fixture.NALStream(append(nals, fixture.HEVCSlice())...)
		} else {
			f.Items[0].Props = [][]byte{fixture.HvcC(nals...)}
		}
		info, err := isobmff.Scan(f.Bytes(), isobmff.Limits{})
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		want := int64(max(tc.sps.Width, uint64(tc.w)) * max(tc.sps.Height, uint64(tc.h))) // #nosec G115 -- test sizes
		if info.CodedPixels() != want {
			t.Errorf("%s: CodedPixels %d, want %d", tc.name, info.CodedPixels(), want)
		}
	}
}

// TestRealHEIC: the HEIC files of gen2brain/heic's testdata (libheif's encoder with
// x265; one a 3x3 grid) pass the SPS check.
func TestRealHEIC(t *testing.T) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/gen2brain/heic").Output() // #nosec G204 -- fixed arguments
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "testdata")
	for _, name := range []string{"test.heic", "test8.heic", "test12.heic", "gray.heic"} {
		data, err := os.ReadFile(filepath.Join(dir, name)) // #nosec G304 -- the module cache's test files
		if err != nil {
			t.Fatal(err)
		}
		info := scan(t, data)
		if info.PrimaryType != "hvc1" && info.TileType != "hvc1" {
			t.Errorf("%s: %+v", name, info)
		}
	}
}
