package ctxio

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestReaderStopsWhenContextDone(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	r := NewReader(ctx, bytes.NewReader([]byte("abcdef")))

	buf := make([]byte, 2)
	n, err := r.Read(buf)
	require.NoError(t, err)
	require.Equal(t, "ab", string(buf[:n]))
	b, err := r.ReadByte()
	require.NoError(t, err)
	require.Equal(t, byte('c'), b)

	cancel()
	n, err = r.Read(buf)
	require.ErrorIs(t, err, context.Canceled)
	require.Zero(t, n)
	_, err = r.ReadByte()
	require.ErrorIs(t, err, context.Canceled)
}

func TestReaderPassesEOF(t *testing.T) {
	r := NewReader(t.Context(), bytes.NewReader(nil))
	_, err := r.Read(make([]byte, 1))
	require.ErrorIs(t, err, io.EOF)
	_, err = r.ReadByte()
	require.ErrorIs(t, err, io.EOF)
}
