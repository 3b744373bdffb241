// Package ctxio makes a reader stop when its context is done.
//
// Decoders take an io.Reader and no context. Feeding them a [Reader] means that a cancelled
// or timed-out decode fails at its next read instead of running to the end.
package ctxio

import (
	"context"
	"io"
)

// Reader wraps an io.Reader and fails every Read once its context is done.
type Reader struct {
	ctx context.Context
	r   io.Reader
}

// NewReader returns a Reader that reads from r until ctx is done.
func NewReader(ctx context.Context, r io.Reader) *Reader { return &Reader{ctx: ctx, r: r} }

// Read returns ctx.Err() without reading once the context is done; otherwise it reads
// from the underlying reader.
func (r *Reader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.r.Read(p)
}

// ReadByte reads one byte, so decoders that look for an io.ByteReader (image/gif,
// image/jpeg through bufio) need no extra buffering layer. It fails once ctx is done.
func (r *Reader) ReadByte() (byte, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	if br, ok := r.r.(io.ByteReader); ok {
		return br.ReadByte()
	}
	var b [1]byte
	if _, err := io.ReadFull(r.r, b[:]); err != nil {
		return 0, err
	}
	return b[0], nil
}
