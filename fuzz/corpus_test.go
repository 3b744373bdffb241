package fuzz

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/fastimagecache/fastimagecache/internal/fixture/corpus"
)

// TestCorpusIsGenerated regenerates every seed corpus into a temporary directory and
// requires the committed files to be exactly those: none missing, none changed, none
// extra. After changing a builder or a seed, run `go generate ./fuzz`; a crasher found by
// fuzzing becomes a named seed in internal/fixture/corpus, not an opaque committed file.
func TestCorpusIsGenerated(t *testing.T) {
	const root = ".." // the module root, from this package's directory
	fresh := t.TempDir()
	if err := corpus.Write(fresh); err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, dir := range corpus.Dirs() {
		want := readDir(t, filepath.Join(fresh, dir))
		got := readDir(t, filepath.Join(root, dir))
		for name, data := range want {
			total += int64(len(data))
			switch committed, ok := got[name]; {
			case !ok:
				t.Errorf("%s: missing; run go generate ./fuzz", filepath.Join(dir, name))
			case !bytes.Equal(committed, data):
				t.Errorf("%s: differs from the generator's output; run go generate ./fuzz", filepath.Join(dir, name))
			}
		}
		for name := range got {
			if _, ok := want[name]; !ok {
				t.Errorf("%s: not produced by the generator; add it to internal/fixture/corpus (a crasher becomes a named regression seed)", filepath.Join(dir, name))
			}
		}
	}
	// The committed corpus stays small, so that fuzzing starts fast and the repository lean.
	const limit = 2 << 20
	if total > limit {
		t.Errorf("seed corpora hold %d bytes, over %d", total, limit)
	}
}

func readDir(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	files := make(map[string][]byte, len(entries))
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		files[e.Name()] = data
	}
	return files
}
