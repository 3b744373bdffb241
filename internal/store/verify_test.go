package store

import (
	"bytes"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func flipByte(t *testing.T, path string, at func(n int) int) {
	t.Helper()
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	raw[at(len(raw))] ^= 0x01
	require.NoError(t, os.WriteFile(path, raw, 0o640))
}

func TestVerifyFindsAndQuarantinesCorruption(t *testing.T) {
	dir := t.TempDir()
	d := openStore(t, dir, Options{})
	good := putOrig(t, d, bytes.Repeat([]byte("good "), 50), []byte("m"))
	bad := putOrig(t, d, bytes.Repeat([]byte("bad "), 50), []byte("m"))
	require.NoError(t, d.PutRendition(ctx, good, keyN(1), nil, payloadN(1, 300)))
	require.NoError(t, d.PutRendition(ctx, good, keyN(2), nil, payloadN(2, 300)))

	rep, err := d.Verify(ctx)
	require.NoError(t, err)
	assert.Equal(t, VerifyReport{Originals: 2, Renditions: 2}, rep)

	flipByte(t, fileOf(dir, originalPath(bad)), func(n int) int { return n / 2 })
	flipByte(t, fileOf(dir, renditionPath(good, keyN(2))), func(n int) int { return n - 1 })

	rep, err = d.Verify(ctx)
	require.NoError(t, err)
	assert.Equal(t, 2, rep.Originals)
	assert.Equal(t, 2, rep.Renditions)
	assert.Equal(t, []string{bad}, rep.BadOriginals)
	assert.Equal(t, [][2]string{{good, keyN(2)}}, rep.BadRenditions)
	assert.Len(t, dirEntries(t, fileOf(dir, "quarantine")), 2)

	// What was bad is gone; what was good is still served.
	_, err = d.OpenRendition(ctx, good, keyN(2))
	require.ErrorIs(t, err, ErrNotExist)
	r, err := d.OpenRendition(ctx, good, keyN(1))
	require.NoError(t, err)
	assert.Equal(t, payloadN(1, 300), readAll(t, r))
	rep, err = d.Verify(ctx)
	require.NoError(t, err)
	assert.Equal(t, VerifyReport{Originals: 1, Renditions: 1}, rep)
}
