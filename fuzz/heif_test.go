package fuzz

import (
	"bytes"
	"image"
	"testing"

	"github.com/fastimagecache/fastimagecache"
	"github.com/fastimagecache/fastimagecache/internal/codec"
	"github.com/fastimagecache/fastimagecache/internal/isobmff"
)

// FuzzISOBMFF checks isobmff.Scan under the Cache's limits: a failure wraps exactly one
// sentinel; a success describes a primary image the Cache can bound: a positive size,
// an av01/hvc1 item or a grid of them whose tiles are all listed, within MaxTiles and
// covering the output, a clean aperture inside the image and an EXIF orientation code.
func FuzzISOBMFF(f *testing.F) {
	lim := isobmff.Limits{MaxTiles: 1024} // as heif.go
	f.Fuzz(func(t *testing.T, data []byte) {
		info, err := isobmff.Scan(data, lim)
		if err != nil {
			oneOf(t, err, isobmff.ErrMalformed, isobmff.ErrLimit, isobmff.ErrUnsupported)
			return
		}
		if info.Width < 1 || info.Height < 1 || info.Orientation < 1 || info.Orientation > 8 ||
			info.Cropped.Width < 1 || info.Cropped.Height < 1 || info.Cropped.Width > info.Width || info.Cropped.Height > info.Height {
			t.Fatalf("inconsistent Info %+v", info)
		}
		switch info.PrimaryType {
		case "av01", "hvc1":
			if info.Rows != 0 || len(info.Tiles) != 0 {
				t.Fatalf("a coded item with tiles: %+v", info)
			}
		case "grid":
			if info.TileType != "av01" && info.TileType != "hvc1" || len(info.Tiles) != info.Rows*info.Columns ||
				len(info.Tiles) > lim.MaxTiles || len(info.Tiles) == 0 {
				t.Fatalf("inconsistent grid %+v", info)
			}
			tw, th := info.Tiles[0].Width, info.Tiles[0].Height
			if int64(tw)*int64(info.Columns) < int64(info.Width) || int64(th)*int64(info.Rows) < int64(info.Height) {
				t.Fatalf("tiles do not cover the grid: %+v", info)
			}
		default:
			t.Fatalf("primary item of type %q accepted", info.PrimaryType)
		}
		if info.Alpha && (info.AlphaSize.Width < 1 || info.AlphaSize.Height < 1) {
			t.Fatalf("alpha without a size: %+v", info)
		}
		if info.CodedPixels() < int64(info.Width)*int64(info.Height) {
			t.Fatalf("CodedPixels %d under the output", info.CodedPixels())
		}
	})
}

// FuzzPutAVIF is FuzzPut for AVIF with the decoder's module compiled beforehand in
// every fuzzing process: a first call reserves the compilation too (about 160 MiB),
// more than the fuzz budget, and no decode would ever run.
func FuzzPutAVIF(f *testing.F) {
	var b bytes.Buffer
	if err := codec.EncodeAVIF(&b, image.NewNRGBA(image.Rect(0, 0, 8, 8)), codec.AVIFOptions{Quality: 50, Speed: 10}); err != nil {
		f.Fatal(err)
	}
	fuzzPutFormat(f, fastimagecache.AVIF)
}
