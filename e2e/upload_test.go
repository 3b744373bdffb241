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
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
func startServer(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "fastimagecache")
	build := exec.Command("go", "build", "-o", bin, "./cmd/fastimagecache")
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "serve", "-dir", t.TempDir(), "-addr", "127.0.0.1:0", "-debug-addr", "")
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

func TestUploadPageInChromium(t *testing.T) {
	browser := findChromium(t)
	base := startServer(t)
	files := t.TempDir()
	photoPath := photo(t, files)
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
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()

	// A real photo: uploaded, stored, and its thumbnails rendered by the browser.
	err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible("#file"),
		chromedp.SetUploadFiles("#file", []string{photoPath}),
		chromedp.Click("#send"),
		chromedp.WaitVisible("#gallery img.thumb"),
	)
	if err != nil {
		t.Fatalf("photo upload: %v", err)
	}
	loaded, err := chromedp.Run(ctx, chromedp.Poll[bool](`(() => { const i = document.querySelectorAll("#gallery img");
		return i.length === 2 && [...i].every(x => x.complete && x.naturalWidth > 0); })()`,
		chromedp.WithPollingTimeout(30*time.Second)))
	if err != nil || !loaded {
		t.Fatalf("thumbnails did not load: %v", err)
	}
	// The presets are Auto: Chromium's Accept names image/avif first, so both renditions
	// arrive as AVIF, and the page says so next to each.
	labelled, err := chromedp.Run(ctx, chromedp.Poll[bool](`[...document.querySelectorAll("#gallery .format")].every(x => x.textContent !== "")`,
		chromedp.WithPollingTimeout(10*time.Second)))
	if err != nil || !labelled {
		t.Fatalf("the page did not label the renditions' formats: %v", err)
	}
	if got := text(t, ctx, "#gallery .format.thumb"); got != "thumb: avif" {
		t.Errorf("thumb label = %q, want %q", got, "thumb: avif")
	}
	if got := text(t, ctx, "#gallery .format.small"); got != "small: avif" {
		t.Errorf("small label = %q, want %q", got, "small: avif")
	}
	served, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#gallery img")].map(i => {
		const e = performance.getEntriesByName(i.currentSrc); return e.length ? e[e.length - 1].contentType : "(no timing entry)"; })`))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Content-Type of the <img> loads per Resource Timing: %q", served)
	status := text(t, ctx, "#status")
	thumb := naturalSize(t, ctx, "#gallery img.thumb")
	small := naturalSize(t, ctx, "#gallery img.small")
	if !strings.Contains(status, "Stored jpeg 1600×1200") {
		t.Errorf("status after the photo = %q", status)
	}
	if thumb != [2]int{160, 160} {
		t.Errorf("thumb preset rendered %v, want 160×160 (cover)", thumb)
	}
	if small != [2]int{320, 240} {
		t.Errorf("small preset rendered %v, want 320×240 (contain)", small)
	}
	t.Logf("screenshot after the photo upload: %s", screenshot(t, ctx, filepath.Join(artifacts, "upload-photo.png")))

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
	if n != 1 {
		t.Errorf("gallery has %d entries, want only the photo", n)
	}
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
