// Command vulndbindex turns a folder of Go vulnerability OSV entries (the data/osv folder
// of the golang.org/x/vulndb module) into the v1 database layout that
// `govulncheck -db file:///path` reads, so govulncheck can run with no network.
//
//	vulndbindex -osv DIR -out DIR [-modified RFC3339]
//
// It writes:
//
//	index/db.json       {"modified": latest modified time}
//	index/modules.json  [{"path", "vulns": [{"id", "modified", "fixed"}]}] sorted by path, then id
//	index/vulns.json    [{"id", "modified", "aliases"}] sorted by id
//	ID/<id>.json        each entry, compacted (no field is dropped or changed)
//
// It does the same as golang.org/x/vulndb/cmd/indexdb without that module's large
// dependency graph (cloud, telemetry, git), which took 2.5 minutes to fetch and build on a
// fresh cache. Checked at vulndb v0.0.0-20261105234957-e22db6528018: index/db.json,
// index/modules.json, index/vulns.json and all 4789 ID/*.json files are byte for byte
// those indexdb writes (db.json differs only when -modified is given). The gzipped copies
// indexdb also writes are only needed to serve the database over HTTP; govulncheck's
// file:// client reads the plain .json files. scripts/vulndb.sh self-tests every new
// database with govulncheck against a module with a known reachable vulnerability.
//
// The "fixed" field in index/modules.json lets govulncheck skip entries whose fix is at or
// below the version in use; it is computed exactly as upstream does (the latest SEMVER
// "fixed" event of the affected block, empty when the vulnerability was reintroduced after
// it). An empty value is always safe: the entry is then read and checked in full.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/mod/semver"
)

// osvTime marshals as RFC 3339 in UTC with whole seconds, as the OSV format and the
// upstream database do (time.Time's own MarshalJSON would add fractional seconds).
type osvTime struct{ time.Time }

func (t osvTime) MarshalJSON() ([]byte, error) {
	return json.Marshal(t.UTC().Format(time.RFC3339))
}

func (t *osvTime) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return err
	}
	t.Time = v.UTC()
	return nil
}

// entry is the part of an OSV entry the index needs.
type entry struct {
	ID       string   `json:"id"`
	Modified osvTime  `json:"modified"`
	Aliases  []string `json:"aliases,omitempty"`
	Affected []struct {
		Module struct {
			Path string `json:"name"` // the module path; "stdlib" and "toolchain" for Go itself
		} `json:"package"`
		Ranges []osvRange `json:"ranges"`
	} `json:"affected"`
}

type osvRange struct {
	Type   string `json:"type"`
	Events []struct {
		Introduced string `json:"introduced,omitempty"`
		Fixed      string `json:"fixed,omitempty"`
	} `json:"events"`
}

type dbMeta struct {
	Modified osvTime `json:"modified"`
}

type moduleMeta struct {
	Path  string       `json:"path"`
	Vulns []moduleVuln `json:"vulns"`
}

type moduleVuln struct {
	ID       string  `json:"id"`
	Modified osvTime `json:"modified"`
	Fixed    string  `json:"fixed,omitempty"`
}

type vulnMeta struct {
	ID       string   `json:"id"`
	Modified osvTime  `json:"modified"`
	Aliases  []string `json:"aliases,omitempty"`
}

// before reports whether v < w for unprefixed semantic versions (as in the OSV entries).
func before(v, w string) bool { return semver.Compare("v"+v, "v"+w) < 0 }

// latestFixed mirrors golang.org/x/vulndb/internal/osvutils.LatestFixed and
// golang.org/x/vuln/internal/semver.NonSupersededFix.
func latestFixed(ranges []osvRange) string {
	var latest string
	for _, r := range ranges {
		if r.Type != "SEMVER" {
			continue
		}
		for _, e := range r.Events {
			if e.Fixed != "" && before(latest, e.Fixed) {
				latest = e.Fixed
			}
		}
		// Reintroduced after the latest fix: no version is known to be safe.
		for _, e := range r.Events {
			if e.Introduced != "" && e.Introduced != "0" && before(latest, e.Introduced) {
				latest = ""
				break
			}
		}
	}
	return latest
}

