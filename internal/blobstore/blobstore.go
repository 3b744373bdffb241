// Package blobstore keeps the cache's shared objects in a gocloud.dev/blob bucket:
// originals, their metadata and renditions, for many servers at once.
//
// Object keys are built only from validated hex digests, under a fixed layout:
//
//	fic1/o/<id>          original bytes (verified: SHA-256 of the bytes is the id)
//	fic1/m/<id>          original metadata, framed
//	fic1/r/<id>/<key>    rendition metadata and payload, framed
//
// A framed object is: magic "FICB", version byte 1, 32-byte SHA-256 of the body, uint64
// big-endian body length, body. A rendition's body is a uint32 big-endian metadata length,
// the metadata and the payload. Every read is capped and verified before use, so a
// truncated, corrupted or oversized object is reported (ErrCorrupt, ErrTooLarge) and
// never returned. Writes are whole-object puts, which every bucket makes visible
// atomically. Transient failures are retried with backoff, a bounded number of times,
// under the caller's context, then reported as ErrUnavailable. Errors never contain a
// key, the bucket's URL or stored bytes.
//
// The package imports no bucket driver: the caller opens the bucket.
package blobstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"
)

var (
	// ErrNotExist reports an object that is not in the bucket.
	ErrNotExist = errors.New("blobstore: no such object")
	// ErrCorrupt reports an object whose bytes do not match its digest, or are truncated.
	ErrCorrupt = errors.New("blobstore: object failed verification")
	// ErrTooLarge reports an object larger than the read's cap; it was not read whole.
	ErrTooLarge = errors.New("blobstore: object over its size bound")
	// ErrInvalidKey reports an ID or key that is not 64 lowercase hex characters.
	ErrInvalidKey = errors.New("blobstore: invalid key")
	// ErrUnavailable reports a bucket that failed, after the retries, or refused the call.
	ErrUnavailable = errors.New("blobstore: bucket unavailable")
)

const (
	prefix  = "fic1/"
	magic   = "FICB"
	version = 1
	hdrLen  = len(magic) + 1 + sha256.Size + 8

	// MaxMeta bounds an original's or a rendition's metadata.
	MaxMeta = 64 << 10
)

// Options configures a Store.
type Options struct {
	// Attempts is how many times a transiently failing request is tried; 0 means 4.
	Attempts int
	// Backoff is the wait before the first retry, doubled for each later one; 0 means 50ms.
	Backoff time.Duration
	// Faults is for tests only: called before every request attempt with the operation's
	// name ("read", "write", "delete", "list", "exists"); a non-nil result fails that
	// attempt with it, as a failing bucket would.
	Faults func(op string) error
}

// Store is the shared tier. It is safe for concurrent use. It does not own the bucket.
type Store struct {
	b        *blob.Bucket
	attempts int
	backoff  time.Duration
	faults   func(op string) error
}

// New returns a Store on b.
func New(b *blob.Bucket, o Options) *Store {
	s := &Store{b: b, attempts: o.Attempts, backoff: o.Backoff, faults: o.Faults}
	if s.attempts <= 0 {
		s.attempts = 4
	}
	if s.backoff <= 0 {
		s.backoff = 50 * time.Millisecond
	}
	return s
}

