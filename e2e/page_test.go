package e2e

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
)

// newBrowser starts a headless Chromium for t and returns its context, bounded by limit.
func newBrowser(t *testing.T, limit time.Duration) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(findChromium(t)),
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
	t.Cleanup(cancelAlloc)
	ctx, cancelCtx := chromedp.NewContext(actx)
	t.Cleanup(cancelCtx)
	ctx, cancel := context.WithTimeout(ctx, limit)
	t.Cleanup(cancel)
	return ctx
}

// checkSrcSets checks each img that sel matches: it has a srcset and sizes from the
// server, every srcset URL loads (200, image/*), and the URL the browser picked
// (currentSrc) is one of them.
func checkSrcSets(t *testing.T, ctx context.Context, sel string) {
	t.Helper()
	type result struct {
		Class, Sizes, Current string
		URLs, Answers         []string
		Picked                bool
	}
	loaded, err := chromedp.Run(ctx, chromedp.Poll[bool](`(() => { const i = document.querySelectorAll(`+"`"+sel+"`"+`);
		return i.length > 0 && [...i].every(x => x.complete && x.naturalWidth > 0); })()`, chromedp.WithPollingTimeout(30*time.Second)))
	if err != nil || !loaded {
		t.Fatalf("%s did not load: %v", sel, err)
	}
	got, err := chromedp.Run(ctx, chromedp.Evaluate[[]result](`(async () => {
		const out = [];
		for (const img of document.querySelectorAll(`+"`"+sel+"`"+`)) {
			const urls = img.srcset ? img.srcset.split(", ").map(e => new URL(e.split(" ")[0], location.href).href) : [];
			const answers = [];
			for (const u of urls) {
				const r = await fetch(u);
				answers.push(r.status + " " + r.headers.get("Content-Type"));
			}
			out.push({Class: img.className, Sizes: img.sizes, Current: img.currentSrc, URLs: urls, Answers: answers, Picked: urls.includes(img.currentSrc)});
		}
		return out; })()`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) == 0 {
		t.Fatalf("no image matches %s", sel)
	}
	for _, r := range got {
		if len(r.URLs) < 2 || !strings.HasSuffix(r.Sizes, "px") {
			t.Errorf("%s: srcset of %d URLs, sizes %q; want several and a width", r.Class, len(r.URLs), r.Sizes)
		}
		for i, a := range r.Answers {
			if !strings.HasPrefix(a, "200 image/") {
				t.Errorf("%s: srcset URL %s answered %q", r.Class, r.URLs[i], a)
			}
			if !strings.Contains(r.URLs[i], "sig=") {
				t.Errorf("%s: srcset URL %s is not signed", r.Class, r.URLs[i])
			}
		}
		if !r.Picked {
			t.Errorf("%s: currentSrc %q is none of its srcset", r.Class, r.Current)
		}
		t.Logf("%s: sizes %s, picked %s of %d", r.Class, r.Sizes, r.Current, len(r.URLs))
	}
}

// subject writes a 1200×600 PNG, grey with a faint texture, holding a red disc (the
// subject) at (0.85, 0.25) of its width and height: off the centre, outside a centred
// square crop.
func subject(t *testing.T, dir string) string {
	t.Helper()
	const w, h, cx, cy, r = 1200, 600, 1020, 150, 60
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			c := color.NRGBA{uint8(120 + (x+y)%8), uint8(120 + (x*3+y)%8), 120, 255}
			if (x-cx)*(x-cx)+(y-cy)*(y-cy) < r*r {
				c = color.NRGBA{220, 20, 20, 255}
			}
			img.SetNRGBA(x, y, c)
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "subject.png")
	if err := os.WriteFile(p, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// redShare is the share of the pixels of the image sel matches that are the subject's
// red, read from a canvas it is drawn on, once it has loaded a URL containing want.
func redShare(t *testing.T, ctx context.Context, sel, want string) float64 {
	t.Helper()
	q := "`" + sel + "`"
	ok, err := chromedp.Run(ctx, chromedp.Poll[bool](`(() => { const i = document.querySelector(`+q+`);
		return !!i && i.currentSrc.includes(`+"`"+want+"`"+`) && i.complete && i.naturalWidth > 0; })()`,
		chromedp.WithPollingTimeout(30*time.Second)))
	if err != nil || !ok {
		cur, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.querySelector(`+q+`) || {}).currentSrc || ""`))
		t.Fatalf("%s did not load a URL with %q: %v (currentSrc %q)", sel, want, err, cur)
	}
	share, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`(() => {
		const img = document.querySelector(`+q+`);
		const c = document.createElement("canvas"); c.width = img.naturalWidth; c.height = img.naturalHeight;
		const cx = c.getContext("2d"); cx.drawImage(img, 0, 0);
		const d = cx.getImageData(0, 0, c.width, c.height).data;
		let red = 0;
		for (let i = 0; i < d.length; i += 4) if (d[i] > 170 && d[i + 1] < 90 && d[i + 2] < 90) red++;
		return red / (d.length / 4); })()`))
	if err != nil {
		t.Fatal(err)
	}
	return share
}

// A file dropped on the page (a real drag and drop through CDP, carrying a file) is
// uploaded; the cover preset's centre crop misses the off-centre subject, a click on it
// in the whole-image rendition crops around it, and the "smart" crop choice finds it.
func TestDropAndCropInChromium(t *testing.T) {
	ctx := newBrowser(t, 240*time.Second)
	base := startServer(t, "-preset", "tiny=64x64:cover:auto", "-preset", "wide=400x200:jpeg")
	path := subject(t, t.TempDir())
	artifacts := os.Getenv("E2E_ARTIFACTS")
	if artifacts == "" {
		artifacts = t.TempDir()
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/"), chromedp.WaitVisible("#drop")); err != nil {
		t.Fatal(err)
	}

	// Drag the file over the drop zone and drop it, as the browser does for a file
	// dragged from the desktop.
	box, err := chromedp.Run(ctx, chromedp.Dimensions("#drop"))
	if err != nil {
		t.Fatal(err)
	}
	x, y := (box.Content[0]+box.Content[4])/2, (box.Content[1]+box.Content[5])/2
	data := &input.DragData{Items: []*input.DragDataItem{}, Files: []string{path}, DragOperationsMask: 1}
	for _, typ := range []input.DispatchDragEventType{input.DispatchDragEventTypeDragEnter, input.DispatchDragEventTypeDragOver} {
		if _, err := chromedp.Call(ctx, input.DispatchDragEvent, input.DispatchDragEventParams{Type: typ, X: x, Y: y, Data: data}); err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
	}
	over, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById("drop").classList.contains("over")`))
	if err != nil || !over {
		t.Errorf("the drop zone is not highlighted while a file is over it (%v)", err)
	}
	if _, err := chromedp.Call(ctx, input.DispatchDragEvent, input.DispatchDragEventParams{Type: input.DispatchDragEventTypeDrop, X: x, Y: y, Data: data}); err != nil {
		t.Fatalf("drop: %v", err)
	}
	stored, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.getElementById("status").textContent.startsWith("Stored png 1200×600 (new)")`,
		chromedp.WithPollingTimeout(30*time.Second)))
	if err != nil || !stored {
		t.Fatalf("the dropped file was not uploaded: %v (status %q)", err, text(t, ctx, "#status"))
	}
	checkSrcSets(t, ctx, "#gallery li:first-child img")

	// The centre crop: a 600×600 square from x = 300 to 900; the subject is at 960..1080.
	const tiny = "#gallery li:first-child img.tiny"
	if s := redShare(t, ctx, tiny, "enlarge=0&sig="); s > 0.001 { // no g=, no fx=: the centre
		t.Errorf("centre crop: %.3f of the pixels are the subject's red, want none", s)
	}
	t.Logf("screenshot of the dropped upload, centre crop: %s", screenshot(t, ctx, filepath.Join(artifacts, "crop-center.png")))

	// A click on the subject in the whole image (the contain preset) sets the focal point.
	wide, err := chromedp.Run(ctx, chromedp.Dimensions("#gallery li:first-child img.wide"))
	if err != nil {
		t.Fatal(err)
	}
	q := wide.Content
	if err := chromedp.Do(ctx, chromedp.MouseClickXY(q[0]+0.85*(q[2]-q[0]), q[1]+0.25*(q[5]-q[1]))); err != nil {
		t.Fatal(err)
	}
	if s := redShare(t, ctx, tiny, "fx=0.85"); s < 0.01 {
		t.Errorf("focal crop at the subject: %.4f of the pixels are its red, want it in the crop", s)
	} else {
		t.Logf("focal crop: %.3f of the pixels are the subject's red", s)
	}
	t.Logf("screenshot of the focal crop: %s", screenshot(t, ctx, filepath.Join(artifacts, "crop-focus.png")))

	// The smart crop choice finds the subject by itself.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => { const s = document.getElementById("crop");
		s.value = "smart"; return s.dispatchEvent(new Event("change")); })()`)); err != nil {
		t.Fatal(err)
	}
	if s := redShare(t, ctx, tiny, "g=smart"); s < 0.01 {
		t.Errorf("smart crop: %.4f of the pixels are the subject's red, want it in the crop", s)
	} else {
		t.Logf("smart crop: %.3f of the pixels are the subject's red", s)
	}
	checkSrcSets(t, ctx, tiny)
	t.Logf("screenshot of the smart crop: %s", screenshot(t, ctx, filepath.Join(artifacts, "crop-smart.png")))
}
