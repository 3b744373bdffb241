package webpscan

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/image/webp"

	"github.com/fastimagecache/fastimagecache/internal/fixture"
)

// ---------------------------------------------------------------------------
// Builders

// chunk is one RIFF chunk; size overrides the length field, noPad omits the
// padding byte of an odd-sized payload.
type chunk struct {
	fourcc  string
	payload []byte
	size    *uint32
	noPad   bool
}

func u32p(v uint32) *uint32 { return &v }

// webpFile assembles "RIFF" size "WEBP" chunks... [trailing].
type webpFile struct {
	chunks   []chunk
	riffSize *uint32 // overrides the computed RIFF size
	form     string  // overrides "WEBP"
	trailing []byte  // bytes after the RIFF payload
}

func (f webpFile) bytes() []byte {
	var body []byte
	for _, c := range f.chunks {
		body = append(body, c.fourcc...)
		size := uint32(len(c.payload))
		if c.size != nil {
			size = *c.size
		}
		body = binary.LittleEndian.AppendUint32(body, size)
		body = append(body, c.payload...)
		if len(c.payload)%2 == 1 && !c.noPad {
			body = append(body, 0) // padding byte
		}
	}
	form := "WEBP"
	if f.form != "" {
		form = f.form
	}
	size := uint32(4 + len(body))
	if f.riffSize != nil {
		size = *f.riffSize
	}
	out := []byte("RIFF")
	out = binary.LittleEndian.AppendUint32(out, size)
	out = append(out, form...)
	out = append(out, body...)
	return append(out, f.trailing...)
}

func file(chunks ...chunk) []byte { return webpFile{chunks: chunks}.bytes() }

// bitWriter writes an LSB-first bit stream, as VP8L uses.
type bitWriter struct {
	b     []byte
	nbits uint
}

func (w *bitWriter) put(v uint32, n uint) {
	for i := uint(0); i < n; i++ {
		if w.nbits%8 == 0 {
			w.b = append(w.b, 0)
		}
		w.b[len(w.b)-1] |= byte(v>>i&1) << (w.nbits % 8)
		w.nbits++
	}
}

// vp8lOpts tweaks the VP8L header.
type vp8lOpts struct {
	alpha     bool
	version   uint32
	signature byte // 0 means 0x2f
}

// vp8lChunk returns a VP8L chunk holding a real, decodable w x h lossless
// bitstream: no transforms, no color cache, no meta prefix codes, and five
// "simple" one-symbol prefix codes so every pixel is transparent black and
// costs zero bits.
func vp8lChunk(w, h uint32, o vp8lOpts) chunk {
	var bw bitWriter
	sig := uint32(vp8lSignature)
	if o.signature != 0 {
		sig = uint32(o.signature)
	}
	bw.put(sig, 8)
	bw.put(w-1, 14)
	bw.put(h-1, 14)
	if o.alpha {
		bw.put(1, 1)
	} else {
		bw.put(0, 1)
	}
	bw.put(o.version, 3)
	bw.put(0, 1)             // no transform
	bw.put(0, 1)             // no color cache
	bw.put(0, 1)             // no meta prefix codes
	for i := 0; i < 5; i++ { // green, red, blue, alpha, distance
		bw.put(1, 1) // simple code
		bw.put(0, 1) // one symbol
		bw.put(0, 1) // symbol stored in 1 bit
		bw.put(0, 1) // symbol 0
	}
	bw.put(0, 16) // slack so the decoder's look-ahead never hits EOF early
	return chunk{fourcc: "VP8L", payload: bw.b}
}

// vp8Opts tweaks the VP8 frame header.
type vp8Opts struct {
	interFrame bool // set the "not a key frame" bit
	badStart   bool // corrupt the start code
	partLen    int  // first partition length (-1: claim one more than present)
}

// vp8Chunk returns a VP8 chunk with a valid key-frame header for w x h
// (14-bit fields, scale bits set to exercise masking) and a zero-filled
// first partition. It is header-valid, not decodable.
func vp8Chunk(w, h int, o vp8Opts) chunk {
	const body = 16
	part := body
	if o.partLen < 0 {
		part = body + 1
	}
	tag := uint32(part)<<5 | 1<<4 // show_frame=1, version 0
	if o.interFrame {
		tag |= 1
	}
	p := []byte{byte(tag), byte(tag >> 8), byte(tag >> 16)} // 3-byte frame tag
	if o.badStart {
		p = append(p, 0x9d, 0x01, 0x2b)
	} else {
		p = append(p, 0x9d, 0x01, 0x2a) // start code
	}
	p = append(p, byte(w), byte(w>>8)&0x3f|0x40) // width, horizontal scale 1
	p = append(p, byte(h), byte(h>>8)&0x3f|0x80) // height, vertical scale 2
	p = append(p, make([]byte, body)...)
	return chunk{fourcc: "VP8 ", payload: p}
}

