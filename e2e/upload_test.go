// Package e2e drives the demo server's upload page in a real Chromium. It is a module of
// its own so that the browser driver never enters the library's go.mod.
//
// Run it with `cd e2e && go test ./...`. It needs Debian's chromium (apt-get install
// chromium); without one it skips, except under CI=true, where it fails.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// findChromium returns the browser to drive, or skips the test (fails it under CI).
func findChromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{os.Getenv("CHROMIUM"), "chromium", "chromium-browser", "google-chrome"} {
		if name == "" {
			continue
		}
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("no chromium on PATH; CI must install it (apt-get install chromium)")
	}
	t.Skip("skipping the browser test: no chromium on PATH (apt-get install chromium, or set CHROMIUM)")
	return ""
}

// startServer builds the CLI and runs `serve` on a free loopback port, returning its URL.
func startServer(t *testing.T, extra ...string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "fastimagecache")
	build := exec.Command("go", "build", "-o", bin, "./cmd/fastimagecache")
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	ctx, cancel := context.WithCancel(context.Background())
	args := append([]string{"serve", "-dir", t.TempDir(), "-addr", "127.0.0.1:0", "-debug-addr", ""}, extra...)
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 10 * time.Second
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
	})
	lines := bufio.NewScanner(stdout)
	for lines.Scan() {
		if url, ok := strings.CutPrefix(lines.Text(), "listening on "); ok {
			go io.Copy(io.Discard, stdout)
			return strings.TrimSuffix(url, "/")
		}
	}
	t.Fatal("server exited before listening")
	return ""
}

