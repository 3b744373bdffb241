package fastimagecache

import (
	"slices"
	"strings"
	"testing"
)

func (a accepted) String() string {
	var s []string
	if a&acceptAVIF != 0 {
		s = append(s, "avif")
	}
	if a&acceptWebP != 0 {
		s = append(s, "webp")
	}
	return "{" + strings.Join(s, ",") + "}"
}

// TestParseAccept is the negotiation table: each case a header a client sends, with the
// peer bug it comes from where there is one.
func TestParseAccept(t *testing.T) {
	const none, avif, webp, both = accepted(0), acceptAVIF, acceptWebP, acceptAVIF | acceptWebP
	many := func(n int, elem string) string { return strings.TrimSuffix(strings.Repeat(elem+",", n), ",") }
	cases := []struct {
		name, accept string
		want         accepted
	}{
		// Browsers as they are.
		{"Chrome image request", "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8", both},
		{"Firefox 86+ image request", "image/avif,image/webp,*/*", both},
		{"Safari 15: WebP only (imagor PR #819)", "image/webp,*/*", webp},
		{"Chrome navigation Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7", both},
		// Wildcards are no support (imagor PR #819; webp_server_go PR #469 "wildcard-only").
		{"curl, crawler: */* (imagor PR #819)", "*/*", none},
		{"email client: image/* (imagor PR #819)", "image/*", none},
		{"no Accept at all (webp_server_go PR #469 missing header)", "", none},
		{"wildcards with full weight", "image/*;q=1, */*;q=1", none},
		{"iOS Chrome sends no image type; the User-Agent is never read (webp_server_go PR #469)", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", none},
		// q=0 refuses, in every spelling (webp_server_go PR #469: image/jxl;q=0 was taken as support).
		{"q=0", "image/webp;q=0", none},
		{"q=0.", "image/webp;q=0.", none},
		{"q=0.0", "image/webp;q=0.0", none},
		{"q=0.000", "image/avif;q=0.000,image/webp", webp},
		{"Q=0 upper case name", "image/avif;Q=0, image/webp", webp},
		{"q=0 with spaces around the semicolon", "image/avif ; q=0 ,image/webp", webp},
		{"refusal wins over an earlier acceptance", "image/webp, image/webp;q=0", none},
		{"refusal wins over a later acceptance", "image/webp;q=0, image/webp", none},
		{"a wildcard refusal does not refuse the exact type", "image/webp, */*;q=0, image/*;q=0", webp},
		{"the smallest weight is still support", "image/avif;q=0.001", avif},
		{"q=1.000", "image/avif;q=1.000", avif},
		{"a weight does not reorder: both admitted", "image/webp;q=1,image/avif;q=0.1", both},
		// Case-insensitive (webp_server_go PR #469).
		{"upper case type", "IMAGE/AVIF, Image/WebP", both},
		// Malformed: safe fallback (webp_server_go PR #469 "malformed parameters").
		{"q not a number refuses", "image/webp;q=abc", none},
		{"q over 1 refuses", "image/webp;q=1.5", none},
		{"q=1.001 refuses", "image/avif;q=1.001", none},
		{"q=2 refuses", "image/avif;q=2", none},
		{"negative q refuses", "image/avif;q=-1", none},
		{"four decimals refuse", "image/avif;q=0.0000", none},
		{"empty q refuses", "image/avif;q=", none},
		{"quoted q refuses", `image/avif;q="1"`, none},
		{"spaces around = refuse", "image/avif;q = 1", none},
		{"q twice refuses", "image/avif;q=1;q=0", none},
		{"parameter without = refuses", "image/avif;level, image/webp", webp},
		{"unterminated quote refuses the rest", `image/webp;x="a, image/avif`, none},
		{"a quoted comma does not split", `image/webp;x="a,image/avif"`, webp},
		{"a quoted semicolon does not split", `image/avif;x="a;q=0";q=0.5`, avif},
		{"an escaped quote stays inside", `image/avif;x="a\",image/webp"`, avif},
		{"an escaped closing quote leaves it open", `image/avif;x="a\"`, none},
		{"other parameters are fine", `image/avif;foo=bar;q=0.9;ext="x y"`, avif},
		{"empty parameters are allowed", "image/avif;;q=1;", avif},
		{"empty elements are allowed", ",, image/avif ,,", avif},
		{"tabs are whitespace", "\timage/avif\t;\tq=0.5\t,\timage/webp", both},
		{"not the exact type: suffix", "image/avif2,image/webpx", none},
		{"not the exact type: other top level", "application/avif,video/webp", none},
		{"not the exact type: space inside", "image/ avif, image /webp", none},
		{"not the exact type: structured suffix", "image/avif+xml", none},
		{"garbage", "\x00\xff;;==,\"", none},
		// Bounded work.
		{"64 elements are read", many(63, "text/plain") + ",image/avif", avif},
		{"65 elements are no Accept", many(64, "text/plain") + ",image/avif", none},
		{"over 4 KiB is no Accept", "image/avif," + strings.Repeat(" ", maxAcceptBytes), none},
		{"a huge refusal is not cut into an acceptance", "image/avif;x=" + strings.Repeat("a", maxAcceptBytes) + ";q=0", none},
	}
	for _, tc := range cases {
		if got := parseAccept(tc.accept); got != tc.want {
			t.Errorf("%s: parseAccept(%q) = %v, want %v", tc.name, trunc(tc.accept), got, tc.want)
		}
	}
}

func trunc(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

// TestParseQValue checks the RFC 9110 qvalue grammar from both sides.
func TestParseQValue(t *testing.T) {
	good := map[string]int{"0": 0, "0.": 0, "0.0": 0, "0.00": 0, "0.000": 0, "0.5": 500, "0.25": 250,
		"0.001": 1, "0.999": 999, "1": 1000, "1.": 1000, "1.0": 1000, "1.000": 1000}
	for s, want := range good {
		if got, ok := parseQValue(s); !ok || got != want {
			t.Errorf("parseQValue(%q) = %d, %t; want %d, true", s, got, ok, want)
		}
	}
	for _, s := range []string{"", ".5", "00", "01", "0.0000", "1.001", "1.5", "2", "-0", "+1", "0,5", "0.5 ", "1e0", "0x1", "０"} {
		if got, ok := parseQValue(s); ok {
			t.Errorf("parseQValue(%q) = %d, true; want malformed", s, got)
		}
	}
}

// TestAutoFormat checks what Auto resolves to for each kind of source: an animation only
// to a format that keeps it (animated WebP, else GIF; never AVIF), a still image to AVIF,
// then WebP, then the source's default, which never puts transparency into JPEG.
func TestAutoFormat(t *testing.T) {
	const none, avif, webp, both = accepted(0), acceptAVIF, acceptWebP, acceptAVIF | acceptWebP
	still := func(f Format) Info { return Info{Format: f, Frames: 1, Width: 10, Height: 10} }
	anim := Info{Format: GIF, Frames: 3, Width: 10, Height: 10}
	cases := []struct {
		name  string
		acc   accepted
		src   Info
		alpha bool
		want  Format // after canonical's default for ""
	}{
		{"still JPEG, Chrome", both, still(JPEG), false, AVIF},
		{"still JPEG, Safari 15", webp, still(JPEG), false, WebP},
		{"still JPEG, AVIF only", avif, still(JPEG), false, AVIF},
		{"still JPEG, curl", none, still(JPEG), false, JPEG},
		{"PNG with alpha, curl: never JPEG", none, still(PNG), true, PNG},
		{"WebP source with alpha, curl: never JPEG", none, still(WebP), true, PNG},
		{"WebP source opaque, curl", none, still(WebP), false, JPEG},
		{"BMP opaque, curl", none, still(BMP), false, JPEG},
		{"still GIF (one frame), Chrome", both, still(GIF), false, AVIF},
		{"animated GIF, Chrome: animated WebP, never AVIF (thumbor PR #1857 kept GIFs as GIF)", both, anim, false, WebP},
		{"animated GIF, AVIF only: GIF keeps the animation", avif, anim, false, GIF},
		{"animated GIF, curl", none, anim, false, GIF},
		{"animated GIF, Safari 15", webp, anim, false, WebP},
	}
	for _, tc := range cases {
		got := autoFormat(tc.acc, tc.src)
		if got == "" {
			got = defaultOutput(tc.src.Format, tc.alpha)
		}
		if got != tc.want {
			t.Errorf("%s: Auto for %v resolves to %q, want %q", tc.name, tc.acc, got, tc.want)
		}
	}
}

// TestVariants checks that an Auto Spec stands for exactly the formats it can negotiate:
// what eager renditions render at Put.
func TestVariants(t *testing.T) {
	s := Spec{Width: 100, Format: Auto}
	formats := func(vs []Spec) (out []Format) {
		for _, v := range vs {
			out = append(out, v.Format)
		}
		return out
	}
	if got := formats(s.variants(Info{Format: JPEG, Frames: 1})); !slices.Equal(got, []Format{AVIF, WebP, ""}) {
		t.Errorf("still variants %q, want avif webp and the default", got)
	}
	if got := formats(s.variants(Info{Format: GIF, Frames: 2})); !slices.Equal(got, []Format{WebP, GIF}) {
		t.Errorf("animation variants %q, want webp gif", got)
	}
	if got := (Spec{Format: PNG}).variants(Info{Format: JPEG, Frames: 1}); len(got) != 1 || got[0].Format != PNG {
		t.Errorf("a pinned format has variants %v, want itself", got)
	}
}

// FuzzParseAccept checks parseAccept's invariants on any header: it never grants a type
// the header does not name, a refusal appended to a header that stays within the bounds
// removes that type, and its answer does not depend on whitespace around elements.
func FuzzParseAccept(f *testing.F) {
	for _, s := range []string{"image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8",
		"image/webp;q=0", `image/webp;x="a,image/avif"`, "IMAGE/AVIF;Q=0.000", "*/*", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		got := parseAccept(h)
		if got&^(acceptAVIF|acceptWebP) != 0 {
			t.Fatalf("parseAccept(%q) = %d: bits outside the set", h, got)
		}
		lower := strings.ToLower(h)
		if got&acceptAVIF != 0 && !strings.Contains(lower, "image/avif") {
			t.Fatalf("parseAccept(%q) grants AVIF without naming it", h)
		}
		if got&acceptWebP != 0 && !strings.Contains(lower, "image/webp") {
			t.Fatalf("parseAccept(%q) grants WebP without naming it", h)
		}
		if len(h) > maxAcceptBytes && got != 0 {
			t.Fatalf("parseAccept of %d bytes = %v, want nothing", len(h), got)
		}
		// An unterminated quote would swallow what follows; only check closed headers.
		if strings.Count(h, `"`)%2 == 0 && !strings.Contains(h, `\`) {
			if g := parseAccept(h + ",image/webp;q=0"); g&acceptWebP != 0 {
				t.Fatalf("parseAccept(%q + a WebP refusal) = %v", h, g)
			}
			if g := parseAccept(" " + h + " "); got != g && len(h)+2 <= maxAcceptBytes {
				t.Fatalf("parseAccept(%q) = %v but with spaces around it %v", h, got, g)
			}
		}
	})
}
