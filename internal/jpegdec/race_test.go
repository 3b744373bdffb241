//go:build race

package jpegdec

// raceEnabled reports whether the race detector is on: the slower tests do
// less under it.
const raceEnabled = true
