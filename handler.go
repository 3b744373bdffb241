package fastimagecache

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// HandlerOptions configures Cache.Handler. The zero value serves nothing but 404s: every
// capability must be switched on.
type HandlerOptions struct {
	// AllowUpload enables uploads: POST / with a raw body or a multipart form. Without it,
	// the root answers 404 to every method.
	AllowUpload bool
	// UploadField is the multipart field holding the file; "" means "file".
	UploadField string
	// Presets names the renditions clients may ask for: GET /{id}/{name}. Names are 1 to 32
	// characters of a-z, 0-9, '-' and '_'.
	Presets map[string]Spec
	// SigningKey, when set, also allows arbitrary renditions at GET /{id}?w=&h=&fit=&fmt=&q=&enlarge=&sig=,
	// where sig is the HMAC-SHA256 of the canonical query under this key (see SignedPath).
	// A Cover crop's gravity and focal point add g= (a Gravity's name) and fx=, fy=
	// (fractions such as 0.25, at most three decimals) when set.
	// Without a key, only presets are served, so one client cannot fill the disk with sizes.
	SigningKey []byte
	// Fallback, when set, is an image (bytes of an accepted format) served in place of a
	// rendition that fails: not found, too large, corrupt, busy, timed out, unavailable.
	// Handler stores it with Put, so it is proved as any upload is; one Put rejects is
	// logged at Error and not used. The answer is the fallback rendered by this Cache at
	// the requested Spec (size, fit, format), with the failure's status kept (404, 413,
	// 415, 422, 500, 503, with Retry-After for 503) and "Cache-Control: no-store", no
	// ETag and no Range, so no cache keeps it in place of the real image once that can be
	// served. A request refused before rendering (a bad ID, signature or query, an
	// unknown preset, a wrong method) answers its JSON error as before; so does a failure
	// when the fallback itself cannot be rendered at the Spec.
	Fallback []byte
}

// Handler returns an http.Handler serving this Cache. Mount it under a prefix with
// http.StripPrefix. Routes, relative to its root:
//
//	POST /                 upload (AllowUpload): raw body or multipart; answers JSON Info, 201 if new, 200 if already stored
//	GET  /{id}/{preset}    a named rendition
//	GET  /{id}?w=…&sig=…   an arbitrary rendition signed with SigningKey
//
// Renditions are served with http.ServeContent (Range, If-None-Match), a strong ETag,
// "Cache-Control: public, max-age=31536000, immutable", "X-Content-Type-Options: nosniff",
// "Content-Security-Policy: default-src 'none'; frame-ancestors 'none'; sandbox" and an inline
// Content-Disposition naming the file by its ID (a rendition that fails is answered by
// HandlerOptions.Fallback, when set, with no-store instead). A preset or signed spec whose Format is
// Auto (fmt=auto) is served in the format its request's Accept header negotiates (see
// Cache.GetAccept), and every answer for it, errors and 304s included, carries
// "Vary: Accept"; an explicit fmt= pins the format and varies with nothing. JSON answers carry the same nosniff and CSP
// headers and "Cache-Control: no-store". Errors are JSON {"error": code, "message": text} with fixed
// texts that carry no internal detail: 400 invalid_spec / invalid_id, 403 bad_signature /
// signing_disabled, 404 not_found / unknown_preset, 405 method_not_allowed, 413 too_large,
// 415 unsupported_format / type_mismatch, 422 dimensions / corrupt, 503 busy / timeout /
// unavailable (the Cache is closed) with Retry-After, 500 internal. A 405 carries an Allow
// header. An upload body that cannot be read to its end (shorter than its Content-Length,
// a connection closed mid-upload) is the client's fault: 400 bad_upload, logged at Info.
// Close refuses uploads that arrive after it (503 unavailable) and waits for those in
// progress.
func (c *Cache) Handler(opts HandlerOptions) http.Handler {
	h := &handler{c: c, opts: opts, presets: map[string]Spec{}}
	if h.opts.UploadField == "" {
		h.opts.UploadField = "file"
	}
	for name, spec := range opts.Presets {
		if !validPresetName(name) {
			c.log.LogAttrs(context.Background(), slog.LevelError, "handler: preset ignored: bad name", slog.String("preset", capQuote(name)))
			continue
		}
		h.presets[name] = spec
	}
	if len(opts.Fallback) > 0 {
		info, err := c.Put(context.Background(), bytes.NewReader(opts.Fallback))
		if err != nil {
			c.log.LogAttrs(context.Background(), slog.LevelError, "handler: fallback image ignored", slog.String("error", err.Error()))
		} else {
			h.fallback = info.ID
		}
	}
	h.opts.Fallback = nil
	return h
}

