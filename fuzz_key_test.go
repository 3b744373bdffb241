package fastimagecache

import (
	"errors"
	"strings"
	"testing"
)

// FuzzRenditionKey checks the store's key derivation on pairs of fuzzed Specs against a
// source of each format: canonical either fails with ErrInvalidSpec or returns a Spec
// that is its own canonical form, with a resolved output format and quality; the key of a
// canonical Spec is 64 lowercase hex characters (so it can only be a file name), depends
// on the ID, and two Specs share a key exactly when their canonical forms are equal.
// (It lives in the root package because canonical and renditionKey are unexported; its
// seed corpus is in testdata/fuzz, generated with the others by `go generate ./fuzz`.)
func FuzzRenditionKey(f *testing.F) {
	lim, err := Limits{MaxWidth: 4096, MaxHeight: 4096}.withDefaults()
	if err != nil {
		f.Fatal(err)
	}
	formats := []Format{JPEG, PNG, GIF, WebP, BMP, TIFF}
	id, other := ID(strings.Repeat("ab", 32)), ID(strings.Repeat("cd", 32))
	f.Fuzz(func(t *testing.T, src byte, alpha bool,
		w1, h1, fit1 int, f1 string, q1 int, e1 bool,
		w2, h2, fit2 int, f2 string, q2 int, e2 bool) {
		info := Info{ID: id, Format: formats[int(src)%len(formats)], Width: 640, Height: 480, Frames: 1}
		key := func(s Spec) (Spec, string, bool) {
			t.Helper()
			cs, err := s.canonical(lim, info, alpha)
			if err != nil {
				if !errors.Is(err, ErrInvalidSpec) {
					t.Fatalf("canonical(%+v): %v, want ErrInvalidSpec", s, err)
				}
				return Spec{}, "", false
			}
			if again, err := cs.canonical(lim, info, alpha); err != nil || again != cs {
				t.Fatalf("canonical(%+v) = %+v is not canonical: %+v, %v", s, cs, again, err)
			}
			switch {
			case cs.Format != JPEG && cs.Format != PNG && cs.Format != GIF && cs.Format != WebP && cs.Format != AVIF:
				t.Fatalf("canonical %+v: output format %q", cs, cs.Format)
			case defaultQuality(cs.Format) != 0 && (cs.Quality < 1 || cs.Quality > 100), defaultQuality(cs.Format) == 0 && cs.Quality != 0:
				t.Fatalf("canonical %+v: quality not resolved", cs)
			case (cs.Width == 0 || cs.Height == 0) && cs.Fit != Contain, cs.Width == 0 && cs.Height == 0 && cs.Enlarge:
				t.Fatalf("canonical %+v: keeps a field that makes no difference", cs)
			}
			k := renditionKey(id, cs)
			if len(k) != 64 || strings.Trim(k, "0123456789abcdef") != "" {
				t.Fatalf("key %q of %+v is not 64 lowercase hex", k, cs)
			}
			if renditionKey(other, cs) == k {
				t.Fatalf("key of %+v does not depend on the ID", cs)
			}
			return cs, k, true
		}
		c1, k1, ok1 := key(Spec{Width: w1, Height: h1, Fit: Fit(fit1), Format: Format(f1), Quality: q1, Enlarge: e1})
		c2, k2, ok2 := key(Spec{Width: w2, Height: h2, Fit: Fit(fit2), Format: Format(f2), Quality: q2, Enlarge: e2})
		if ok1 && ok2 && (c1 == c2) != (k1 == k2) {
			t.Fatalf("canonical %+v key %s, canonical %+v key %s", c1, k1, c2, k2)
		}
	})
}
