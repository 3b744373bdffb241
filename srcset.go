package fastimagecache

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// SrcSet returns an HTML srcset value listing spec's rendition of the image described by
// info at each of widths, as URLs that a Handler mounted at prefix and given key as its
// SigningKey serves: "/img/{id}?w=320&…&sig=… 320w, /img/{id}?w=640&…&sig=… 640w".
//
// Each entry is spec with Width set to the width, and Height scaled to keep the shape of
// spec's box when spec gives both sides (else 0: the height follows). Its descriptor is
// the width the rendition really has: an entry whose width is over the Cache's Limits is
// left out, and one the image cannot fill (the image is narrower, and spec does not
// Enlarge) is listed once, at the image's own width. Entries come in increasing width.
// A spec whose Format is Auto gives URLs with fmt=auto, served as the client's Accept
// negotiates. The URLs contain '&': let html/template escape them, or escape them as "&amp;".
// SrcSet returns an error wrapping ErrInvalidSpec for a spec or ID that Get would refuse,
// and "" when no width remains.
func (c *Cache) SrcSet(key []byte, prefix string, info Info, spec Spec, widths ...int) (string, error) {
	var specs []Spec
	for _, w := range widths {
		if w <= 0 {
			continue
		}
		s := spec
		s.Width, s.Height = w, 0
		if spec.Width > 0 && spec.Height > 0 {
			s.Height = max(1, int(math.Round(float64(spec.Height)*float64(w)/float64(spec.Width))))
		}
		specs = append(specs, s)
	}
	entries, err := c.srcsetEntries(info, specs)
	if err != nil {
		return "", err
	}
	return joinSrcSet(key, prefix, info.ID, entries, func(e srcsetEntry) string {
		return strconv.Itoa(e.width) + "w"
	}), nil
}

// SrcSetDensities returns an HTML srcset value listing spec's rendition of the image
// described by info at each of densities (such as 1, 2, 3): spec with Width and Height
// multiplied by it, for screens with that many device pixels per CSS pixel, as signed URLs
// (see SrcSet): "/img/{id}?w=100&…&sig=… 1x, /img/{id}?w=200&…&sig=… 2x". spec must give
// a width or a height. The descriptor is the density the rendition really has against the
// 1x one (spec itself): an entry over the Cache's Limits is left out, and one the image
// cannot fill without Enlarge gets the density it reaches ("2.4x"), or is left out when it
// adds nothing, as are densities outside 1..16. Entries come in increasing density.
func (c *Cache) SrcSetDensities(key []byte, prefix string, info Info, spec Spec, densities ...int) (string, error) {
	if spec.Width <= 0 && spec.Height <= 0 {
		return "", fmt.Errorf("srcset densities of a full-size spec: %w", ErrInvalidSpec)
	}
	base, err := c.srcsetEntries(info, []Spec{spec})
	if err != nil || len(base) == 0 {
		return "", err
	}
	var specs []Spec
	for _, d := range densities {
		if d <= 0 || d > 16 {
			continue
		}
		s := spec
		s.Width, s.Height = spec.Width*d, spec.Height*d
		specs = append(specs, s)
	}
	entries, err := c.srcsetEntries(info, specs)
	if err != nil {
		return "", err
	}
	return joinSrcSet(key, prefix, info.ID, entries, func(e srcsetEntry) string {
		return strconv.FormatFloat(math.Round(100*float64(e.width)/float64(base[0].width))/100, 'f', -1, 64) + "x"
	}), nil
}

// joinSrcSet writes entries in increasing width as a srcset value: each entry's signed URL
// under prefix, then its descriptor.
func joinSrcSet(key []byte, prefix string, id ID, entries []srcsetEntry, descriptor func(srcsetEntry) string) string {
	slices.SortFunc(entries, func(a, b srcsetEntry) int { return a.width - b.width })
	var b strings.Builder
	for _, e := range entries {
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s%s %s", strings.TrimSuffix(prefix, "/"), SignedPath(key, id, e.spec), descriptor(e))
	}
	return b.String()
}

// srcsetEntry is one rendition of a srcset and the width it renders at.
type srcsetEntry struct {
	spec  Spec
	width int
}

// srcsetEntries validates specs for info as Get would, leaves out those over the limits,
// and keeps one spec per output width (the first).
func (c *Cache) srcsetEntries(info Info, specs []Spec) ([]srcsetEntry, error) {
	if _, err := ParseID(string(info.ID)); err != nil {
		return nil, err
	}
	ow, oh := info.OrientedWidth, info.OrientedHeight
	if ow <= 0 || oh <= 0 {
		return nil, fmt.Errorf("srcset of an image of unknown size: %w", ErrInvalidSpec)
	}
	var out []srcsetEntry
	for _, s := range specs {
		if s.Width > c.lim.MaxWidth || s.Height > c.lim.MaxHeight {
			continue
		}
		g := s
		if g.Format == Auto {
			g.Format = "" // negotiated per request; the geometry is the same for every format
		}
		cs, err := g.canonical(c.lim, info, false)
		if err != nil {
			return nil, err
		}
		_, _, w, _ := geometry(ow, oh, cs)
		if !slices.ContainsFunc(out, func(e srcsetEntry) bool { return e.width == w }) {
			out = append(out, srcsetEntry{spec: s, width: w})
		}
	}
	return out, nil
}
