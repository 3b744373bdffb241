package jpegdec

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
)

// sample is one JPEG of the test corpus.
type sample struct {
	name string
	data []byte
}

var (
	gorootOnce sync.Once
	goroot     string
)

// gorootDir returns the GOROOT of the go command running the tests.
func gorootDir(t testing.TB) string {
	gorootOnce.Do(func() {
		out, err := exec.Command("go", "env", "GOROOT").Output()
		if err == nil {
			goroot = strings.TrimSpace(string(out))
		}
	})
	if goroot == "" {
		t.Fatal("go env GOROOT failed")
	}
	return goroot
}

// gorootSamples returns the JPEGs of $GOROOT/src/image/testdata.
func gorootSamples(t testing.TB) []sample {
	t.Helper()
	dir := filepath.Join(gorootDir(t), "src", "image", "testdata")
	names, err := filepath.Glob(filepath.Join(dir, "*.jpeg"))
	if err != nil || len(names) == 0 {
		t.Fatalf("no JPEGs in %s: %v", dir, err)
	}
	sort.Strings(names)
	var out []sample
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, sample{"goroot/" + filepath.Base(n), b})
	}
	return out
}

func stdEncode(t testing.TB, m image.Image, q int) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, m, &jpeg.Options{Quality: q}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// subsamplings are the (H, V) factors of Y and of Cb/Cr image/jpeg decodes.
var subsamplings = []struct {
	name           string
	h0, v0, h1, v1 int
}{
	{"444", 1, 1, 1, 1},
	{"422", 2, 1, 1, 1},
	{"420", 2, 2, 1, 1},
	{"440", 1, 2, 1, 1},
	{"411", 4, 1, 1, 1},
	{"410", 4, 2, 1, 1},
	{"440-h2", 2, 2, 2, 1}, // 4:4:0 with Y 2×2, chroma 2×1
}

var (
	corpusOnce sync.Once
	corpus     []sample
)

// generatedSamples returns the generated part of the corpus: image/jpeg's
// encoder output (gray and 4:2:0, many sizes and qualities) and the test
// encoder's (every subsampling, restart intervals, progressive scripts, RGB,
// CMYK and YCCK). It is built once.
func generatedSamples(t testing.TB) []sample {
	corpusOnce.Do(func() { corpus = buildCorpus(t) })
	return corpus
}

