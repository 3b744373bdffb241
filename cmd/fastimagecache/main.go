// Command fastimagecache runs the fastimagecache library from the command line.
//
// Usage:
//
//	fastimagecache [demo]                       ingest a built-in photo and a set of hostile files, print what happened
//	fastimagecache put [-dir D] FILE...          store images, print their IDs
//	fastimagecache get [-dir D] [-w N] [-h N] [-fit contain|cover] [-format jpeg|png|gif] [-q N] -o OUT ID
//	fastimagecache stat [-dir D] ID
//
// The store directory defaults to fastimagecache under the user's cache directory.
// Exit codes: 0 success, 1 a request failed (rejected input, unknown ID), 2 bad usage.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/fastimagecache/fastimagecache"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run dispatches a subcommand and returns the process exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmd := "demo"
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "demo":
		err = demo(ctx, args, stdout)
	case "put":
		err = putCmd(ctx, args, stdout)
	case "get":
		err = getCmd(ctx, args, stdout)
	case "stat":
		err = statCmd(ctx, args, stdout)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "fastimagecache: unknown command %q\n%s", cmd, usage)
		return 2
	}
	var ue usageError
	switch {
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "fastimagecache %s: %v\n", cmd, err)
		return 2
	case errors.Is(err, flag.ErrHelp):
		return 0
	case err != nil:
		fmt.Fprintf(stderr, "fastimagecache %s: %v\n", cmd, err)
		return 1
	}
	return 0
}

const usage = `usage:
  fastimagecache [demo]                  ingest a built-in photo and hostile files, print the outcome
  fastimagecache put [-dir D] FILE...     store images, print their IDs
  fastimagecache get [-dir D] [-w N] [-h N] [-fit contain|cover] [-format jpeg|png|gif] [-q N] -o OUT ID
  fastimagecache stat [-dir D] ID
Exit codes: 0 success, 1 a request failed, 2 bad usage.
`

type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func defaultDir() string {
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	return filepath.Join(base, "fastimagecache")
}

func openCache(dir string) (*fastimagecache.Cache, error) {
	return fastimagecache.New(dir, fastimagecache.WithLimits(fastimagecache.Limits{
		Formats: []fastimagecache.Format{fastimagecache.JPEG, fastimagecache.PNG, fastimagecache.GIF,
			fastimagecache.WebP, fastimagecache.BMP, fastimagecache.TIFF},
	}))
}

func putCmd(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("put", flag.ContinueOnError)
	dir := fs.String("dir", defaultDir(), "store directory")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usageError{"no files given"}
	}
	c, err := openCache(*dir)
	if err != nil {
		return err
	}
	defer c.Close()
	var failed error
	for _, name := range fs.Args() {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		info, err := c.Put(ctx, f)
		f.Close()
		if err != nil {
			fmt.Fprintf(stdout, "%s\trejected: %v\n", name, err)
			failed = errors.New("some files were rejected")
			continue
		}
		fmt.Fprintf(stdout, "%s\t%s\t%s %dx%d\n", name, info.ID, info.Format, info.Width, info.Height)
	}
	return failed
}

func getCmd(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("get", flag.ContinueOnError)
	dir := fs.String("dir", defaultDir(), "store directory")
	w := fs.Int("w", 0, "width (0: unconstrained)")
	h := fs.Int("h", 0, "height (0: unconstrained)")
	fit := fs.String("fit", "contain", "contain or cover")
	format := fs.String("format", "", "jpeg, png or gif (default: from the source)")
	q := fs.Int("q", 0, "JPEG quality 1..100 (0: 82)")
	out := fs.String("o", "", "output file (required)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 || *out == "" {
		return usageError{"need one ID and -o OUT"}
	}
	id, err := fastimagecache.ParseID(fs.Arg(0))
	if err != nil {
		return usageError{err.Error()}
	}
	spec := fastimagecache.Spec{Width: *w, Height: *h, Format: fastimagecache.Format(*format), Quality: *q}
	switch *fit {
	case "contain":
	case "cover":
		spec.Fit = fastimagecache.Cover
	default:
		return usageError{"-fit must be contain or cover"}
	}
	c, err := openCache(*dir)
	if err != nil {
		return err
	}
	defer c.Close()
	r, err := c.Get(ctx, id, spec)
	if err != nil {
		return err
	}
	defer r.Close()
	f, err := os.Create(*out)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s\t%s %dx%d %d bytes\n", *out, r.ContentType, r.Width, r.Height, r.Size)
	return nil
}

func statCmd(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("stat", flag.ContinueOnError)
	dir := fs.String("dir", defaultDir(), "store directory")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError{"need one ID"}
	}
	id, err := fastimagecache.ParseID(fs.Arg(0))
	if err != nil {
		return usageError{err.Error()}
	}
	c, err := openCache(*dir)
	if err != nil {
		return err
	}
	defer c.Close()
	info, err := c.Stat(ctx, id)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "id\t%s\nformat\t%s\nwidth\t%d\nheight\t%d\nframes\t%d\nsize\t%d\n",
		info.ID, info.Format, info.Width, info.Height, info.Frames, info.Size)
	return nil
}
