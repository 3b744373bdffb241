package inflate

import (
	"bytes"
	"compress/zlib"
	"errors"
	stdadler "hash/adler32"
	"io"
	"math/rand/v2"
	"testing"
)

// pieces is a Source handing out data in pieces of random sizes (some
// empty), then io.EOF.
func pieces(rng *rand.Rand, data []byte, maxPiece int) Source {
	return func() ([]byte, error) {
		if len(data) == 0 {
			return nil, io.EOF
		}
		n := min(len(data), rng.IntN(maxPiece+1))
		p := data[:n]
		data = data[n:]
		return p, nil
	}
}

// inflateAll decodes a whole stream, reading in pieces of random sizes.
func inflateAll(rng *rand.Rand, data []byte, maxPiece int) ([]byte, error) {
	d := NewDecoder(pieces(rng, data, maxPiece))
	var out []byte
	buf := make([]byte, 1+rng.IntN(70000))
	for {
		n, err := d.Read(buf[:1+rng.IntN(len(buf))])
		out = append(out, buf[:n]...)
		if len(out) > 64<<20 {
			return out, errRunaway
		}
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
	}
}

// reference decodes with compress/zlib.
func reference(data []byte) ([]byte, error) {
	r, err := zlib.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}

// compare checks that Decoder and compress/zlib agree on data: the same
// output, and an error from both or from neither.
func compare(t *testing.T, rng *rand.Rand, data []byte) {
	t.Helper()
	want, werr := reference(data)
	for _, maxPiece := range []int{1 << 20, 7, 4096} {
		got, err := inflateAll(rng, data, maxPiece)
		if (err != nil) != (werr != nil) {
			t.Fatalf("len %d pieces %d: error %v, compress/zlib %v", len(data), maxPiece, err, werr)
		}
		if err == nil && !bytes.Equal(got, want) {
			t.Fatalf("len %d pieces %d: output differs (%d vs %d bytes)", len(data), maxPiece, len(got), len(want))
		}
	}
}

// corpus generates inputs that exercise literals, short and long matches,
// overlapping copies of every small distance, and incompressible runs.
func corpus(rng *rand.Rand) [][]byte {
	var out [][]byte
	out = append(out, nil, []byte{0}, bytes.Repeat([]byte{7}, 100000))
	for d := 1; d <= 9; d++ {
		p := make([]byte, d)
		fill(rng, p)
		out = append(out, bytes.Repeat(p, 3000/d+rng.IntN(300)))
	}
	noise := make([]byte, 200000)
	fill(rng, noise)
	out = append(out, noise)
	// PNG-like: smooth rows with small residuals, repeated rows.
	img := make([]byte, 0, 400000)
	row := make([]byte, 1201)
	for y := range 300 {
		row[0] = byte(y % 5)
		for x := 1; x < len(row); x++ {
			row[x] = byte(x/40 + rng.IntN(3))
		}
		img = append(img, row...)
		if y%7 == 0 {
			img = append(img, row...)
		}
	}
	out = append(out, img)
	// Text-like words.
	words := []string{"the ", "inflate ", "window ", "zlib ", "a ", "deflate ", "\n"}
	var txt []byte
	for len(txt) < 150000 {
		txt = append(txt, words[rng.IntN(len(words))]...)
	}
	out = append(out, txt)
	return out
}

func fill(rng *rand.Rand, p []byte) {
	for i := range p {
		p[i] = byte(rng.Uint32())
	}
}

func zlibCompress(data []byte, level int) []byte {
	var b bytes.Buffer
	w, err := zlib.NewWriterLevel(&b, level)
	if err != nil {
		panic(err)
	}
	if _, err := w.Write(data); err != nil {
		panic(err)
	}
	if err := w.Close(); err != nil {
		panic(err)
	}
	return b.Bytes()
}

func TestMatchesZlibEveryLevel(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, src := range corpus(rng) {
		for level := zlib.HuffmanOnly; level <= zlib.BestCompression; level++ {
			compare(t, rng, zlibCompress(src, level))
		}
	}
}

func TestEveryTruncation(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	src := corpus(rng)[12][:4000]
	for _, level := range []int{zlib.NoCompression, zlib.BestSpeed, zlib.DefaultCompression, zlib.HuffmanOnly} {
		z := zlibCompress(src, level)
		for n := range len(z) {
			got, err := inflateAll(rng, z[:n], 1<<20)
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("level %d, %d of %d bytes: err %v", level, n, len(z), err)
			}
			if !bytes.Equal(got, src[:len(got)]) {
				t.Fatalf("level %d, %d of %d bytes: wrong prefix", level, n, len(z))
			}
		}
	}
}

func TestAdler32(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	p := make([]byte, 100000)
	fill(rng, p)
	for i := range 20000 {
		p[i] = 0xff // the largest sums
	}
	for _, n := range []int{0, 1, 15, 16, 17, 5551, 5552, 5553, 20000, 100000} {
		h := stdadler.New()
		h.Write(p[:n])
		if got, want := adler32(1, p[:n]), h.Sum32(); got != want {
			t.Fatalf("adler32 of %d bytes: %08x, want %08x", n, got, want)
		}
		split := n / 3
		if got, want := adler32(adler32(1, p[:split]), p[split:n]), h.Sum32(); got != want {
			t.Fatalf("adler32 of %d bytes in two: %08x, want %08x", n, got, want)
		}
	}
}

var (
	errTooLong = errors.New("output over the fuzz limit")
	errRunaway = errors.New("decoder output past 64 MiB")
)

// readLimited reads r to its end, or fails with errTooLong past limit.
func readLimited(r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if int64(len(b)) > limit {
		return nil, errTooLong
	}
	return b, err
}
