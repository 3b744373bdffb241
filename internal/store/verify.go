package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"sort"
)

// VerifyReport is the outcome of Verify. IDs and keys are full hex digests.
type VerifyReport struct {
	Originals     int         // originals checked
	Renditions    int         // renditions checked
	BadOriginals  []string    // IDs whose bytes no longer match; quarantined
	BadRenditions [][2]string // {id, key} pairs that failed verification; quarantined
}

// Verify re-reads every original and rendition and checks each against its digest.
// Mismatches are moved to quarantine/ and logged, exactly as Original and OpenRendition do
// when they meet one; they are listed in the report. Verify does not count as a use of a
// rendition for the LRU order. It stops early, with what it has, when ctx is done.
func (d *Disk) Verify(ctx context.Context) (VerifyReport, error) {
	const op = "verify"
	var rep VerifyReport
	if err := d.begin(ctx, op); err != nil {
		return rep, err
	}
	ids, err := d.listOriginals()
	if err != nil {
		return rep, err
	}
	for _, id := range ids {
		if err := ctx.Err(); err != nil {
			return rep, fmt.Errorf("store: %s: %w", op, err)
		}
		_, err := d.Original(ctx, id)
		switch {
		case err == nil:
			rep.Originals++
		case errors.Is(err, ErrCorrupt):
			rep.Originals++
			rep.BadOriginals = append(rep.BadOriginals, id)
		case errors.Is(err, ErrNotExist): // deleted meanwhile
		default:
			return rep, err
		}
	}

	d.mu.Lock()
	var pairs [][2]string
	for id, keys := range d.rend {
		for key := range keys {
			pairs = append(pairs, [2]string{id, key})
		}
	}
	d.mu.Unlock()
	sort.Slice(pairs, func(i, j int) bool { return pairs[i][0]+pairs[i][1] < pairs[j][0]+pairs[j][1] })
	for _, p := range pairs {
		if err := ctx.Err(); err != nil {
			return rep, fmt.Errorf("store: %s: %w", op, err)
		}
		bad, err := d.verifyRenditionFile(p[0], p[1])
		if err != nil {
			return rep, err
		}
		if bad == nil {
			continue // gone meanwhile
		}
		rep.Renditions++
		if *bad {
			rep.BadRenditions = append(rep.BadRenditions, p)
		}
	}
	return rep, nil
}

// verifyRenditionFile checks one rendition file without touching its LRU position. It
// returns nil when the file is gone, else whether it was bad (and is now quarantined).
func (d *Disk) verifyRenditionFile(id, key string) (*bool, error) {
	const op = "verify rendition"
	name := renditionPath(id, key)
	f, err := d.root.Open(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fsErr(op, id, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fsErr(op, id, err)
	}
	r, reason, err := verifyRendition(f, fi)
	if err != nil {
		return nil, fsErr(op, id, err)
	}
	bad := reason != ""
	if bad {
		d.rejectRendition(id, key, name, fi, reason)
	} else {
		_ = r.Close()
	}
	return &bad, nil
}

// listOriginals returns the IDs of the originals on disk, sorted.
func (d *Disk) listOriginals() ([]string, error) {
	shards, err := readDirNames(d.root, dirOriginals)
	if err != nil {
		return nil, fmt.Errorf("store: list originals: %w", err)
	}
	var ids []string
	for _, shard := range shards {
		if !validShard(shard) {
			continue
		}
		names, err := readDirNames(d.root, dirOriginals+"/"+shard)
		if err != nil {
			return nil, fmt.Errorf("store: list originals: %w", err)
		}
		for _, name := range names {
			id, ext, ok := splitName(name)
			if ok && ext == "img" && validKey(id) && id[:2] == shard {
				ids = append(ids, id)
			}
		}
	}
	sort.Strings(ids)
	return ids, nil
}