// vp8xChunk returns a VP8X chunk with the given flags and canvas size.
func vp8xChunk(flags byte, w, h uint32) chunk {
	p := []byte{flags, 0, 0, 0} // flags + 24 reserved bits
	p = append(p, byte(w-1), byte((w-1)>>8), byte((w-1)>>16))
	p = append(p, byte(h-1), byte((h-1)>>8), byte((h-1)>>16))
	return chunk{fourcc: "VP8X", payload: p}
}

// alphChunk returns an ALPH chunk: header byte (compression method in the
// low two bits) followed by n data bytes.
func alphChunk(method byte, n int) chunk {
	return chunk{fourcc: "ALPH", payload: append([]byte{method}, make([]byte, n)...)}
}

func meta(fourcc string, n int) chunk {
	return chunk{fourcc: fourcc, payload: bytes.Repeat([]byte{'m'}, n)}
}

// realVP8Chunk returns the VP8 chunk of a libwebp-encoded test file from
// x/image's testdata, with its size (skips if unavailable).
func realVP8Chunk(t testing.TB) (chunk, int, int) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(xImageTestdata(t), "blue-purple-pink.lossy.webp"))
	if err != nil {
		t.Skipf("testdata: %v", err)
	}
	require.Equal(t, "VP8 ", string(data[12:16]))
	n := binary.LittleEndian.Uint32(data[16:20])
	cfg, err := webp.DecodeConfig(bytes.NewReader(data))
	require.NoError(t, err)
	return chunk{fourcc: "VP8 ", payload: data[20 : 20+n]}, cfg.Width, cfg.Height
}

func xImageTestdata(t testing.TB) string {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "golang.org/x/image").Output()
	if err != nil {
		t.Skipf("cannot locate golang.org/x/image: %v", err)
	}
	return filepath.Join(strings.TrimSpace(string(out)), "testdata")
}

func isSentinel(err error) bool {
	return errors.Is(err, ErrMalformed) || errors.Is(err, ErrUnsupported)
}

// ---------------------------------------------------------------------------
// Tests

func TestScanValid(t *testing.T) {
	tests := []struct {
		name   string
		data   []byte
		want   Info
		decode bool // also decode with x/image/webp
	}{
		{
			name: "simple lossless", data: file(vp8lChunk(3, 2, vp8lOpts{})), decode: true,
			want: Info{Width: 3, Height: 2, Lossless: true},
		},
		{
			name: "lossless with alpha hint", data: file(vp8lChunk(5, 7, vp8lOpts{alpha: true})), decode: true,
			want: Info{Width: 5, Height: 7, Lossless: true, Alpha: true},
		},
		{
			name: "maximum lossless size 16384x16384 (header only)", data: file(vp8lChunk(16384, 16384, vp8lOpts{})),
			want: Info{Width: 16384, Height: 16384, Lossless: true},
		},
		{
			name: "extended lossless with alpha flag and metadata", decode: true,
			data: file(vp8xChunk(flagAlpha|1<<5|1<<3|1<<2, 3, 2), meta("ICCP", 12), vp8lChunk(3, 2, vp8lOpts{}), meta("EXIF", 8), meta("XMP ", 5)),
			want: Info{Width: 3, Height: 2, Lossless: true, Alpha: true, Extended: true},
		},
		{
			name: "unknown odd-sized chunk is skipped with its padding", decode: true,
			data: file(vp8xChunk(0, 3, 2), meta("ABCD", 3), vp8lChunk(3, 2, vp8lOpts{})),
			want: Info{Width: 3, Height: 2, Lossless: true, Extended: true},
		},
		{
			name: "simple lossy header", data: file(vp8Chunk(20, 10, vp8Opts{})),
			want: Info{Width: 20, Height: 10},
		},
		{
			name: "maximum lossy size 16383x16383 (header only)", data: file(vp8Chunk(16383, 16383, vp8Opts{})),
			want: Info{Width: 16383, Height: 16383},
		},
		{
			name: "extended lossy, uncompressed alpha of exactly w*h bytes",
			data: file(vp8xChunk(flagAlpha, 20, 10), alphChunk(0, 200), vp8Chunk(20, 10, vp8Opts{})),
			want: Info{Width: 20, Height: 10, Alpha: true, AlphaBytes: 201, Extended: true},
		},
		{
			name: "extended lossy, VP8L-compressed alpha",
			data: file(vp8xChunk(flagAlpha, 20, 10), alphChunk(1|2<<2, 7), vp8Chunk(20, 10, vp8Opts{})),
			want: Info{Width: 20, Height: 10, Alpha: true, AlphaCompressed: true, AlphaBytes: 8, Extended: true},
		},
		{
			name: "trailing bytes after RIFF payload",
			data: webpFile{chunks: []chunk{vp8lChunk(3, 2, vp8lOpts{})}, trailing: []byte("<html>")}.bytes(), decode: true,
			want: Info{Width: 3, Height: 2, Lossless: true, Trailing: 6},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Scan(tc.data)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)

			cfg, err := webp.DecodeConfig(bytes.NewReader(tc.data))
			require.NoError(t, err)
			assert.Equal(t, got.Width, cfg.Width)
			assert.Equal(t, got.Height, cfg.Height)
			if tc.decode {
				m, err := webp.Decode(bytes.NewReader(tc.data))
				require.NoError(t, err)
				assert.Equal(t, got.Width, m.Bounds().Dx())
				assert.Equal(t, got.Height, m.Bounds().Dy())
			}
		})
	}
}