// photo writes a 1600×1200 JPEG with photographic gradients and texture.
func photo(t *testing.T, dir string) string {
	t.Helper()
	const w, h = 1600, 1200
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			v := uint8((x*7 + y*3) % 256)
			img.SetRGBA(x, y, color.RGBA{uint8(x * 255 / w), uint8(y * 255 / h), v, 255})
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 85}); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "holiday.jpg")
	if err := os.WriteFile(p, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// noise writes a w×h PNG of random pixels, stored uncompressed: a large upload.
func noise(t *testing.T, dir string, w, h int) string {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range img.Pix {
		img.Pix[i] = uint8(rng.Uint32())
		if i%4 == 3 {
			img.Pix[i] = 255
		}
	}
	var buf bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.NoCompression}).Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "noise.png")
	if err := os.WriteFile(p, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestUploadPageInChromium(t *testing.T) {
	browser := findChromium(t)
	// Custom presets: the page must show these, by these names, and no others.
	base := startServer(t, "-preset", "tiny=64x64:cover:auto", "-preset", "wide=400x200:jpeg")
	files := t.TempDir()
	photoPath := photo(t, files)
	bigPath := noise(t, files, 2000, 1500) // 9 MB
	evil := filepath.Join(files, "avatar.png")
	if err := os.WriteFile(evil, []byte("<!DOCTYPE html><html><script>alert(document.domain)</script></html>"), 0o600); err != nil {
		t.Fatal(err)
	}
	artifacts := os.Getenv("E2E_ARTIFACTS")
	if artifacts == "" {
		artifacts = t.TempDir()
	}

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(browser),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true), // CI runs as root
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1000, 800),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancelCtx := chromedp.NewContext(actx)
	defer cancelCtx()
	ctx, cancel := context.WithTimeout(ctx, 120*time.Second)
	defer cancel()

	// The file input asks for images only.
	err := chromedp.Do(ctx, chromedp.Navigate(base+"/"), chromedp.WaitVisible("#file"))
	if err != nil {
		t.Fatal(err)
	}
	if accept, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("file").accept`)); err != nil || accept != "image/*" {
		t.Errorf("file input accept = %q (%v), want image/*", accept, err)
	}

	// A real photo: uploaded, stored, and one rendition per configured preset rendered.
	err = chromedp.Do(ctx,
		chromedp.SetUploadFiles("#file", []string{photoPath}),
		chromedp.Click("#send"),
		chromedp.WaitVisible("#gallery img.tiny"),
	)
	if err != nil {
		t.Fatalf("photo upload: %v", err)
	}
	// The placeholder is painted from the upload's ThumbHash before the rendition loads:
	// a canvas per preset, opaque in its centre.
	painted, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#gallery canvas.placeholder")].map(c => {
		const d = c.getContext("2d").getImageData(c.width >> 1, c.height >> 1, 1, 1).data;
		return c.dataset.painted + " alpha " + d[3]; })`))
	if err != nil {
		t.Fatal(err)
	}
	if len(painted) != 2 || painted[0] != "thumbhash alpha 255" || painted[1] != "thumbhash alpha 255" {
		t.Errorf("placeholders = %q, want two painted from the ThumbHash", painted)
	}
	loaded, err := chromedp.Run(ctx, chromedp.Poll[bool](`(() => { const i = document.querySelectorAll("#gallery img");
		return i.length === 2 && [...i].every(x => x.complete && x.naturalWidth > 0); })()`,
		chromedp.WithPollingTimeout(30*time.Second)))
	if err != nil || !loaded {
		t.Fatalf("renditions did not load: %v", err)
	}
	// The placeholder is the photo's: the mean colour of each quadrant is the rendition's,
	// within the ThumbHash's blur and quantisation (a wrong port of the decoder, or a flat
	// colour, paints something else: the photo runs from dark blue to yellow).
	means, err := chromedp.Run(ctx, chromedp.Evaluate[[2][4][3]float64](`(() => {
		const quads = (ctx, w, h) => [[0, 0], [1, 0], [0, 1], [1, 1]].map(([qx, qy]) => {
			const d = ctx.getImageData(qx * (w >> 1), qy * (h >> 1), w >> 1, h >> 1).data, m = [0, 0, 0];
			for (let i = 0; i < d.length; i += 4) { m[0] += d[i]; m[1] += d[i + 1]; m[2] += d[i + 2]; }
			return m.map(v => v / (d.length / 4)); });
		const ph = document.querySelector("#gallery canvas.placeholder.wide");
		const img = document.querySelector("#gallery img.wide");
		const c = document.createElement("canvas"); c.width = img.naturalWidth; c.height = img.naturalHeight;
		const cx = c.getContext("2d"); cx.drawImage(img, 0, 0);
		return [quads(ph.getContext("2d"), ph.width, ph.height), quads(cx, c.width, c.height)]; })()`))
	if err != nil {
		t.Fatal(err)
	}
	for q := range 4 {
		for ch := range 3 {
			if d := means[0][q][ch] - means[1][q][ch]; d > 32 || d < -32 {
				t.Errorf("quadrant %d: placeholder mean colour %.0f, rendition's %.0f", q, means[0][q], means[1][q])
				break
			}
		}
	}
	t.Logf("quadrant mean colours: placeholder %.0f, rendition %.0f", means[0], means[1])
	labelled, err := chromedp.Run(ctx, chromedp.Poll[bool](`[...document.querySelectorAll("#gallery figcaption")].every(x => x.dataset.format)`,
		chromedp.WithPollingTimeout(10*time.Second)))
	if err != nil || !labelled {
		t.Fatalf("the page did not label the renditions: %v", err)
	}
	// Labels: preset name, pixel size, bytes, format. tiny is Auto (Chromium accepts AVIF);
	// wide is JPEG.
	tinyLabel := regexp.MustCompile(`^tiny · 64×64 · [0-9.]+ (B|kB) · avif$`)
	wideLabel := regexp.MustCompile(`^wide · 267×200 · [0-9.]+ (B|kB) · jpeg$`)
	if got := text(t, ctx, "#gallery figcaption.tiny"); !tinyLabel.MatchString(got) {
		t.Errorf("tiny label = %q, want %v", got, tinyLabel)
	}
	if got := text(t, ctx, "#gallery figcaption.wide"); !wideLabel.MatchString(got) {
		t.Errorf("wide label = %q, want %v", got, wideLabel)
	}
	if got := naturalSize(t, ctx, "#gallery img.tiny"); got != [2]int{64, 64} {
		t.Errorf("tiny preset rendered %v, want 64×64 (cover)", got)
	}
	if got := naturalSize(t, ctx, "#gallery img.wide"); got != [2]int{267, 200} {
		t.Errorf("wide preset rendered %v, want 267×200 (contain)", got)
	}
	if n, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#gallery img.thumb, #gallery img.small").length`)); n != 0 {
		t.Errorf("the page shows %d renditions of the default presets the server does not have", n)
	}
	checkSrcSets(t, ctx, "#gallery li:first-child img")
	status := text(t, ctx, "#status")
	if !strings.Contains(status, "Stored jpeg 1600×1200 (new)") {
		t.Errorf("status after the photo = %q", status)
	}
	t.Logf("screenshot after the photo upload: %s", screenshot(t, ctx, filepath.Join(artifacts, "upload-photo.png")))
	// The placeholders alone, as they show before the renditions arrive.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`[...document.querySelectorAll("#gallery img")].forEach(i => i.style.visibility = "hidden") || true`)); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot of the placeholders: %s", screenshot(t, ctx, filepath.Join(artifacts, "upload-placeholder.png")))
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`[...document.querySelectorAll("#gallery img")].forEach(i => i.style.visibility = "") || true`)); err != nil {
		t.Fatal(err)
	}

	// The same bytes again: the API answers 200, not 201, and the page says so.
	err = chromedp.Do(ctx,
		chromedp.SetUploadFiles("#file", []string{photoPath}),
		chromedp.Click("#send"),
		chromedp.WaitVisible("#status.dup"),
	)
	if err != nil {
		t.Fatalf("duplicate upload: %v", err)
	}
	if status := text(t, ctx, "#status"); !strings.HasPrefix(status, "Already stored: jpeg 1600×1200.") {
		t.Errorf("status after the duplicate = %q", status)
	}
	// One entry for the photo, the one already shown, highlighted: not a second one.
	entries, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#gallery li")].map(li => li.className)`))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0] != "highlight" {
		t.Errorf("gallery entries after the duplicate upload = %q, want the one entry, highlighted", entries)
	}
	t.Logf("screenshot after the duplicate upload: %s", screenshot(t, ctx, filepath.Join(artifacts, "upload-duplicate.png")))

	// A large upload over a throttled link: the progress bar moves through the upload.
	const uploadRate = 3 << 20 // bytes per second: 3 s for 9 MB
	if _, err := chromedp.Call(ctx, network.EmulateNetworkConditionsByRule, network.EmulateNetworkConditionsByRuleParams{
		MatchedNetworkConditions: []*network.Conditions{{DownloadThroughput: -1, UploadThroughput: uploadRate}},
	}); err != nil {
		t.Fatal(err)
	}
	err = chromedp.Do(ctx,
		chromedp.SetUploadFiles("#file", []string{bigPath}),
		chromedp.Click("#send"),
	)
	if err != nil {
		t.Fatalf("large upload: %v", err)
	}
	midway, err := chromedp.Run(ctx, chromedp.Poll[bool](`(() => { const p = document.getElementById("progress");
		return !p.hidden && p.value > 10 && p.value < 90; })()`, chromedp.WithPollingTimeout(20*time.Second)))
	if err != nil || !midway {
		t.Fatalf("no progress shown midway through the upload: %v", err)
	}
	t.Logf("screenshot during the large upload: %s (status %q)", screenshot(t, ctx, filepath.Join(artifacts, "upload-progress.png")), text(t, ctx, "#status"))
	done, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.getElementById("status").textContent.startsWith("Stored png 2000×1500")`,
		chromedp.WithPollingTimeout(60*time.Second)))
	if err != nil || !done {
		t.Fatalf("large upload did not finish: %v (status %q)", err, text(t, ctx, "#status"))
	}
	seen, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("progress").dataset.seen`))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("progress values seen: %s", seen)
	if n := len(strings.Split(seen, ",")); n < 3 {
		t.Errorf("progress events = %q, want several during a 3 s upload", seen)
	}
	if _, err := chromedp.Call(ctx, network.EmulateNetworkConditionsByRule, network.EmulateNetworkConditionsByRuleParams{
		MatchedNetworkConditions: []*network.Conditions{{DownloadThroughput: -1, UploadThroughput: -1}},
	}); err != nil {
		t.Fatal(err)
	}

	// The photo again, tagged EXIF orientation 6 (shown turned a quarter): new bytes, and
	// the page gives the size as shown.
	rotated := filepath.Join(files, "portrait.jpg")
	if err := os.WriteFile(rotated, withOrientation6(t, photoPath), 0o600); err != nil {
		t.Fatal(err)
	}
	err = chromedp.Do(ctx,
		chromedp.SetUploadFiles("#file", []string{rotated}),
		chromedp.Click("#send"),
	)
	if err != nil {
		t.Fatalf("rotated upload: %v", err)
	}
	upright, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.getElementById("status").textContent.startsWith("Stored jpeg 1200×1600 (new), turned upright from 1600×1200")`,
		chromedp.WithPollingTimeout(30*time.Second)))
	if err != nil || !upright {
		t.Errorf("status after the rotated upload = %q (%v)", text(t, ctx, "#status"), err)
	}

	// An HTML page named .png: the browser declares image/png, the bytes say otherwise.
	err = chromedp.Do(ctx,
		chromedp.SetUploadFiles("#file", []string{evil}),
		chromedp.Click("#send"),
		chromedp.WaitVisible("#status.error"),
	)
	if err != nil {
		t.Fatalf("html upload: %v", err)
	}
	status = text(t, ctx, "#status")
	if !strings.HasPrefix(status, "Rejected (unsupported_format)") {
		t.Errorf("status after the HTML upload = %q", status)
	}
	t.Logf("screenshot after the HTML upload: %s (status %q)", screenshot(t, ctx, filepath.Join(artifacts, "upload-rejected.png")), status)
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#gallery li").length`))
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Errorf("gallery has %d entries, want the photo (once), the noise and the rotated photo", n)
	}
}