type handler struct {
	c       *Cache
	opts    HandlerOptions
	presets map[string]Spec
	// fallback is the stored fallback image's ID; "" without one.
	fallback ID
}

func validPresetName(s string) bool {
	if len(s) == 0 || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' && c != '_' {
			return false
		}
	}
	return true
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimPrefix(r.URL.Path, "/")
	switch {
	case path == "":
		if !h.opts.AllowUpload {
			writeError(w, errNoRoute)
			return
		}
		if r.Method != http.MethodPost {
			methodNotAllowed(w, http.MethodPost)
			return
		}
		h.upload(w, r)
	case r.Method != http.MethodGet && r.Method != http.MethodHead:
		methodNotAllowed(w, "GET, HEAD")
	default:
		idStr, preset, hasPreset := strings.Cut(path, "/")
		if s, ok := h.presets[preset]; hasPreset && ok && s.Format == Auto {
			addVaryAccept(w) // before any answer, errors included
		}
		id, err := ParseID(idStr)
		if err != nil {
			writeError(w, errBadID)
			return
		}
		var spec Spec
		if hasPreset {
			s, ok := h.presets[preset]
			if !ok {
				writeError(w, errUnknownPreset)
				return
			}
			spec = s
		} else {
			s, herr := h.signedSpec(id, r.URL.RawQuery)
			if s.Format == Auto {
				addVaryAccept(w) // also when the signature is wrong
			}
			if herr != nil {
				writeError(w, herr)
				return
			}
			spec = s
		}
		h.serve(w, r, id, spec)
	}
}

func (h *handler) serve(w http.ResponseWriter, r *http.Request, id ID, spec Spec) {
	var accept string
	if spec.Format == Auto {
		accept = requestAccept(r.Header)
	}
	rd, err := h.c.GetAccept(r.Context(), id, spec, accept)
	if err != nil {
		he := httpErrorOf(err)
		if h.fallback != "" && h.serveFallback(w, r, spec, accept, he.status) {
			return
		}
		writeError(w, he)
		return
	}
	defer rd.Close()
	hd := w.Header()
	hd.Set("Content-Type", rd.ContentType)
	hd.Set("ETag", rd.ETag)
	hd.Set("Cache-Control", "public, max-age=31536000, immutable")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Content-Security-Policy", handlerCSP)
	hd.Set("Content-Disposition", fmt.Sprintf(`inline; filename="%s.%s"`, id, extension(rd.ContentType)))
	http.ServeContent(w, r, "", rd.ModTime, rd)
}

// serveFallback answers with the fallback image rendered at spec, under status, and
// reports whether it did; when the fallback cannot be rendered it writes nothing.
func (h *handler) serveFallback(w http.ResponseWriter, r *http.Request, spec Spec, accept string, status int) bool {
	rd, err := h.c.GetAccept(r.Context(), h.fallback, spec, accept)
	if err != nil {
		return false
	}
	defer rd.Close()
	hd := w.Header()
	hd.Set("Content-Type", rd.ContentType)
	hd.Set("Content-Length", strconv.FormatInt(rd.Size, 10))
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Content-Security-Policy", handlerCSP)
	hd.Set("Content-Disposition", fmt.Sprintf(`inline; filename="fallback.%s"`, extension(rd.ContentType)))
	if status == http.StatusServiceUnavailable {
		hd.Set("Retry-After", "1")
	}
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = io.Copy(w, rd)
	}
	return true
}

