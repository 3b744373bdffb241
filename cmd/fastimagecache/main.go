// Command fastimagecache runs the fastimagecache library from the command line.
//
// Usage:
//
//	fastimagecache [demo]   ingest a built-in photo and a set of hostile files, print what happened
//	fastimagecache serve    serve an upload page, the upload API and renditions
//	fastimagecache put      store image files, print their IDs
//	fastimagecache get      write a rendition of a stored image to a file
//	fastimagecache stat     print what is known of a stored image
//	fastimagecache verify   re-hash every stored entry; quarantine and report mismatches
//	fastimagecache gc       trim renditions to a quota and clean up after crashes
//	fastimagecache bench    compare thumbnail speed and quality with a naive pipeline and vipsthumbnail
//
// Every command takes -h. The store directory (-dir) defaults to fastimagecache under the
// user's cache directory. One process at a time may have a directory open: while serve
// runs on it, the other commands fail at once and say so.
//
// Exit codes: 0 success; 1 a request failed (a rejected input, an unsupported format, an
// unknown ID, a corrupt entry found by verify, the directory in use); 2 bad usage (an
// unknown command or flag, a missing or malformed argument). -h is help everywhere.
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
	fastimagecache.RunWorkerIfRequested() // serve -isolate re-executes this program as its decode workers
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `usage: fastimagecache [command] [flags]

commands:
  demo     ingest a built-in photo and hostile files, print the outcome (the default)
  serve    serve an upload page, the upload API and renditions
  put      store image files, print their IDs
  get      write a rendition of a stored image to a file
  stat     print what is known of a stored image
  verify   re-hash every stored entry; quarantine and report mismatches
  gc       trim renditions to a quota and clean up after crashes
  bench    compare thumbnail speed and quality with a naive pipeline and vipsthumbnail

Run 'fastimagecache COMMAND -h' for a command's flags.
Exit codes: 0 success, 1 a request failed, 2 bad usage.
`

// run dispatches a subcommand and returns the process exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmd := "demo"
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	commands := map[string]func(context.Context, []string, io.Writer) error{
		"demo": demo, "serve": serve, "bench": bench, "put": putCmd, "get": getCmd, "stat": statCmd, "verify": verifyCmd, "gc": gcCmd,
	}
	f, ok := commands[cmd]
	switch {
	case cmd == "-h" || cmd == "-help" || cmd == "--help" || cmd == "help":
		fmt.Fprint(stdout, usage)
		return 0
	case !ok:
		fmt.Fprintf(stderr, "fastimagecache: unknown command %q\n%s", cmd, usage)
		return 2
	}
	err := f(ctx, args, stdout)
	closeBuckets()
	var ue usageError
	switch {
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "fastimagecache %s: %v\n", cmd, err)
		return 2
	case err != nil:
		fmt.Fprintf(stderr, "fastimagecache %s: %v\n", cmd, err)
		return 1
	}
	return 0
}

type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// newFlagSet returns a flag set whose -h prints the command's synopsis and description.
// Flag errors become usage errors (exit code 2).
func newFlagSet(name, synopsis, description string, out io.Writer) *flagSet {
	fl := flag.NewFlagSet(name, flag.ContinueOnError)
	fl.SetOutput(out)
	fl.Usage = func() {
		fmt.Fprintf(out, "usage: fastimagecache %s %s\n\n%s\n\nflags:\n", name, synopsis, description)
		fl.PrintDefaults()
	}
	return &flagSet{fl}
}

type flagSet struct{ *flag.FlagSet }

func (f *flagSet) Parse(args []string) error {
	err := f.FlagSet.Parse(args)
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		return usageError{err.Error()}
	}
	return err
}

func defaultDir() string {
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	return filepath.Join(base, "fastimagecache")
}

var allFormats = []fastimagecache.Format{fastimagecache.JPEG, fastimagecache.PNG, fastimagecache.GIF,
	fastimagecache.WebP, fastimagecache.BMP, fastimagecache.TIFF}

func openCache(ctx context.Context, dir, bucket string, opts ...fastimagecache.Option) (*fastimagecache.Cache, error) {
	bo, err := bucketOption(ctx, bucket)
	if err != nil {
		return nil, err
	}
	opts = append([]fastimagecache.Option{fastimagecache.WithLimits(fastimagecache.Limits{Formats: allFormats})}, append(bo, opts...)...)
	return newCache(dir, opts...)
}

// errDirInUse is what every command says when another process has the store open.
var errDirInUse = errors.New("the store directory is in use by another fastimagecache process " +
	"(a running `serve`, or another command): stop it, or pass a different -dir")

// newCache opens the store, turning the library's ErrLocked into a message that says what
// to do.
func newCache(dir string, opts ...fastimagecache.Option) (*fastimagecache.Cache, error) {
	c, err := fastimagecache.New(dir, opts...)
	if errors.Is(err, fastimagecache.ErrLocked) {
		return nil, errDirInUse
	}
	return c, err
}