// ValidKey reports whether s is 64 lowercase hex characters.
func ValidKey(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9') && !('a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func originalKey(id string) string       { return prefix + "o/" + id }
func metaKey(id string) string           { return prefix + "m/" + id }
func renditionPrefix(id string) string   { return prefix + "r/" + id + "/" }
func renditionKey(id, key string) string { return renditionPrefix(id) + key }

// frame returns body framed with its digest.
func frame(body ...[]byte) []byte {
	h := sha256.New()
	n := 0
	for _, b := range body {
		h.Write(b)
		n += len(b)
	}
	out := make([]byte, 0, hdrLen+n)
	out = append(out, magic...)
	out = append(out, version)
	out = h.Sum(out)
	out = binary.BigEndian.AppendUint64(out, uint64(n)) // #nosec G115 -- a length
	for _, b := range body {
		out = append(out, b...)
	}
	return out
}

// unframe verifies a framed object and returns its body.
func unframe(obj []byte) ([]byte, error) {
	if len(obj) < hdrLen || string(obj[:len(magic)]) != magic || obj[len(magic)] != version {
		return nil, fmt.Errorf("bad header: %w", ErrCorrupt)
	}
	sum := obj[len(magic)+1 : len(magic)+1+sha256.Size]
	n := binary.BigEndian.Uint64(obj[hdrLen-8 : hdrLen])
	body := obj[hdrLen:]
	if uint64(len(body)) != n {
		return nil, fmt.Errorf("length %d, header says %d: %w", len(body), n, ErrCorrupt)
	}
	got := sha256.Sum256(body)
	if !bytes.Equal(got[:], sum) {
		return nil, fmt.Errorf("digest mismatch: %w", ErrCorrupt)
	}
	return body, nil
}

// do runs f with retries: transient failures are tried again after a growing wait, as
// long as ctx allows, then reported as ErrUnavailable.
func (s *Store) do(ctx context.Context, op string, f func() error) error {
	wait := s.backoff
	var last error
	for i := 0; i < s.attempts; i++ {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("blobstore: %s: %w", op, err)
		}
		err := s.fault(op)
		if err == nil {
			err = f()
		}
		if err == nil {
			return nil
		}
		if cerr := ctx.Err(); cerr != nil {
			return fmt.Errorf("blobstore: %s: %w", op, cerr)
		}
		switch gcerrors.Code(err) {
		case gcerrors.NotFound:
			return fmt.Errorf("blobstore: %s: %w", op, ErrNotExist)
		case gcerrors.InvalidArgument, gcerrors.PermissionDenied, gcerrors.Unimplemented, gcerrors.FailedPrecondition:
			return fmt.Errorf("blobstore: %s: %w (%s)", op, ErrUnavailable, gcerrors.Code(err))
		}
		if errors.Is(err, ErrTooLarge) || errors.Is(err, ErrCorrupt) {
			return fmt.Errorf("blobstore: %s: %w", op, err)
		}
		last = err
		if i == s.attempts-1 {
			break
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("blobstore: %s: %w", op, ctx.Err())
		case <-t.C:
		}
		wait *= 2
	}
	return fmt.Errorf("blobstore: %s: %w after %d attempts (%s)", op, ErrUnavailable, s.attempts, gcerrors.Code(last))
}

func (s *Store) fault(op string) error {
	if s.faults == nil {
		return nil
	}
	return s.faults(op)
}

// read reads the object at k whole, refusing one over limit bytes without reading past it.
func (s *Store) read(ctx context.Context, k string, limit int64) ([]byte, error) {
	var data []byte
	err := s.do(ctx, "read", func() error {
		r, err := s.b.NewReader(ctx, k, nil)
		if err != nil {
			return err
		}
		defer r.Close()
		if r.Size() > limit {
			return ErrTooLarge
		}
		data, err = io.ReadAll(io.LimitReader(r, limit+1))
		if err != nil {
			if checksumMismatch(err) {
				return fmt.Errorf("driver checksum: %w", ErrCorrupt)
			}
			return err
		}
		if int64(len(data)) > limit {
			data = nil
			return ErrTooLarge
		}
		return nil
	})
	return data, err
}

// checksumMismatch reports a driver's own integrity check failing on a body (the S3
// client validates the object's stored checksum): the bytes are damaged, and reading them
// again cannot help. Drivers do not export a type for it, so the message is matched.
func checksumMismatch(err error) bool {
	return strings.Contains(strings.ToLower(err.Error()), "checksum did not match")
}

func (s *Store) write(ctx context.Context, k string, data []byte) error {
	return s.do(ctx, "write", func() error {
		return s.b.WriteAll(ctx, k, data, &blob.WriterOptions{ContentType: "application/octet-stream"})
	})
}

func (s *Store) exists(ctx context.Context, k string) (bool, error) {
	var ok bool
	err := s.do(ctx, "exists", func() error {
		var err error
		ok, err = s.b.Exists(ctx, k)
		return err
	})
	return ok, err
}