func extension(contentType string) string {
	switch contentType {
	case "image/jpeg":
		return "jpg"
	case "image/png":
		return "png"
	case "image/gif":
		return "gif"
	case "image/webp":
		return "webp"
	case "image/avif":
		return "avif"
	}
	return "bin"
}

// addVaryAccept adds "Vary: Accept" to an answer for an Auto Spec, whatever the answer:
// a shared cache that stored one without it would serve one client's negotiated format
// to every other (imagor PR #819, thumbor #731, #1563).
func addVaryAccept(w http.ResponseWriter) {
	h := w.Header()
	for _, v := range h.Values("Vary") {
		for _, f := range strings.Split(v, ",") {
			if f = strings.TrimSpace(f); f == "*" || strings.EqualFold(f, "Accept") {
				return
			}
		}
	}
	h.Add("Vary", "Accept")
}

// requestAccept is the request's Accept header: its lines joined by commas, as RFC 9110
// combines repeated fields. Lines that join to more than maxAcceptBytes give "": no
// Accept at all, as parseAccept reads a header that long.
func requestAccept(h http.Header) string {
	vs := h.Values("Accept")
	if len(vs) == 1 {
		return vs[0]
	}
	var b strings.Builder
	for i, v := range vs {
		if b.Len()+len(v)+1 > maxAcceptBytes {
			return ""
		}
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(v)
	}
	return b.String()
}

// multipartOverhead is what a multipart envelope may add to the file's own MaxBytes.
const multipartOverhead = 64 << 10

func (h *handler) upload(w http.ResponseWriter, r *http.Request) {
	// Registered like Put, so that Close refuses new uploads and waits for this one.
	if err := h.c.enter(); err != nil {
		writeError(w, httpErrorOf(err))
		return
	}
	defer h.c.leave()
	start := time.Now()
	h.c.count.puts.Add(1)
	maxBytes := h.c.lim.MaxBytes
	ct := r.Header.Get("Content-Type")
	mt, params, _ := mime.ParseMediaType(ct)
	var (
		body     io.Reader
		declared = ct
		attrs    []slog.Attr
	)
	if mt == "multipart/form-data" && params["boundary"] != "" {
		r.Body = http.MaxBytesReader(w, r.Body, maxBytes+multipartOverhead)
		mr, err := r.MultipartReader()
		if err != nil {
			writeError(w, errBadUpload)
			return
		}
		for {
			part, err := mr.NextPart()
			if err != nil {
				herr := errBadUpload
				if errors.As(err, new(*http.MaxBytesError)) {
					herr = httpErrorOf(ErrTooLarge)
				}
				h.c.count.reject(herr.code)
				h.c.log.LogAttrs(r.Context(), slog.LevelInfo, "image rejected", slog.String("op", "upload"), slog.String("reason", herr.code))
				writeError(w, herr)
				return
			}
			if part.FormName() == h.opts.UploadField {
				body = clientBody{part}
				declared = part.Header.Get("Content-Type")
				// The file name is only ever logged, escaped and capped.
				attrs = append(attrs, slog.String("filename", capQuote(part.FileName())))
				break
			}
			_ = part.Close() // skipping a part we do not read
		}
	} else {
		r.Body = http.MaxBytesReader(w, r.Body, maxBytes+1)
		body = clientBody{r.Body}
	}
	info, created, err := h.c.putLogged(r.Context(), body, putConfig{declared: declared, hasDeclared: true}, start, attrs...)
	if err != nil {
		writeError(w, httpErrorOf(err))
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeJSON(w, status, infoJSON(info))
}

// clientBody reads an upload's body. A failure to read it is the client's doing (a body
// shorter than its Content-Length, a connection closed or stalled mid-upload), so it
// becomes errBadBody (400 bad_upload, logged at Info), never a 500 and an Error log. The
// cause is dropped: its text may quote the request. The handler's own cap on the body
// (*http.MaxBytesError) passes through, to become ErrTooLarge.
type clientBody struct{ r io.Reader }

func (b clientBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil && err != io.EOF && !errors.As(err, new(*http.MaxBytesError)) {
		err = errBadBody
	}
	return n, err
}

// infoJSON is Info as the handler answers it.
type infoJSON struct {
	ID     ID     `json:"id"`
	Format Format `json:"format"`
	Width  int    `json:"width"`
	Height int    `json:"height"`
	Frames int    `json:"frames"`
	Size   int64  `json:"size"`

	OrientedWidth  int    `json:"oriented_width"`
	OrientedHeight int    `json:"oriented_height"`
	Placeholder    string `json:"placeholder,omitempty"` // ThumbHash, standard base64
	Color          string `json:"color,omitempty"`       // "#rrggbb"
}

// capQuote escapes a user-supplied string for a log field and caps its length.
func capQuote(s string) string {
	const maxLen = 64
	if len(s) > maxLen {
		s = s[:maxLen]
		for !utf8.ValidString(s) && len(s) > 0 {
			s = s[:len(s)-1]
		}
		s += "…"
	}
	return strconv.QuoteToASCII(s)
}

// signedQuery is the canonical query of a Spec, the message its signature covers.
func signedQuery(s Spec) string {
	enlarge := 0
	if s.Enlarge {
		enlarge = 1
	}
	q := fmt.Sprintf("w=%d&h=%d&fit=%s&fmt=%s&q=%d&enlarge=%d", s.Width, s.Height, s.Fit, s.Format, s.Quality, enlarge)
	// The crop's parameters only when set, so URLs signed before they existed still verify.
	if s.Gravity != Center {
		q += "&g=" + s.Gravity.String()
	}
	if fx, fy := permille(s.FocusX), permille(s.FocusY); fx != 0 || fy != 0 {
		q += "&fx=" + formatPermille(fx) + "&fy=" + formatPermille(fy)
	}
	return q
}

func sign(key []byte, id ID, s Spec) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("fastimagecache/v1\x00" + string(id) + "\x00" + signedQuery(s)))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// SignedPath returns the path and query, relative to a Handler's root, under which that
// Handler (given the same key) serves spec's rendition of id: "/{id}?w=…&sig=…".
func SignedPath(key []byte, id ID, spec Spec) string {
	return "/" + string(id) + "?" + signedQuery(spec) + "&sig=" + sign(key, id, spec)
}

