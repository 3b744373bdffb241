//go:build !nodynamic

package codec

// nodynamicBuild reports the nodynamic build tag: the codec packages hold no dlopen code.
const nodynamicBuild = false