// withOrientation6 returns the JPEG at path with an EXIF APP1 segment, after its SOI,
// whose one tag is Orientation = 6 (shown turned a quarter clockwise).
func withOrientation6(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	tiff := []byte{'I', 'I', 42, 0, 8, 0, 0, 0, // little-endian TIFF header, IFD at 8
		1, 0, // one entry
		0x12, 0x01, 3, 0, 1, 0, 0, 0, 6, 0, 0, 0, // Orientation, SHORT, count 1, value 6
		0, 0, 0, 0} // no next IFD
	seg := append([]byte("Exif\x00\x00"), tiff...)
	n := len(seg) + 2
	app1 := append([]byte{0xFF, 0xE1, byte(n >> 8), byte(n)}, seg...)
	return append(append([]byte{0xFF, 0xD8}, app1...), b[2:]...)
}

func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(sel))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

func naturalSize(t *testing.T, ctx context.Context, sel string) [2]int {
	t.Helper()
	wh, err := chromedp.Run(ctx, chromedp.Evaluate[[2]int](`(() => { const i = document.querySelector(`+"`"+sel+"`"+`); return [i.naturalWidth, i.naturalHeight]; })()`))
	if err != nil {
		t.Fatalf("natural size of %s: %v", sel, err)
	}
	return wh
}

func screenshot(t *testing.T, ctx context.Context, path string) string {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // quality 100 means PNG
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