// signedSpec parses a signed query strictly: every parameter at most once, nothing
// unknown, and a valid signature compared in constant time.
func (h *handler) signedSpec(id ID, rawQuery string) (Spec, *httpError) {
	if len(h.opts.SigningKey) == 0 {
		return Spec{}, errSigningDisabled
	}
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return Spec{}, errBadSpec
	}
	var s Spec
	for key, v := range q {
		if len(v) != 1 {
			return Spec{Format: Format(q.Get("fmt"))}, errBadSpec // the format only, for Vary
		}
		val := v[0]
		var perr error
		switch key {
		case "w":
			s.Width, perr = parseSmallInt(val)
		case "h":
			s.Height, perr = parseSmallInt(val)
		case "q":
			s.Quality, perr = parseSmallInt(val)
		case "fit":
			switch val {
			case "contain":
				s.Fit = Contain
			case "cover":
				s.Fit = Cover
			default:
				perr = errBadSpec
			}
		case "fmt":
			s.Format = Format(val)
		case "enlarge":
			switch val {
			case "0":
			case "1":
				s.Enlarge = true
			default:
				perr = errBadSpec
			}
		case "g":
			var ok bool
			if s.Gravity, ok = parseGravity(val); !ok {
				perr = errBadSpec
			}
		case "fx", "fy":
			k, ok := parsePermille(val)
			switch {
			case !ok:
				perr = errBadSpec
			case key == "fx":
				s.FocusX = float64(k) / 1000
			default:
				s.FocusY = float64(k) / 1000
			}
		case "sig":
		default:
			perr = errBadSpec
		}
		if perr != nil {
			return Spec{Format: Format(q.Get("fmt"))}, errBadSpec // the format only, for Vary
		}
	}
	got, err := base64.RawURLEncoding.DecodeString(q.Get("sig"))
	want, _ := base64.RawURLEncoding.DecodeString(sign(h.opts.SigningKey, id, s))
	if err != nil || !hmac.Equal(got, want) {
		return Spec{Format: s.Format}, errBadSignature // the format only, for Vary
	}
	return s, nil
}