// A libwebp-encoded VP8 chunk, re-wrapped in VP8X: accepted (and decodable)
// when the canvas matches, rejected by both Scan and x/image when not.
func TestScanRealVP8InVP8X(t *testing.T) {
	c, w, h := realVP8Chunk(t)
	ok := file(vp8xChunk(0, uint32(w), uint32(h)), c)
	info, err := Scan(ok)
	require.NoError(t, err)
	assert.Equal(t, Info{Width: w, Height: h, Extended: true}, info)
	_, err = webp.Decode(bytes.NewReader(ok))
	require.NoError(t, err)

	bad := file(vp8xChunk(0, uint32(w)+1, uint32(h)), c)
	_, err = Scan(bad)
	require.ErrorIs(t, err, ErrMalformed)
	_, err = webp.Decode(bytes.NewReader(bad))
	require.Error(t, err)
}

func TestScanRejects(t *testing.T) {
	valid := file(vp8lChunk(3, 2, vp8lOpts{}))
	vp8l := vp8lChunk(3, 2, vp8lOpts{})

	tests := []struct {
		name     string
		data     []byte
		wantErr  error
		wantInfo *Info
	}{
		// RIFF header.
		{name: "empty", data: nil, wantErr: ErrMalformed, wantInfo: &Info{}},
		{name: "11 bytes", data: valid[:11], wantErr: ErrMalformed},
		{name: "not RIFF", data: append([]byte("RIFX"), valid[4:]...), wantErr: ErrMalformed},
		{name: "form type not WEBP", data: webpFile{form: "AVI ", chunks: []chunk{vp8l}}.bytes(), wantErr: ErrMalformed},
		{name: "RIFF size one larger than file", data: webpFile{chunks: []chunk{vp8l}, riffSize: u32p(uint32(len(valid) - 8 + 1))}.bytes(), wantErr: ErrMalformed},
		{name: "RIFF size 0xFFFFFFFF", data: webpFile{chunks: []chunk{vp8l}, riffSize: u32p(0xFFFFFFFF)}.bytes(), wantErr: ErrMalformed},
		{name: "RIFF size 3", data: webpFile{chunks: []chunk{vp8l}, riffSize: u32p(3)}.bytes(), wantErr: ErrMalformed},
		{name: "RIFF size 4: no chunks", data: webpFile{chunks: []chunk{vp8l}, riffSize: u32p(4)}.bytes(), wantErr: ErrMalformed},

		// Chunk framing.
		{name: "chunk size one larger than RIFF payload", data: file(chunk{fourcc: "VP8L", payload: vp8l.payload, size: u32p(uint32(len(vp8l.payload)) + 1)}), wantErr: ErrMalformed},
		{name: "chunk size 0xFFFFFFFF", data: file(chunk{fourcc: "VP8L", payload: vp8l.payload, size: u32p(0xFFFFFFFF)}), wantErr: ErrMalformed},
		{
			name:    "chunk fits file but not shortened RIFF payload",
			data:    webpFile{chunks: []chunk{vp8l}, riffSize: u32p(uint32(len(valid) - 8 - 2))}.bytes(),
			wantErr: ErrMalformed,
		},
		{name: "odd chunk missing padding byte", data: file(vp8xChunk(0, 3, 2), vp8l, chunk{fourcc: "EXIF", payload: []byte{1, 2, 3}, noPad: true}), wantErr: ErrMalformed},
		{
			// The RIFF payload ends 4 bytes into a second chunk header.
			name:    "short chunk header after image",
			data:    webpFile{chunks: []chunk{vp8l}, riffSize: u32p(uint32(4 + 8 + len(vp8l.payload) + 4)), trailing: []byte("EXIF")}.bytes(),
			wantErr: ErrMalformed,
		},

		// Chunk order.
		{name: "first chunk is metadata", data: file(meta("ICCP", 4), vp8l), wantErr: ErrMalformed},
		{name: "VP8X not first", data: file(vp8l, vp8xChunk(0, 3, 2)), wantErr: ErrMalformed},
		{name: "duplicate VP8X", data: file(vp8xChunk(0, 3, 2), vp8xChunk(0, 3, 2), vp8l), wantErr: ErrMalformed},
		{name: "no image chunk", data: file(vp8xChunk(0, 3, 2), meta("EXIF", 4)), wantErr: ErrMalformed},
		{name: "two VP8L chunks", data: file(vp8l, vp8l), wantErr: ErrMalformed},
		{name: "VP8L then VP8", data: file(vp8xChunk(0, 3, 2), vp8l, vp8Chunk(3, 2, vp8Opts{})), wantErr: ErrMalformed},

		// VP8X.
		{name: "VP8X size 9", data: file(chunk{fourcc: "VP8X", payload: vp8xChunk(0, 3, 2).payload[:9]}, vp8l), wantErr: ErrMalformed},
		{name: "VP8X size 11", data: file(chunk{fourcc: "VP8X", payload: append(vp8xChunk(0, 3, 2).payload, 0)}, vp8l), wantErr: ErrMalformed},
		{name: "VP8X canvas over 2^31-1 pixels", data: file(vp8xChunk(0, 1<<24, 1<<24), vp8l), wantErr: ErrMalformed},
		{name: "VP8X width differs from VP8L", data: file(vp8xChunk(0, 4, 2), vp8l), wantErr: ErrMalformed},
		{name: "VP8X height differs from VP8L", data: file(vp8xChunk(0, 3, 3), vp8l), wantErr: ErrMalformed},
		{name: "small VP8X, huge VP8L", data: file(vp8xChunk(0, 1, 1), vp8lChunk(16384, 16384, vp8lOpts{})), wantErr: ErrMalformed},
		{name: "VP8X differs from VP8", data: file(vp8xChunk(0, 20, 11), vp8Chunk(20, 10, vp8Opts{})), wantErr: ErrMalformed},

		// Animation.
		{
			name: "VP8X animation flag", data: file(vp8xChunk(flagAnimation, 3, 2), chunk{fourcc: "ANIM", payload: make([]byte, 6)}),
			wantErr: ErrUnsupported, wantInfo: &Info{Width: 3, Height: 2, Animated: true, Extended: true},
		},
		{name: "ANIM chunk without flag", data: file(vp8xChunk(0, 3, 2), chunk{fourcc: "ANIM", payload: make([]byte, 6)}, vp8l), wantErr: ErrUnsupported},
		{name: "ANMF chunk after image", data: file(vp8xChunk(0, 3, 2), vp8l, chunk{fourcc: "ANMF", payload: make([]byte, 16)}), wantErr: ErrUnsupported},

		// VP8L header.
		{name: "VP8L bad signature", data: file(vp8lChunk(3, 2, vp8lOpts{signature: 0x2e})), wantErr: ErrMalformed},
		{name: "VP8L version 1", data: file(vp8lChunk(3, 2, vp8lOpts{version: 1})), wantErr: ErrMalformed},
		{name: "VP8L chunk of 4 bytes", data: file(chunk{fourcc: "VP8L", payload: vp8l.payload[:4]}), wantErr: ErrMalformed},

		// VP8 header.
		{name: "VP8 inter frame", data: file(vp8Chunk(20, 10, vp8Opts{interFrame: true})), wantErr: ErrMalformed},
		{name: "VP8 bad start code", data: file(vp8Chunk(20, 10, vp8Opts{badStart: true})), wantErr: ErrMalformed},
		{name: "VP8 zero width", data: file(vp8Chunk(0, 10, vp8Opts{})), wantErr: ErrMalformed},
		{name: "VP8 zero height", data: file(vp8Chunk(20, 0, vp8Opts{})), wantErr: ErrMalformed},
		{name: "VP8 chunk of 9 bytes", data: file(chunk{fourcc: "VP8 ", payload: vp8Chunk(20, 10, vp8Opts{}).payload[:9]}), wantErr: ErrMalformed},
		{name: "VP8 first partition longer than chunk", data: file(vp8Chunk(20, 10, vp8Opts{partLen: -1})), wantErr: ErrMalformed},

		// ALPH.
		{name: "ALPH without VP8X", data: file(vp8Chunk(20, 10, vp8Opts{}), alphChunk(0, 200)), wantErr: ErrMalformed},
		{name: "ALPH without alpha flag", data: file(vp8xChunk(0, 20, 10), alphChunk(0, 200), vp8Chunk(20, 10, vp8Opts{})), wantErr: ErrMalformed},
		{name: "duplicate ALPH", data: file(vp8xChunk(flagAlpha, 20, 10), alphChunk(1, 4), alphChunk(1, 4), vp8Chunk(20, 10, vp8Opts{})), wantErr: ErrMalformed},
		{name: "ALPH after VP8", data: file(vp8xChunk(flagAlpha, 20, 10), vp8Chunk(20, 10, vp8Opts{}), alphChunk(1, 4)), wantErr: ErrMalformed},
		{name: "ALPH before VP8L", data: file(vp8xChunk(flagAlpha, 3, 2), alphChunk(1, 4), vp8l), wantErr: ErrMalformed},
		{name: "alpha flag on VP8 without ALPH", data: file(vp8xChunk(flagAlpha, 20, 10), vp8Chunk(20, 10, vp8Opts{})), wantErr: ErrMalformed},
		{name: "empty ALPH", data: file(vp8xChunk(flagAlpha, 20, 10), chunk{fourcc: "ALPH"}, vp8Chunk(20, 10, vp8Opts{})), wantErr: ErrMalformed},
		{name: "ALPH compression method 2", data: file(vp8xChunk(flagAlpha, 20, 10), alphChunk(2, 4), vp8Chunk(20, 10, vp8Opts{})), wantErr: ErrMalformed},
		{name: "uncompressed ALPH one byte short of w*h", data: file(vp8xChunk(flagAlpha, 20, 10), alphChunk(0, 199), vp8Chunk(20, 10, vp8Opts{})), wantErr: ErrMalformed},
		{name: "uncompressed ALPH for a huge canvas", data: file(vp8xChunk(flagAlpha, 16383, 16383), alphChunk(0, 16), vp8Chunk(16383, 16383, vp8Opts{})), wantErr: ErrMalformed},
		{name: "compressed ALPH for canvas over 14 bits", data: file(vp8xChunk(flagAlpha, 1<<14+1, 1), alphChunk(1, 4)), wantErr: ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			info, err := Scan(tc.data)
			require.Error(t, err)
			assert.ErrorIs(t, err, tc.wantErr)
			if tc.wantInfo != nil {
				assert.Equal(t, *tc.wantInfo, info)
			}
		})
	}
}