func putCmd(ctx context.Context, args []string, stdout io.Writer) error {
	fl := newFlagSet("put", "[-dir D] [-bucket URL] FILE...", "Store image files (all six formats accepted) and print each one's ID, or why it was rejected.", stdout)
	dir := fl.String("dir", defaultDir(), "store directory")
	bucket := fl.String("bucket", "", bucketUsage)
	if err := fl.Parse(args); err != nil {
		return err
	}
	if fl.NArg() == 0 {
		return usageError{"no files given"}
	}
	c, err := openCache(ctx, *dir, *bucket)
	if err != nil {
		return err
	}
	defer c.Close()
	var failed error
	for _, name := range fl.Args() {
		f, err := os.Open(name) // #nosec G304 -- put reads the files the operator names on the command line
		if err != nil {
			fmt.Fprintf(stdout, "%s\tnot read: %v\n", name, err)
			failed = errors.New("some files were not stored")
			continue
		}
		info, err := c.Put(ctx, f)
		_ = f.Close() // read-only
		if err != nil {
			fmt.Fprintf(stdout, "%s\trejected: %v\n", name, err)
			failed = errors.New("some files were not stored")
			continue
		}
		fmt.Fprintf(stdout, "%s\t%s\t%s %dx%d\n", name, info.ID, info.Format, info.Width, info.Height)
	}
	return failed
}

func getCmd(ctx context.Context, args []string, stdout io.Writer) error {
	fl := newFlagSet("get", "[-dir D] [-bucket URL] [-width N | -w N] [-height N] [-fit contain|cover] [-format jpeg|png|gif|webp|avif] [-q N] -o OUT ID",
		"Write a rendition of a stored image to OUT. The sizes are of the image as shown, after its EXIF\n"+
			"orientation. A request the library rejects (an unknown ID, an unsupported output format, a size or\n"+
			"quality out of range) exits 1; a malformed command line exits 2.", stdout)
	dir := fl.String("dir", defaultDir(), "store directory")
	bucket := fl.String("bucket", "", bucketUsage)
	w := fl.Int("width", 0, "width in pixels (0: unconstrained)")
	fl.IntVar(w, "w", 0, "short for -width")
	h := fl.Int("height", 0, "height in pixels (0: unconstrained)")
	fit := fl.String("fit", "contain", "contain or cover")
	format := fl.String("format", "", "jpeg, png, gif, webp or avif (default: from the source)")
	q := fl.Int("q", 0, "JPEG quality 1..100 (0: 82)")
	out := fl.String("o", "", "output file (required)")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if fl.NArg() != 1 || *out == "" {
		return usageError{"need one ID and -o OUT"}
	}
	id, err := fastimagecache.ParseID(fl.Arg(0))
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
	c, err := openCache(ctx, *dir, *bucket)
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
		_ = f.Close() // the copy error is the one to report
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s\t%s %dx%d %d bytes\n", *out, r.ContentType, r.Width, r.Height, r.Size)
	return nil
}

func statCmd(ctx context.Context, args []string, stdout io.Writer) error {
	fl := newFlagSet("stat", "[-dir D] [-bucket URL] ID", "Print the format, size and frames of a stored image.", stdout)
	dir := fl.String("dir", defaultDir(), "store directory")
	bucket := fl.String("bucket", "", bucketUsage)
	if err := fl.Parse(args); err != nil {
		return err
	}
	if fl.NArg() != 1 {
		return usageError{"need one ID"}
	}
	id, err := fastimagecache.ParseID(fl.Arg(0))
	if err != nil {
		return usageError{err.Error()}
	}
	c, err := openCache(ctx, *dir, *bucket)
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

func verifyCmd(ctx context.Context, args []string, stdout io.Writer) error {
	fl := newFlagSet("verify", "[-dir D] [-bucket URL]",
		"Re-hash every stored original and rendition. Mismatches are moved to the store's quarantine folder and listed; the exit code is 1 if any was found.", stdout)
	dir := fl.String("dir", defaultDir(), "store directory")
	bucket := fl.String("bucket", "", bucketUsage)
	if err := fl.Parse(args); err != nil {
		return err
	}
	c, err := openCache(ctx, *dir, *bucket)
	if err != nil {
		return err
	}
	defer c.Close()
	rep, err := c.Verify(ctx)
	for _, id := range rep.BadOriginals {
		fmt.Fprintf(stdout, "corrupt original\t%s\tquarantined\n", id)
	}
	for _, b := range rep.BadRenditions {
		fmt.Fprintf(stdout, "corrupt rendition\t%s/%s\tquarantined\n", b.ID, b.Key)
	}
	fmt.Fprintf(stdout, "checked %d originals, %d renditions: %d corrupt\n",
		rep.Originals, rep.Renditions, len(rep.BadOriginals)+len(rep.BadRenditions))
	if err != nil {
		return err
	}
	if len(rep.BadOriginals)+len(rep.BadRenditions) > 0 {
		return errors.New("corrupt entries found")
	}
	return nil
}

func gcCmd(ctx context.Context, args []string, stdout io.Writer) error {
	fl := newFlagSet("gc", "[-dir D] [-bucket URL] [-max-store-bytes N]",
		"Open the store, which removes temporary files left by a crash and orphaned entries, and evict the least recently used renditions down to the quota. Originals are never removed.", stdout)
	dir := fl.String("dir", defaultDir(), "store directory")
	bucket := fl.String("bucket", "", bucketUsage)
	quota := fl.Int64("max-store-bytes", 0, "rendition quota in bytes (0: the 1 GiB default)")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if *quota < 0 {
		return usageError{"-max-store-bytes must not be negative"}
	}
	c, err := openCache(ctx, *dir, *bucket, fastimagecache.WithMaxStoreBytes(*quota))
	if err != nil {
		return err
	}
	defer c.Close()
	s := c.Stats()
	fmt.Fprintf(stdout, "originals %d, renditions %d, store bytes %d, renditions evicted %d\n",
		s.Originals, s.Renditions, s.StoreBytes, s.Evictions)
	return ctx.Err()
}