// parseSmallInt accepts 1 to 6 decimal digits.
func parseSmallInt(s string) (int, error) {
	if len(s) == 0 || len(s) > 6 {
		return 0, errBadSpec
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, errBadSpec
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, nil
}

// httpError is an error as the handler answers it: a status and a stable code, with a
// fixed message.
type httpError struct {
	status  int
	code    string
	message string
}

func (e *httpError) Error() string { return e.code }

var (
	errBadSpec         = &httpError{http.StatusBadRequest, "invalid_spec", "the requested rendition is not valid"}
	errBadID           = &httpError{http.StatusBadRequest, "invalid_id", "an image ID is 64 lowercase hex characters"}
	errBadUpload       = &httpError{http.StatusBadRequest, "bad_upload", "the upload has no file"}
	errBadBody         = &httpError{http.StatusBadRequest, "bad_upload", "the upload body could not be read to its end"}
	errBadSignature    = &httpError{http.StatusForbidden, "bad_signature", "the signature does not match"}
	errSigningDisabled = &httpError{http.StatusForbidden, "signing_disabled", "only named presets are served"}
	errNoRoute         = &httpError{http.StatusNotFound, "not_found", "not found"}
	errUnknownPreset   = &httpError{http.StatusNotFound, "unknown_preset", "no such preset"}
	errMethod          = &httpError{http.StatusMethodNotAllowed, "method_not_allowed", "method not allowed"}
)

// httpErrorOf maps a Cache error to its HTTP form.
func httpErrorOf(err error) *httpError {
	var he *httpError
	switch {
	case errors.As(err, &he):
		return he
	case errors.Is(err, ErrTooLarge):
		return &httpError{http.StatusRequestEntityTooLarge, "too_large", "the image is larger than allowed"}
	case errors.Is(err, ErrTypeMismatch) && !errors.Is(err, ErrUnsupportedFormat):
		return &httpError{http.StatusUnsupportedMediaType, "type_mismatch", "the declared type does not match the content"}
	case errors.Is(err, ErrUnsupportedFormat):
		return &httpError{http.StatusUnsupportedMediaType, "unsupported_format", "the content is not an accepted image format"}
	case errors.Is(err, ErrDimensions):
		return &httpError{http.StatusUnprocessableEntity, "dimensions", "the image's size is out of bounds"}
	case errors.Is(err, ErrCorrupt):
		return &httpError{http.StatusUnprocessableEntity, "corrupt", "the image could not be decoded"}
	case errors.Is(err, ErrInvalidSpec):
		return errBadSpec
	case errors.Is(err, ErrNotFound):
		return errNoRoute
	case errors.Is(err, ErrBusy):
		return &httpError{http.StatusServiceUnavailable, "busy", "the server is busy; retry later"}
	case errors.Is(err, context.DeadlineExceeded):
		return &httpError{http.StatusServiceUnavailable, "timeout", "processing took too long; retry later"}
	case errors.Is(err, ErrClosed), errors.Is(err, context.Canceled):
		return &httpError{http.StatusServiceUnavailable, "unavailable", "the service is unavailable; retry later"}
	}
	return &httpError{http.StatusInternalServerError, "internal", "internal error"}
}

// methodNotAllowed answers 405 with the methods the route takes in Allow.
func methodNotAllowed(w http.ResponseWriter, allow string) {
	w.Header().Set("Allow", allow)
	writeError(w, errMethod)
}

func writeError(w http.ResponseWriter, e *httpError) {
	if e.status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, e.status, map[string]string{"error": e.code, "message": e.message})
}

// handlerCSP is the Content-Security-Policy of every response of the Handler: if one is
// ever opened as a document, nothing in it may load, run, or be framed.
const handlerCSP = "default-src 'none'; frame-ancestors 'none'; sandbox"

func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", handlerCSP)
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