func (s *Store) remove(ctx context.Context, k string) error {
	err := s.do(ctx, "delete", func() error { return s.b.Delete(ctx, k) })
	if errors.Is(err, ErrNotExist) {
		return nil
	}
	return err
}

// PutOriginal stores an original (whose SHA-256 is id) and its metadata. An original
// already present is not written again; its metadata is (re)written only if missing.
// created reports whether this call stored the original. The original goes first, so a
// metadata object never names an absent original except during a Delete.
func (s *Store) PutOriginal(ctx context.Context, id string, data, meta []byte) (created bool, err error) {
	if !ValidKey(id) {
		return false, ErrInvalidKey
	}
	if len(meta) > MaxMeta {
		return false, fmt.Errorf("blobstore: metadata too large: %w", ErrUnavailable)
	}
	sum := sha256.Sum256(data)
	if hex.EncodeToString(sum[:]) != id {
		return false, fmt.Errorf("blobstore: original does not match its id: %w", ErrCorrupt)
	}
	have, err := s.exists(ctx, originalKey(id))
	if err != nil {
		return false, err
	}
	if !have {
		if err := s.write(ctx, originalKey(id), data); err != nil {
			return false, err
		}
	}
	haveMeta, err := s.exists(ctx, metaKey(id))
	if err != nil {
		return !have, err
	}
	if !haveMeta || !have {
		if err := s.write(ctx, metaKey(id), frame(meta)); err != nil {
			return !have, err
		}
	}
	return !have, nil
}

// Original reads the original id, at most limit bytes, and checks it against id.
func (s *Store) Original(ctx context.Context, id string, limit int64) ([]byte, error) {
	if !ValidKey(id) {
		return nil, ErrInvalidKey
	}
	data, err := s.read(ctx, originalKey(id), limit)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(data)
	if hex.EncodeToString(sum[:]) != id {
		return nil, fmt.Errorf("blobstore: original does not match its id: %w", ErrCorrupt)
	}
	return data, nil
}

// OriginalExists reports whether the original id is in the bucket (not verified).
func (s *Store) OriginalExists(ctx context.Context, id string) (bool, error) {
	if !ValidKey(id) {
		return false, ErrInvalidKey
	}
	return s.exists(ctx, originalKey(id))
}

// Meta reads the metadata of original id.
func (s *Store) Meta(ctx context.Context, id string) ([]byte, error) {
	if !ValidKey(id) {
		return nil, ErrInvalidKey
	}
	obj, err := s.read(ctx, metaKey(id), int64(hdrLen+MaxMeta))
	if err != nil {
		return nil, err
	}
	body, err := unframe(obj)
	if err != nil {
		return nil, fmt.Errorf("blobstore: metadata: %w", err)
	}
	return body, nil
}

// ReplaceMeta writes the metadata of original id. It returns ErrNotExist, and leaves no
// metadata behind, when the original is absent once the metadata is written: a node
// replacing metadata (a Purge, a rebuild) while another deletes the ID would otherwise
// bring back metadata naming a deleted original. Delete removes the original before the
// metadata, so a Delete either removed the original before the check below (the
// metadata just written is removed here) or removes the metadata after it.
func (s *Store) ReplaceMeta(ctx context.Context, id string, meta []byte) error {
	if !ValidKey(id) {
		return ErrInvalidKey
	}
	if len(meta) > MaxMeta {
		return fmt.Errorf("blobstore: metadata too large: %w", ErrUnavailable)
	}
	if err := s.write(ctx, metaKey(id), frame(meta)); err != nil {
		return err
	}
	ok, err := s.exists(ctx, originalKey(id))
	if err != nil {
		return err
	}
	if !ok {
		if err := s.remove(ctx, metaKey(id)); err != nil {
			return err
		}
		return fmt.Errorf("blobstore: replace metadata: %w", ErrNotExist)
	}
	return nil
}

