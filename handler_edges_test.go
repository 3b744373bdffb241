package fastimagecache

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fastimagecache/fastimagecache/internal/fixture"
)

// sendShort writes a request to a real server on loopback whose body stops at half its
// Content-Length, then half-closes the connection (halfClose) or closes it. With a
// half-close it returns the response; after a full close, nil.
func sendShort(t *testing.T, addr, contentType string, body []byte, halfClose bool) *http.Response {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer conn.Close()
	head := fmt.Sprintf("POST / HTTP/1.1\r\nHost: test\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n", contentType, len(body))
	_, err = conn.Write(append([]byte(head), body[:len(body)/2]...))
	require.NoError(t, err)
	if !halfClose {
		return nil
	}
	require.NoError(t, conn.(*net.TCPConn).CloseWrite())
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return resp
}

// An upload body shorter than its Content-Length is the client's doing: 400 bad_upload and
// an Info log, never 500 and an Error log that any client could raise at will.
func TestHandlerShortBodyIsBadUpload(t *testing.T) {
	var logs lockedBuffer
	c := newTestCache(t, WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	srv := httptest.NewServer(c.Handler(HandlerOptions{AllowUpload: true}))
	defer srv.Close()
	addr := srv.Listener.Addr().String()
	img := fixture.JPEG(200, 200, 90)
	form, formType := multipartBody(t, "file", "photo.jpg", "image/jpeg", img)

	for _, tc := range []struct {
		name, contentType string
		body              []byte
	}{
		{"raw", "image/jpeg", img},
		{"multipart", formType, form.Bytes()},
	} {
		t.Run(tc.name+" half-closed", func(t *testing.T) {
			resp := sendShort(t, addr, tc.contentType, tc.body, true)
			assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
			var body map[string]string
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
			assert.Equal(t, "bad_upload", body["error"])
		})
		t.Run(tc.name+" closed", func(t *testing.T) {
			// The connection is gone, so no answer arrives: the rejection is seen in the
			// counters, and the log is checked below.
			before := rejections(c)
			sendShort(t, addr, tc.contentType, tc.body, false)
			spinUntil(t, func() bool { return rejections(c) > before })
		})
	}
	assert.GreaterOrEqual(t, c.Stats().Rejections["bad_upload"], int64(2), "the half-closed uploads")
	assert.NotContains(t, logs.String(), "level=ERROR")
	assert.Zero(t, c.Stats().Rejections["internal"])
	assert.Zero(t, c.Stats().Originals)
}

// rejections counts every rejection of c, whatever its reason.
func rejections(c *Cache) int64 {
	var n int64
	for _, v := range c.Stats().Rejections {
		n += v
	}
	return n
}

// Every 405 says in Allow what the route takes; a root without uploads is no route at all.
func TestHandlerMethodNotAllowedSaysAllow(t *testing.T) {
	c, h := newTestHandler(t, Limits{})
	info := put(t, c, fixture.PNG(8, 8))
	for _, tc := range []struct {
		method, path, allow string
	}{
		{"GET", "/", "POST"},
		{"PUT", "/", "POST"},
		{"DELETE", "/" + string(info.ID), "GET, HEAD"},
		{"POST", "/" + string(info.ID) + "/thumb", "GET, HEAD"},
		{"OPTIONS", "/" + string(info.ID) + "/thumb", "GET, HEAD"},
	} {
		rec := do(h, httptest.NewRequest(tc.method, tc.path, nil))
		assert.Equal(t, http.StatusMethodNotAllowed, rec.Code, tc.method+" "+tc.path)
		assert.Equal(t, tc.allow, rec.Header().Get("Allow"), tc.method+" "+tc.path)
		assert.Equal(t, "method_not_allowed", errorCode(t, rec))
	}

	noUpload := c.Handler(HandlerOptions{Presets: map[string]Spec{"t": {Width: 4}}})
	for _, m := range []string{"GET", "POST", "PUT"} {
		rec := do(noUpload, httptest.NewRequest(m, "/", nil))
		assert.Equal(t, http.StatusNotFound, rec.Code, m)
		assert.Empty(t, rec.Header().Get("Allow"), m)
	}
}

// Close refuses handler uploads that arrive after it (503 unavailable) and waits for the
// ones in progress, as it does for Put. In a synctest bubble, "Close is blocked" is a fact
// that synctest.Wait establishes, not a guess from a sleep.
func TestHandlerCloseRefusesAndWaitsForUploads(t *testing.T) {
	img := fixture.JPEG(120, 80, 90)
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		c, err := New(dir)
		require.NoError(t, err)
		h := c.Handler(HandlerOptions{AllowUpload: true})

		pr, pw := io.Pipe()
		req := httptest.NewRequest("POST", "/", pr)
		req.Header.Set("Content-Type", "image/jpeg")
		inflight := make(chan *httptest.ResponseRecorder, 1)
		go func() { inflight <- do(h, req) }()
		_, err = pw.Write(img[:len(img)/2])
		require.NoError(t, err)
		synctest.Wait() // the upload is reading its body

		closed := make(chan error, 1)
		go func() { closed <- c.Close() }()
		synctest.Wait() // Close has done all it can without the upload
		select {
		case err := <-closed:
			t.Fatalf("Close returned (%v) while an upload was in flight", err)
		default:
		}

		late := do(h, httptest.NewRequest("POST", "/", bytes.NewReader(fixture.PNG(8, 8))))
		assert.Equal(t, http.StatusServiceUnavailable, late.Code)
		assert.Equal(t, "unavailable", errorCode(t, late))
		assert.Equal(t, "1", late.Header().Get("Retry-After"))

		_, err = pw.Write(img[len(img)/2:])
		require.NoError(t, err)
		require.NoError(t, pw.Close())
		rec := <-inflight
		assert.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
		require.NoError(t, <-closed)
	})

	// What the upload in flight stored survived Close.
	c, err := New(dir)
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Stat(t.Context(), idOf(img))
	require.NoError(t, err)
}