func buildCorpus(t testing.TB) []sample {
	var out []sample
	add := func(name string, b []byte) { out = append(out, sample{name, b}) }
	sizes := [][2]int{{1, 1}, {7, 9}, {8, 8}, {16, 16}, {17, 15}, {33, 31}, {64, 48}, {75, 50}, {101, 67}}
	for i, sz := range sizes {
		m := naturalImage(sz[0], sz[1], uint64(i))
		for _, q := range []int{10, 50, 75, 90, 100} {
			add(fmt.Sprintf("std/420/%dx%d/q%d", sz[0], sz[1], q), stdEncode(t, m, q))
			add(fmt.Sprintf("std/gray/%dx%d/q%d", sz[0], sz[1], q), stdEncode(t, toGray(m), q))
		}
	}
	for i, sz := range [][2]int{{5, 3}, {24, 16}, {37, 29}, {80, 64}, {99, 41}} {
		m := naturalImage(sz[0], sz[1], uint64(100+i))
		for _, ss := range subsamplings {
			for _, q := range []int{20, 85, 100} {
				for _, prog := range []bool{false, true} {
					e := ycbcrEncoder(m, ss.h0, ss.v0, ss.h1, ss.v1, q)
					e.progressive = prog
					kind := "base"
					if prog {
						kind = "prog"
					}
					add(fmt.Sprintf("enc/%s/%s/%dx%d/q%d", kind, ss.name, sz[0], sz[1], q), e.encode())
				}
			}
			// Restart intervals. image/jpeg counts a restart interval of a
			// non-interleaved progressive scan in whole MCUs of the frame,
			// not in blocks as T.81 does, so progressive ones are only
			// made for 1×1 sampled images.
			for _, ri := range []int{1, 3} {
				e := ycbcrEncoder(m, ss.h0, ss.v0, ss.h1, ss.v1, 75)
				e.restart = ri
				add(fmt.Sprintf("enc/base/%s/%dx%d/rst%d", ss.name, sz[0], sz[1], ri), e.encode())
			}
		}
		g := grayEncoder(m, 80)
		g.progressive = true
		add(fmt.Sprintf("enc/prog/gray/%dx%d", sz[0], sz[1]), g.encode())
		g.restart = 2
		add(fmt.Sprintf("enc/prog/gray/%dx%d/rst2", sz[0], sz[1]), g.encode())
		e := ycbcrEncoder(m, 1, 1, 1, 1, 60)
		e.progressive, e.restart = true, 4
		add(fmt.Sprintf("enc/prog/444/%dx%d/rst4", sz[0], sz[1]), e.encode())
		e = ycbcrEncoder(m, 2, 2, 1, 1, 60)
		e.progressive, e.nonInterleavedDC = true, true
		add(fmt.Sprintf("enc/prog/420/%dx%d/separate-dc", sz[0], sz[1]), e.encode())
		// Spectral selection only, no successive approximation.
		e = ycbcrEncoder(m, 2, 1, 1, 1, 70)
		e.progressive = true
		e.scans = []encScan{{comps: []int{0, 1, 2}}, {comps: []int{0}, ss: 1, se: 2}, {comps: []int{0}, ss: 3, se: 63},
			{comps: []int{1}, ss: 1, se: 63}, {comps: []int{2}, ss: 1, se: 63}}
		add(fmt.Sprintf("enc/prog/422/%dx%d/spectral", sz[0], sz[1]), e.encode())
		// Deep successive approximation.
		e = ycbcrEncoder(m, 1, 1, 1, 1, 95)
		e.progressive = true
		e.scans = []encScan{{comps: []int{0, 1, 2}, al: 3}, {comps: []int{0, 1, 2}, ah: 3, al: 2},
			{comps: []int{0}, ss: 1, se: 63, al: 4}, {comps: []int{0}, ss: 1, se: 63, ah: 4, al: 3},
			{comps: []int{0}, ss: 1, se: 63, ah: 3, al: 2}, {comps: []int{0}, ss: 1, se: 63, ah: 2, al: 1},
			{comps: []int{0}, ss: 1, se: 63, ah: 1}, {comps: []int{0, 1, 2}, ah: 2, al: 1}, {comps: []int{0, 1, 2}, ah: 1},
			{comps: []int{1}, ss: 1, se: 63}, {comps: []int{2}, ss: 1, se: 63}}
		add(fmt.Sprintf("enc/prog/444/%dx%d/succ-approx", sz[0], sz[1]), e.encode())
		// RGB (Adobe transform 0), CMYK (Adobe 0, 4 components), YCCK
		// (Adobe 2), and 'R','G','B' component IDs without Adobe.
		for _, prog := range []bool{false, true} {
			kind := "base"
			if prog {
				kind = "prog"
			}
			e = channelEncoder(m, 3, []byte{1, 2, 3}, []int{1, 1, 1}, 80)
			e.adobe, e.progressive = 0, prog
			add(fmt.Sprintf("enc/%s/rgb-adobe/%dx%d", kind, sz[0], sz[1]), e.encode())
			e = channelEncoder(m, 3, []byte{'R', 'G', 'B'}, []int{1, 1, 1}, 80)
			e.progressive = prog
			add(fmt.Sprintf("enc/%s/rgb-ids/%dx%d", kind, sz[0], sz[1]), e.encode())
			e = channelEncoder(m, 4, []byte{1, 2, 3, 4}, []int{1, 1, 1, 1}, 80)
			e.adobe, e.progressive = 0, prog
			add(fmt.Sprintf("enc/%s/cmyk/%dx%d", kind, sz[0], sz[1]), e.encode())
			e = channelEncoder(m, 4, []byte{1, 2, 3, 4}, []int{2, 1, 1, 2}, 80)
			e.adobe, e.progressive = 0, prog
			add(fmt.Sprintf("enc/%s/cmyk-2211/%dx%d", kind, sz[0], sz[1]), e.encode())
			e = channelEncoder(m, 4, []byte{1, 2, 3, 4}, []int{2, 1, 1, 2}, 80)
			e.adobe, e.progressive = 2, prog
			add(fmt.Sprintf("enc/%s/ycck/%dx%d", kind, sz[0], sz[1]), e.encode())
		}
	}
	return out
}

func toGray(m image.Image) *image.Gray {
	g := image.NewGray(m.Bounds())
	for y := m.Bounds().Min.Y; y < m.Bounds().Max.Y; y++ {
		for x := m.Bounds().Min.X; x < m.Bounds().Max.X; x++ {
			g.Set(x, y, m.At(x, y))
		}
	}
	return g
}

// allSamples is the GOROOT testdata and the generated corpus.
func allSamples(t testing.TB) []sample {
	return append(gorootSamples(t), generatedSamples(t)...)
}

// TestCorpusDecodes checks that image/jpeg decodes every generated sample:
// the test encoder's output is valid.
func TestCorpusDecodes(t *testing.T) {
	samples := generatedSamples(t)
	for _, s := range samples {
		_, err := jpeg.Decode(bytes.NewReader(s.data))
		if err != nil {
			t.Errorf("%s: %v", s.name, err)
		}
	}
	t.Logf("%d generated samples", len(samples))
}