func main() {
	log.SetFlags(0)
	log.SetPrefix("vulndbindex: ")
	osvDir := flag.String("osv", "", "folder of OSV entries `GO-YYYY-NNNN.json` (x/vulndb's data/osv)")
	outDir := flag.String("out", "", "folder to write the database to (must not exist yet)")
	modified := flag.String("modified", "", "optional RFC 3339 time for index/db.json when it is later than every entry's (the vulndb snapshot time)")
	flag.Parse()
	if *osvDir == "" || *outDir == "" || flag.NArg() != 0 {
		flag.Usage()
		os.Exit(2)
	}
	var snapshot osvTime
	if *modified != "" {
		if err := snapshot.UnmarshalJSON([]byte(fmt.Sprintf("%q", *modified))); err != nil {
			log.Fatalf("-modified: %v", err)
		}
	}
	n, err := build(*osvDir, *outDir, snapshot)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("wrote %d entries to %s", n, *outDir)
}

func build(osvDir, outDir string, snapshot osvTime) (int, error) {
	files, err := os.ReadDir(osvDir)
	if err != nil {
		return 0, err
	}
	if _, err := os.Stat(outDir); !errors.Is(err, os.ErrNotExist) {
		return 0, fmt.Errorf("%s already exists (or cannot be checked: %v)", outDir, err)
	}
	idDir, indexDir := filepath.Join(outDir, "ID"), filepath.Join(outDir, "index")
	for _, d := range []string{idDir, indexDir} {
		if err := os.MkdirAll(d, 0o750); err != nil {
			return 0, err
		}
	}

	db := dbMeta{}
	modules := map[string]*moduleMeta{}
	var vulns []vulnMeta
	seen := map[string]bool{}
	for _, f := range files {
		name := f.Name()
		if f.IsDir() || filepath.Ext(name) != ".json" || name == "index.json" {
			continue
		}
		raw, err := os.ReadFile(filepath.Join(osvDir, name)) // #nosec G304 -- reads the OSV folder the caller named
		if err != nil {
			return 0, err
		}
		var e entry
		if err := json.Unmarshal(raw, &e); err != nil {
			return 0, fmt.Errorf("%s: %v", name, err)
		}
		switch {
		case e.ID == "" || strings.ContainsAny(e.ID, `/\`) || name != e.ID+".json":
			return 0, fmt.Errorf("%s: entry id %q does not match its file name", name, e.ID)
		case seen[e.ID]:
			return 0, fmt.Errorf("%s: id %q appears twice", name, e.ID)
		}
		seen[e.ID] = true

		var compact bytes.Buffer
		if err := json.Compact(&compact, raw); err != nil {
			return 0, fmt.Errorf("%s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(idDir, e.ID+".json"), compact.Bytes(), 0o600); err != nil {
			return 0, err
		}

		if e.Modified.After(db.Modified.Time) {
			db.Modified = e.Modified
		}
		vulns = append(vulns, vulnMeta{ID: e.ID, Modified: e.Modified, Aliases: e.Aliases})
		for _, a := range e.Affected {
			p := a.Module.Path
			m := modules[p]
			if m == nil {
				m = &moduleMeta{Path: p, Vulns: []moduleVuln{}}
				modules[p] = m
			}
			m.Vulns = append(m.Vulns, moduleVuln{ID: e.ID, Modified: e.Modified, Fixed: latestFixed(a.Ranges)})
		}
	}
	if len(vulns) == 0 {
		return 0, fmt.Errorf("%s: no OSV entries", osvDir)
	}
	if snapshot.After(db.Modified.Time) {
		db.Modified = snapshot
	}

	mods := make([]*moduleMeta, 0, len(modules))
	for _, m := range modules {
		// Stable, as upstream: one entry with several affected blocks for the same module
		// keeps one row per block, in file order.
		slices.SortStableFunc(m.Vulns, func(a, b moduleVuln) int { return strings.Compare(a.ID, b.ID) })
		mods = append(mods, m)
	}
	slices.SortFunc(mods, func(a, b *moduleMeta) int { return strings.Compare(a.Path, b.Path) })
	slices.SortFunc(vulns, func(a, b vulnMeta) int { return strings.Compare(a.ID, b.ID) })

	for name, v := range map[string]any{"db.json": db, "modules.json": mods, "vulns.json": vulns} {
		b, err := json.Marshal(v)
		if err != nil {
			return 0, err
		}
		if err := os.WriteFile(filepath.Join(indexDir, name), b, 0o600); err != nil {
			return 0, err
		}
	}
	return len(vulns), nil
}
