package main

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"gocloud.dev/blob"
	_ "gocloud.dev/blob/azureblob" // azblob://container
	_ "gocloud.dev/blob/fileblob"  // file:///path
	_ "gocloud.dev/blob/gcsblob"   // gs://bucket
	_ "gocloud.dev/blob/s3blob"    // s3://bucket?endpoint=...&use_path_style=true

	"github.com/fastimagecache/fastimagecache"
)

const bucketUsage = "shared bucket for many servers, a gocloud.dev URL (s3://, gs://, azblob://, file://); " +
	"dir stays this node's local tier. Empty: local only"

// openBuckets are the buckets this run opened; run closes them after the commands' Caches.
var openBuckets struct {
	sync.Mutex
	list []*blob.Bucket
}

func closeBuckets() {
	openBuckets.Lock()
	defer openBuckets.Unlock()
	for _, b := range openBuckets.list {
		_ = b.Close()
	}
	openBuckets.list = nil
}

// bucketOption opens the bucket named by rawURL ("" means none) and returns WithBucket
// for it. An error names the scheme, never the URL (it may hold a secret).
func bucketOption(ctx context.Context, rawURL string) ([]fastimagecache.Option, error) {
	if rawURL == "" {
		return nil, nil
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, usageError{"-bucket: not a URL"}
	}
	b, err := blob.OpenBucket(ctx, rawURL)
	if err != nil {
		// The driver's message may quote the URL, which may carry a secret: cut it out.
		msg := err.Error()
		for _, form := range []string{strconv.Quote(rawURL), rawURL} {
			msg = strings.ReplaceAll(msg, form, "<bucket URL>")
		}
		return nil, fmt.Errorf("open bucket (%s://): %s", u.Scheme, msg)
	}
	openBuckets.Lock()
	openBuckets.list = append(openBuckets.list, b)
	openBuckets.Unlock()
	return []fastimagecache.Option{fastimagecache.WithBucket(b)}, nil
}
