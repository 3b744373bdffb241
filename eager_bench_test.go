package fastimagecache

import (
	"bytes"
	"context"
	"image/png"
	"testing"
)

// BenchmarkUploadToFirstThumbnail times what the demo server does for an upload: a Put
// with its eager presets (thumb: 160×160 cover, small: 320×320, both Auto, so AVIF, WebP
// and the source's format each), then a Get of every rendition, which are all hits. Each
// iteration Puts into a new Cache (made with the timer stopped), so the Put is never a
// duplicate.
func BenchmarkUploadToFirstThumbnail(b *testing.B) {
	presets := []Spec{
		{Width: 160, Height: 160, Fit: Cover, Format: Auto},
		{Width: 320, Height: 320, Format: Auto},
	}
	var pngSrc bytes.Buffer
	if err := png.Encode(&pngSrc, photoLike(1600, 1200)); err != nil {
		b.Fatal(err)
	}
	for _, in := range []struct {
		name string
		data []byte
	}{{"jpeg-3000x2000", photoJPEG(b, 3000, 2000)}, {"png-1600x1200", pngSrc.Bytes()}} {
		b.Run(in.name, func(b *testing.B) {
			ctx := context.Background()
			warm := newTestCache(b, WithEagerRenditions(presets...))
			put(b, warm, in.data) // the AVIF module's set-up, once per process
			for b.Loop() {
				b.StopTimer()
				c := newTestCache(b, WithEagerRenditions(presets...), WithMemoryCache(64<<20))
				decodes := countDecodes(c)
				b.StartTimer()
				id := put(b, c, in.data).ID
				for _, accept := range []string{"image/avif", "image/webp", ""} {
					for _, s := range presets {
						r, err := c.GetAccept(ctx, id, s, accept)
						if err != nil {
							b.Fatal(err)
						}
						readRendition(b, r)
					}
				}
				b.StopTimer()
				if st := c.Stats(); st.Misses != 0 {
					b.Fatalf("%d Gets were not hits", st.Misses)
				}
				b.ReportMetric(float64(decodes.Load()), "decodes/op")
				b.StartTimer()
			}
		})
	}
}
