// Package fuzz holds native Go fuzz targets for every path that touches untrusted bytes:
// Put for each input format, the magic-byte and declared-type check, the header and frame
// scanners, the EXIF orientation reader, ParseID and Spec handling. (The rendition-key
// target needs unexported code and lives in the root package: FuzzRenditionKey.) Every
// target checks invariants, not only the absence of panics.
//
// Plain `go test ./fuzz` runs each target on its seed corpus in testdata/fuzz, which is
// generated from internal/fixture by `go generate ./fuzz` and checked for drift by
// TestCorpusIsGenerated. Fuzz one target for longer with, for example:
//
//	go test ./fuzz -run '^$' -fuzz '^FuzzPut$' -fuzztime 10m -fuzzminimizetime 10s
package fuzz

//go:generate go run ../internal/fixture/cmd/gencorpus -root ..
