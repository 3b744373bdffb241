package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fastimagecache/fastimagecache/internal/fixture"
)

// spanLine is the part of a span, as the stdout exporter writes it, that the test reads.
type spanLine struct {
	Name        string
	SpanContext struct{ TraceID, SpanID string }
	Parent      struct{ TraceID, SpanID string }
}

// serve -trace-file writes a span for each request, and under it the Cache's spans: an
// upload's Put with its decode (and the presets' eager render and store), a Get of a new
// size with its render and store, each linked to its parent.
func TestServeTraceFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "spans.jsonl")
	var id string
	_, err := serveAt(t, func(base string) {
		id = upload(t, base, fixture.JPEG(400, 300, 90))
		resp, err := http.Get(base + "/api/images/" + id + "/renditions")
		require.NoError(t, err)
		var list []renditionJSON
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&list))
		_ = resp.Body.Close()
		require.NotEmpty(t, list)
		// The srcset's 2x entry: a size no Put rendered, so the Get renders and stores it.
		entries := strings.Split(list[0].SrcSet, ", ")
		require.GreaterOrEqual(t, len(entries), 2)
		u, _, _ := strings.Cut(entries[len(entries)-1], " ")
		resp, err = http.Get(base + u)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
	}, "-trace-file", path, "-preset", "small=100x100:jpeg")
	require.NoError(t, err)

	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	byID := map[string]spanLine{}
	var spans []spanLine
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var s spanLine
		require.NoError(t, json.Unmarshal(sc.Bytes(), &s), "one span a line: %s", sc.Text())
		spans = append(spans, s)
		byID[s.SpanContext.SpanID] = s
	}
	require.NoError(t, sc.Err())
	parentName := func(s spanLine) string { return byID[s.Parent.SpanID].Name }
	// children lists the names of the spans whose parent is named parent.
	children := func(parent string) []string {
		var out []string
		for _, s := range spans {
			if parentName(s) == parent {
				out = append(out, s.Name)
			}
		}
		return out
	}
	var names []string
	for _, s := range spans {
		names = append(names, s.Name+" <- "+parentName(s))
		assert.NotContains(t, s.Name, id, "no ID in a span name")
	}
	t.Logf("spans: %q", names)
	assert.Contains(t, children("POST /api/images"), "fastimagecache.put")
	assert.Contains(t, children("fastimagecache.put"), "fastimagecache.decode")
	assert.Contains(t, children("fastimagecache.put"), "fastimagecache.render", "the preset rendered at Put")
	assert.Contains(t, children("fastimagecache.put"), "fastimagecache.store")
	assert.Contains(t, children("GET /images/"), "fastimagecache.get")
	assert.Contains(t, children("fastimagecache.get"), "fastimagecache.render")
	assert.Contains(t, children("fastimagecache.get"), "fastimagecache.store")
	for _, s := range spans {
		if strings.HasPrefix(s.Name, "fastimagecache.") {
			assert.Equal(t, s.SpanContext.TraceID, s.Parent.TraceID, "%s is in its parent's trace", s.Name)
		}
	}
}