// PutRendition writes the rendition key of id: one whole-object put. Renditions are
// named by what they contain, so nodes that write the same key write the same bytes.
func (s *Store) PutRendition(ctx context.Context, id, key string, meta, payload []byte) error {
	if !ValidKey(id) || !ValidKey(key) {
		return ErrInvalidKey
	}
	if len(meta) > MaxMeta {
		return fmt.Errorf("blobstore: metadata too large: %w", ErrUnavailable)
	}
	ml := binary.BigEndian.AppendUint32(nil, uint32(len(meta))) // #nosec G115 -- <= MaxMeta
	return s.write(ctx, renditionKey(id, key), frame(ml, meta, payload))
}

// Rendition reads the rendition key of id, refusing a payload over limit bytes, and
// returns its metadata and payload once verified.
func (s *Store) Rendition(ctx context.Context, id, key string, limit int64) (meta, payload []byte, err error) {
	if !ValidKey(id) || !ValidKey(key) {
		return nil, nil, ErrInvalidKey
	}
	obj, err := s.read(ctx, renditionKey(id, key), int64(hdrLen+4+MaxMeta)+limit)
	if err != nil {
		return nil, nil, err
	}
	body, err := unframe(obj)
	if err != nil {
		return nil, nil, fmt.Errorf("blobstore: rendition: %w", err)
	}
	if len(body) < 4 {
		return nil, nil, fmt.Errorf("blobstore: rendition: short body: %w", ErrCorrupt)
	}
	ml := binary.BigEndian.Uint32(body)
	if uint64(ml) > MaxMeta || uint64(ml) > uint64(len(body)-4) { // #nosec G115 -- len(body) >= 4: checked above
		return nil, nil, fmt.Errorf("blobstore: rendition: bad metadata length: %w", ErrCorrupt)
	}
	meta, payload = body[4:4+ml], body[4+ml:]
	if int64(len(payload)) > limit {
		return nil, nil, fmt.Errorf("blobstore: rendition: %w", ErrTooLarge)
	}
	return meta, payload, nil
}

// RemoveRendition deletes the rendition key of id (one found corrupt, before a rewrite).
func (s *Store) RemoveRendition(ctx context.Context, id, key string) error {
	if !ValidKey(id) || !ValidKey(key) {
		return ErrInvalidKey
	}
	return s.remove(ctx, renditionKey(id, key))
}

// Delete removes original id, its metadata and every rendition of it. It returns
// ErrNotExist when the original was absent (what else there was is removed all the same).
func (s *Store) Delete(ctx context.Context, id string) error {
	if !ValidKey(id) {
		return ErrInvalidKey
	}
	had, err := s.exists(ctx, originalKey(id))
	if err != nil {
		return err
	}
	// The original goes first: once it is gone, the entry is gone for every node.
	if err := s.remove(ctx, originalKey(id)); err != nil {
		return err
	}
	if err := s.remove(ctx, metaKey(id)); err != nil {
		return err
	}
	if err := s.RemoveRenditions(ctx, id); err != nil {
		return err
	}
	if !had {
		return fmt.Errorf("blobstore: delete: %w", ErrNotExist)
	}
	return nil
}

// RemoveRenditions deletes every rendition of id, and nothing else. Removing none is not
// an error.
func (s *Store) RemoveRenditions(ctx context.Context, id string) error {
	if !ValidKey(id) {
		return ErrInvalidKey
	}
	var keys []string
	err := s.do(ctx, "list", func() error {
		keys = keys[:0]
		it := s.b.List(&blob.ListOptions{Prefix: renditionPrefix(id)})
		for {
			o, err := it.Next(ctx)
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
			keys = append(keys, o.Key)
		}
	})
	if err != nil {
		return err
	}
	for _, k := range keys {
		if err := s.remove(ctx, k); err != nil {
			return err
		}
	}
	return nil
}

// QuarantineOriginal moves the original id aside (to fic1/q/<id>), for one that failed
// verification: it is kept for inspection, and a later put stores the original again.
func (s *Store) QuarantineOriginal(ctx context.Context, id string) error {
	if !ValidKey(id) {
		return ErrInvalidKey
	}
	err := s.do(ctx, "quarantine", func() error { return s.b.Copy(ctx, prefix+"q/"+id, originalKey(id), nil) })
	if err != nil && !errors.Is(err, ErrNotExist) {
		return err
	}
	return s.remove(ctx, originalKey(id))
}