// Every strict prefix of a valid file is rejected, without panicking.
func TestScanTruncatedPrefixes(t *testing.T) {
	for name, data := range map[string][]byte{
		"lossless": file(vp8lChunk(3, 2, vp8lOpts{})),
		"extended": file(vp8xChunk(flagAlpha, 20, 10), meta("ICCP", 3), alphChunk(0, 200), vp8Chunk(20, 10, vp8Opts{}), meta("EXIF", 5)),
	} {
		t.Run(name, func(t *testing.T) {
			for n := 0; n < len(data); n++ {
				_, err := Scan(data[:n:n])
				require.Error(t, err, "prefix length %d", n)
				require.True(t, isSentinel(err), "prefix length %d: %v", n, err)
			}
			_, err := Scan(data)
			require.NoError(t, err)
		})
	}
}

// Error text must not echo input bytes (e.g. an attacker-chosen FourCC).
func TestScanErrorTextHasNoInputBytes(t *testing.T) {
	_, err := Scan(file(meta("EVIL", 4)))
	require.ErrorIs(t, err, ErrMalformed)
	assert.NotContains(t, err.Error(), "EVIL")
}

// libwebp-encoded files from x/image's testdata (lossy, lossless, lossy
// with alpha in VP8X+ALPH+VP8) agree with x/image's DecodeConfig.
func TestScanXImageTestdata(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(xImageTestdata(t), "*.webp"))
	if len(files) == 0 {
		t.Skip("no x/image webp testdata")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			require.NoError(t, err)
			info, err := Scan(data)
			require.NoError(t, err)
			cfg, err := webp.DecodeConfig(bytes.NewReader(data))
			require.NoError(t, err)
			assert.Equal(t, cfg.Width, info.Width)
			assert.Equal(t, cfg.Height, info.Height)
			assert.Equal(t, strings.Contains(f, "lossless"), info.Lossless)
			if strings.Contains(f, "with-alpha") {
				assert.True(t, info.Alpha)
			}
			assert.Zero(t, info.Trailing)
		})
	}
}

