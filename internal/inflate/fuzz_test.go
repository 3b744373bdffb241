package inflate

import (
	"bytes"
	"compress/zlib"
	"math/rand/v2"
	"testing"
)

// FuzzInflate: for any input, Decoder does not panic, fails exactly where
// compress/zlib fails, and returns the same bytes (before an error too). The seeds are
// generated: every compression level of a few inputs, and the hostile cases.
func FuzzInflate(f *testing.F) {
	rng := rand.New(rand.NewPCG(10, 10))
	for i, src := range corpus(rng) {
		src = src[:min(len(src), 3000)]
		f.Add(zlibCompress(src, i%11-2))
	}
	for _, c := range hostileCases() {
		f.Add(c.z)
	}
	f.Fuzz(func(t *testing.T, z []byte) {
		r, err := zlib.NewReader(bytes.NewReader(z))
		var want []byte
		if err == nil {
			want, err = readLimited(r, 8<<20) // with what came before an error
		}
		if err == errTooLong {
			return
		}
		rng := rand.New(rand.NewPCG(uint64(len(z)), 1))
		got, gerr := inflateAll(rng, z, 1+len(z)%9)
		if (gerr != nil) != (err != nil) {
			t.Fatalf("error %v, compress/zlib %v", gerr, err)
		}
		if gerr != errRunaway && !bytes.Equal(got, want) {
			t.Fatalf("output differs: %d vs %d bytes", len(got), len(want))
		}
	})
}
