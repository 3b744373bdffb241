package main

import (
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/fastimagecache/fastimagecache"
)

// renditionJSON is one preset's rendition of an image as GET /api/images/{id}/renditions
// lists it: the preset, the URL of its 1x rendition, and a srcset of it at 1x, 1.5x, 2x
// and 3x (signed URLs from Cache.SrcSet) with the sizes that make a browser pick by its
// screen's density.
type renditionJSON struct {
	Name   string `json:"name"`
	Width  int    `json:"width"`
	Height int    `json:"height"`
	Fit    string `json:"fit"`
	Format string `json:"format"`
	Src    string `json:"src"`
	SrcSet string `json:"srcset,omitempty"`
	Sizes  string `json:"sizes,omitempty"`
}

// srcsetScales are the widths, as multiples of a preset's, that a rendition's srcset lists.
var srcsetScales = []float64{1, 1.5, 2, 3}

// focusStep is the grain of a focal point the renditions API signs: 1/20 of the image's
// width and height, so a client can have at most 21×21 focal crops of a preset signed,
// not a million.
const focusStep = 20

// cropChoices are the crop= values the renditions API takes: every gravity by name
// ("center", "north", …, "smart"), and "focus" with fx= and fy=.
func cropChoices() map[string]fastimagecache.Gravity {
	m := map[string]fastimagecache.Gravity{}
	for g := fastimagecache.Center; g <= fastimagecache.Smart; g++ {
		m[g.String()] = g
	}
	return m
}

var errBadCrop = errors.New("crop must be a gravity name (center, north, …, smart) or focus with fx and fy in 0..1")

// cropSpec returns s with the crop the query q asks for: crop=NAME sets the Gravity,
// crop=focus&fx=&fy= the focal point (to the nearest 1/focusStep). It changes only Cover specs (a Contain rendition
// shows the whole image).
func cropSpec(s fastimagecache.Spec, q url.Values) (fastimagecache.Spec, error) {
	crop := q.Get("crop")
	if crop == "" {
		return s, nil
	}
	var g fastimagecache.Gravity
	var fx, fy float64
	if crop == "focus" {
		var errx, erry error
		fx, errx = strconv.ParseFloat(q.Get("fx"), 64)
		fy, erry = strconv.ParseFloat(q.Get("fy"), 64)
		if errx != nil || erry != nil || !(fx >= 0 && fx <= 1) || !(fy >= 0 && fy <= 1) {
			return s, errBadCrop
		}
	} else {
		var ok bool
		if g, ok = cropChoices()[crop]; !ok {
			return s, errBadCrop
		}
	}
	if s.Fit == fastimagecache.Cover {
		s.Gravity, s.FocusX, s.FocusY = g, math.Round(fx*focusStep)/focusStep, math.Round(fy*focusStep)/focusStep
	}
	return s, nil
}

// renditionList answers GET /api/images/{id}/renditions[?crop=…]: each preset's rendition of
// the stored image, smallest preset first, with the crop asked for. The 1x URL is the
// preset's own route when the crop is the preset's; srcset URLs (and a changed crop's 1x
// URL) are signed with key, so without a key the list has preset URLs only and ignores crop.
func renditionList(c *fastimagecache.Cache, presets map[string]fastimagecache.Spec, key []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		id, err := fastimagecache.ParseID(r.PathValue("id"))
		if err != nil {
			jsonError(w, http.StatusBadRequest, "invalid_id", "not an image ID")
			return
		}
		info, err := c.Stat(r.Context(), id)
		if err != nil {
			if errors.Is(err, fastimagecache.ErrNotFound) {
				jsonError(w, http.StatusNotFound, "not_found", "no image with this ID")
				return
			}
			jsonError(w, http.StatusServiceUnavailable, "unavailable", "the store did not answer")
			return
		}
		out := make([]renditionJSON, 0, len(presets))
		for _, p := range presetEntries(presets) {
			preset := presets[p.Name]
			rj := renditionJSON{Name: p.Name, Width: p.Width, Height: p.Height, Fit: p.Fit, Format: p.Format,
				Src: "/images/" + string(id) + "/" + p.Name}
			if len(key) > 0 {
				spec, err := cropSpec(preset, r.URL.Query())
				if err != nil {
					jsonError(w, http.StatusBadRequest, "invalid_crop", err.Error())
					return
				}
				if spec != preset {
					rj.Src = "/images" + fastimagecache.SignedPath(key, id, spec)
				}
				rj.SrcSet, rj.Sizes = srcsetOf(c, key, info, spec)
			}
			out = append(out, rj)
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(out) // a write error is the client's going away
	})
}

// srcsetOf is spec's srcset for info at srcsetScales, and the sizes that show its 1x entry
// at its own width: width descriptors for a spec with a width, density descriptors (no
// sizes) for one with a height only, nothing for a full-size spec.
func srcsetOf(c *fastimagecache.Cache, key []byte, info fastimagecache.Info, spec fastimagecache.Spec) (srcset, sizes string) {
	switch {
	case spec.Width > 0:
		widths := make([]int, 0, len(srcsetScales))
		for _, f := range srcsetScales {
			widths = append(widths, int(math.Round(float64(spec.Width)*f)))
		}
		set, err := c.SrcSet(key, "/images", info, spec, widths...)
		if err != nil || set == "" {
			return "", ""
		}
		// The first entry is the 1x one (entries come in increasing width): the page
		// shows the image at its width in CSS pixels.
		first, _, _ := strings.Cut(set, ", ")
		w := first[strings.LastIndexByte(first, ' ')+1:]
		return set, strings.TrimSuffix(w, "w") + "px"
	case spec.Height > 0:
		set, err := c.SrcSetDensities(key, "/images", info, spec, 1, 2, 3)
		if err != nil {
			return "", ""
		}
		return set, ""
	}
	return "", ""
}

// jsonError writes the demo API's own errors in the Handler's JSON shape.
func jsonError(w http.ResponseWriter, code int, name, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": name, "message": msg})
}

// presetEntries lists presets smallest first (then by name), as the page shows them.
func presetEntries(presets map[string]fastimagecache.Spec) []presetJSON {
	list := make([]presetJSON, 0, len(presets))
	for name, s := range presets {
		fit := "contain"
		if s.Fit == fastimagecache.Cover {
			fit = "cover"
		}
		format := string(s.Format)
		if format == "" {
			format = "source"
		}
		list = append(list, presetJSON{Name: name, Width: s.Width, Height: s.Height, Fit: fit, Format: format})
	}
	slices.SortFunc(list, func(a, b presetJSON) int {
		if d := a.Width*a.Height - b.Width*b.Height; d != 0 {
			return d
		}
		return strings.Compare(a.Name, b.Name)
	})
	return list
}