func FuzzScan(f *testing.F) {
	vp8l := vp8lChunk(3, 2, vp8lOpts{})
	seeds := [][]byte{
		file(vp8l),
		file(vp8lChunk(5, 7, vp8lOpts{alpha: true})),
		file(vp8xChunk(flagAlpha, 3, 2), meta("ICCP", 12), vp8l, meta("EXIF", 8), meta("XMP ", 5)),
		file(vp8Chunk(20, 10, vp8Opts{})),
		file(vp8xChunk(flagAlpha, 20, 10), alphChunk(0, 200), vp8Chunk(20, 10, vp8Opts{})),
		file(vp8xChunk(flagAlpha, 20, 10), alphChunk(1, 7), vp8Chunk(20, 10, vp8Opts{})),
		file(vp8xChunk(flagAnimation, 3, 2), chunk{fourcc: "ANIM", payload: make([]byte, 6)}),
		file(vp8xChunk(0, 4, 2), vp8l),
		file(chunk{fourcc: "VP8L", payload: vp8l.payload, size: u32p(0xFFFFFFFF)}),
		webpFile{chunks: []chunk{vp8l}, riffSize: u32p(0xFFFFFFFF)}.bytes(),
		webpFile{chunks: []chunk{vp8l}, trailing: []byte("trailer")}.bytes(),
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		info, err := Scan(data)
		if err != nil {
			if !isSentinel(err) {
				t.Fatalf("error does not wrap a sentinel: %v", err)
			}
			return
		}
		if info.Width <= 0 || info.Height <= 0 || info.Width > 1<<14 || info.Height > 1<<14 {
			t.Fatalf("success with size %dx%d", info.Width, info.Height)
		}
		if info.Animated {
			t.Fatal("success with Animated set")
		}
		if info.Trailing < 0 || info.Trailing > len(data)-12 {
			t.Fatalf("bad Trailing %d for %d bytes", info.Trailing, len(data))
		}
	})
}

func TestScanReportsCompressedAlpha(t *testing.T) {
	for _, tc := range []struct {
		mode       fixture.WebPAlphaMode
		compressed bool
	}{{fixture.AlphaRaw, false}, {fixture.AlphaVP8L, true}, {fixture.AlphaVP8LIndex, true}} {
		info, err := Scan(fixture.WebPLossyAlpha(40, 30, tc.mode))
		if err != nil {
			t.Fatalf("mode %d: %v", tc.mode, err)
		}
		if !info.Alpha || info.AlphaCompressed != tc.compressed || info.AlphaBytes == 0 {
			t.Errorf("mode %d: %+v", tc.mode, info)
		}
	}
	info, err := Scan(fixture.WebPLossy(40, 30))
	if err != nil || info.Alpha || info.AlphaCompressed || info.AlphaBytes != 0 {
		t.Errorf("no alpha: %+v, %v", info, err)
	}
}
