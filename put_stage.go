package fastimagecache

import (
	"context"

	"github.com/fastimagecache/fastimagecache/internal/store"
)

// originalStager is a storage that can write an original before it is proven and
// publish it after (the local disk): Put then overlaps the write and its fsync with the
// proving decode. A storage without it (a bucket) is written after the proof, whole.
type originalStager interface {
	StageOriginal(ctx context.Context, id string, data []byte) (stagedOriginal, error)
}

// stagedOriginal is an original written and synced but not visible: Commit publishes it
// with its metadata (with PutOriginal's guarantees), Discard removes it.
type stagedOriginal interface {
	Commit(ctx context.Context, meta []byte) (created bool, err error)
	Discard()
}

func (s diskStorage) StageOriginal(ctx context.Context, id string, data []byte) (stagedOriginal, error) {
	st, err := s.d.StageOriginal(ctx, id, data)
	if err != nil {
		return nil, diskErr(err)
	}
	return diskStaged{st}, nil
}

// diskStaged maps a staged original's errors as diskStorage does.
type diskStaged struct{ s *store.StagedOriginal }

func (s diskStaged) Commit(ctx context.Context, meta []byte) (bool, error) {
	created, err := s.s.Commit(ctx, meta)
	return created, diskErr(err)
}

func (s diskStaged) Discard() { s.s.Discard() }

// stage is an original being written in the background while its Put proves it.
type stage struct {
	done   chan struct{}
	staged stagedOriginal // valid once done is closed
	err    error
}

// startStage starts writing data under id to st, or returns nil when the storage cannot
// stage (the Put then stores after the proof, as before).
func (c *Cache) startStage(ctx context.Context, id ID, data []byte) *stage {
	st, ok := c.store.(originalStager)
	if !ok || c.hooks.noStage {
		return nil
	}
	s := &stage{done: make(chan struct{})}
	go func() {
		defer close(s.done)
		s.staged, s.err = st.StageOriginal(ctx, string(id), data)
	}()
	return s
}

// discard waits for the write and removes what it wrote. A nil stage does nothing.
func (s *stage) discard() {
	if s == nil {
		return
	}
	<-s.done
	if s.err == nil {
		s.staged.Discard()
	}
}

// commit waits for the write and publishes it with meta.
func (s *stage) commit(ctx context.Context, meta []byte) (bool, error) {
	<-s.done
	if s.err != nil {
		return false, s.err
	}
	return s.staged.Commit(ctx, meta)
}
