package inflate

import (
	"bytes"
	"compress/zlib"
	"math/rand/v2"
	"testing"
)

// FuzzInflate: for any input, Decoder does not panic, fails exactly where
// compress/zlib fails, and otherwise returns the same bytes. The seeds are
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
			want, err = readLimited(r, 8<<20)
		}
		rng := rand.New(rand.NewPCG(uint64(len(z)), 1))
		got, gerr := inflateAll(rng, z, 1+len(z)%9)
		if err == errTooLong {
			return
		}
		if (gerr != nil) != (err != nil) {
			t.Fatalf("error %v, compress/zlib %v", gerr, err)
		}
		if err == nil && !bytes.Equal(got, want) {
			t.Fatalf("output differs: %d vs %d bytes", len(got), len(want))
		}
	})
}
