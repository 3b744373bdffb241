package main

import (
	"encoding/json"
	"io/fs"
	"net/http"

	"github.com/fastimagecache/fastimagecache"
)

// pageCSP is the upload page's Content-Security-Policy. Every response of the demo server
// carries it, or the Handler's stricter one, which also forbids framing.
const pageCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// demoRoutes is the demo server's handler:
//
//	GET  /                       the upload page
//	GET  /static/{file}          the page's scripts and styles (never the page itself)
//	GET  /api/presets            the configured presets, which the page shows each upload in
//	GET  /api/images/{id}/renditions[?crop=…]  each preset's URL and srcset for an image, cropped as asked
//	POST /api/images             the one upload route (raw body or multipart field "file")
//	GET  /images/{id}/{preset}   a preset rendition; /images/{id}?…&sig=… a signed one
//
// A rendition that fails is answered with fallback, when given (see HandlerOptions.Fallback).
// Uploads have that one route, so a proxy rule guarding it guards them all. Every
// response, the mux's own 404 and 405 included, carries the headers of withPageHeaders.
func demoRoutes(c *fastimagecache.Cache, presets map[string]fastimagecache.Spec, key, fallback []byte) http.Handler {
	static, err := fs.Sub(webFS, "web")
	if err != nil {
		panic(err) // web is embedded: a missing directory is a build mistake
	}
	mux := http.NewServeMux()
	upload := c.Handler(fastimagecache.HandlerOptions{AllowUpload: true})
	images := c.Handler(fastimagecache.HandlerOptions{Presets: presets, SigningKey: key, Fallback: fallback})
	mux.Handle("POST /api/images", http.StripPrefix("/api/images", upload))
	mux.Handle("GET /images/", http.StripPrefix("/images", images))
	mux.Handle("GET /static/{file}", staticFiles(static))
	mux.Handle("GET /api/presets", presetList(presets))
	mux.Handle("GET /api/images/{id}/renditions", renditionList(c, presets, key))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFileFS(w, r, static, "index.html")
	})
	return withPageHeaders(mux)
}

// staticFiles serves the page's assets by exact name: files at the top of dir other than
// the page, which is served only at / (an asset route must never serve a document).
func staticFiles(dir fs.FS) http.Handler {
	assets := map[string]string{} // request name -> the directory's own name for it
	entries, _ := fs.ReadDir(dir, ".")
	for _, e := range entries {
		if e.Type().IsRegular() && e.Name() != "index.html" {
			assets[e.Name()] = e.Name()
		}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, ok := assets[r.PathValue("file")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		http.ServeFileFS(w, r, dir, name) // a name read from dir, never the request's
	})
}

// withPageHeaders gives every response the page's security headers before next runs:
// next may replace the Content-Security-Policy with a stricter one (the Handler does).
func withPageHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", pageCSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		next.ServeHTTP(w, r)
	})
}

// presetJSON is one preset as GET /api/presets lists it.
type presetJSON struct {
	Name   string `json:"name"`
	Width  int    `json:"width"`
	Height int    `json:"height"`
	Fit    string `json:"fit"`
	Format string `json:"format"`
}

// presetList answers the configured presets, smallest first (then by name), so the page
// shows exactly the renditions the server serves, custom -preset names included.
func presetList(presets map[string]fastimagecache.Spec) http.Handler {
	list := presetEntries(presets)
	body, err := json.Marshal(list)
	if err != nil {
		panic(err) // plain strings and ints always marshal
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-cache")
		_, _ = w.Write(body) // a write error is the client's going away
	})
}
