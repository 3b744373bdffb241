//go:build race

package sandbox

// RaceEnabled reports whether the race detector is compiled in. Its shadow memory grows
// with the heap, so the address-space and data limits leave it room.
const RaceEnabled = true
