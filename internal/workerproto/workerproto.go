// Package workerproto is the wire protocol between a fastimagecache host process and its
// decode workers: small, length-prefixed binary frames over the worker's stdin and stdout.
//
// # Conversation
//
// The host writes one [Setup]; the worker restricts itself and answers with one [Hello].
// Then, one at a time, the host writes a [Request]; the worker reads all of it, writes an
// Ack carrying its Seq before it looks at the data, and answers with the [Response] that
// carries the same Seq. A worker that dies before its Ack never started the job, which
// may then go to another worker; one that dies after it died of the job. The host closes
// the worker's stdin to stop it.
//
// # Frames
//
// A frame is a 4-byte big-endian payload length followed by the payload, whose first byte
// is the frame type. Integers are big-endian, 8 bytes; strings and byte slices are a 4-byte
// length and the bytes. Every reader takes a cap on the frame size and refuses a larger
// frame before allocating anything; payload buffers grow with the bytes that actually
// arrive, so a peer that announces a large frame and sends little costs little. A decoder
// checks every length against what is left of its frame, and fails with [ErrMalformed]
// on the first inconsistency, returning no partial values.
//
// The host trusts nothing a worker sends: a worker may have been taken over by the image it
// was decoding. gob or JSON are not used because neither bounds what a hostile peer can
// make the reader allocate.
package workerproto

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"time"
)

// Version is the protocol version. Setup and Hello carry it; a peer that speaks another
// version is refused.
const Version = 1

// Frame types: the first byte of every payload.
const (
	typeSetup    byte = 'S'
	typeHello    byte = 'H'
	typeRequest  byte = 'Q'
	typeAck      byte = 'A'
	typeResponse byte = 'R'
)

// Caps on the frames whose size does not depend on an image.
const (
	// MaxSetupBytes bounds a Setup frame.
	MaxSetupBytes = 4 << 10
	// MaxHelloBytes bounds a Hello frame.
	MaxHelloBytes = 4 << 10
	// MaxMessageBytes bounds the Message of a Response and the texts of a Hello, in bytes.
	MaxMessageBytes = 512
	// MaxFormats bounds Limits.Formats.
	MaxFormats = 16
	// RequestOverhead is the most a Request frame adds to its Data: the length prefix and
	// every field but the data, with MaxFormats formats of up to 16 bytes.
	RequestOverhead = 4 << 10
	// ResponseOverhead is the most a Response frame adds to its Data.
	ResponseOverhead = 2 << 10
	// maxShortString bounds a format name.
	maxShortString = 16
)

var (
	// ErrTooLarge is returned when a frame is larger than the reader's cap.
	ErrTooLarge = errors.New("workerproto: frame too large")
	// ErrMalformed is returned when a frame does not parse: a wrong type or version, a length
	// past the end of its frame, a value out of range, or bytes left over.
	ErrMalformed = errors.New("workerproto: malformed frame")
)

// Kind says what a Request asks for.
type Kind uint8

// The kinds of job.
const (
	// KindRender asks for the rendition of Data under Spec.
	KindRender Kind = 1
	// KindProve asks for a full decode of Data (every frame), to prove it is sound; the
	// Response carries no data.
	KindProve Kind = 2
)

// Code is a Response's outcome. The host maps each one back to its own sentinel error.
type Code uint8

// The outcomes.
const (
	OK                Code = 0
	Corrupt           Code = 1 // the decoder rejected the data, or panicked
	Dimensions        Code = 2 // sizes, counts or memory over the limits
	UnsupportedFormat Code = 3 // not an accepted format
	InvalidSpec       Code = 4 // the spec cannot be rendered (an unknown output format)
	TooLarge          Code = 5 // more bytes than Limits.MaxBytes
	Deadline          Code = 6 // the job's Timeout expired
	Internal          Code = 7 // anything else
	maxCode                = Internal
)

// Setup configures a worker before it reads any untrusted byte.
type Setup struct {
	Version int64
	// MemoryLimit is the worker's Go heap limit (runtime/debug.SetMemoryLimit) and, on
	// Linux, how far its address space may grow beyond its start-up size, in bytes.
	MemoryLimit int64
	// CPUTime is the CPU time the worker may use over its whole life (RLIMIT_CPU).
	CPUTime time.Duration
	// MaxRequest bounds each Request frame, in bytes.
	MaxRequest int64
	// RequireLandlock makes the worker refuse to serve when Landlock cannot restrict both
	// its filesystem and its TCP access.
	RequireLandlock bool
}

// Hello is a worker's answer to Setup: how far it could restrict itself.
type Hello struct {
	Version int64
	// Landlock is the Landlock ABI version the worker enforces; 0 means none.
	Landlock int64
	// Warnings lists, in one line, what could not be restricted. Empty when all was.
	Warnings string
	// Error is set when the worker refuses to serve; it exits after sending this Hello.
	Error string
}

// Limits are the header limits a worker checks the input against again, with the same
// meaning and units as the host's.
type Limits struct {
	MaxBytes       int64
	MaxWidth       int64
	MaxHeight      int64
	MaxPixels      int64
	MaxFrames      int64
	MaxTotalPixels int64
	Formats        []string
}

// Spec is a canonical rendition spec.
type Spec struct {
	Width, Height int64
	Fit           int64
	Format        string
	Quality       int64
	Enlarge       bool
	Gravity       int64
	Focus         [2]int64 // thousandths of the oriented width and height; 0, 0: none
}

// Request is one job.
type Request struct {
	Seq     uint64
	Kind    Kind
	Timeout time.Duration // the job's budget of wall time, counted from when it is read
	Limits  Limits
	Spec    Spec   // for KindRender
	Data    []byte // the original, untrusted bytes
}

// Response is a job's outcome. On OK, a KindRender Response carries the encoded rendition
// with its format and size; every other Response carries no Data.
type Response struct {
	Seq     uint64
	Code    Code
	Message string // short, for people; never trusted, never shown to clients
	Retire  bool   // the worker exits after this response (it recovered a panic)
	Format  string
	Width   int64
	Height  int64
	// Placeholder and Color answer a proving decode: the image's placeholder (a base64
	// ThumbHash and a "#rrggbb" colour, as the host stores them), each at most
	// MaxPlaceholderBytes; the host checks their form.
	Placeholder string
	Color       string
	Data        []byte
}

// MaxPlaceholderBytes bounds Response.Placeholder and Response.Color.
const MaxPlaceholderBytes = 64

// WriteSetup writes s as one frame.
func WriteSetup(w io.Writer, s Setup) error {
	var e encoder
	e.u8(typeSetup)
	e.i64(s.Version)
	e.i64(s.MemoryLimit)
	e.i64(int64(s.CPUTime))
	e.i64(s.MaxRequest)
	e.bool(s.RequireLandlock)
	return e.write(w)
}

// ReadSetup reads one Setup frame.
func ReadSetup(r io.Reader) (Setup, error) {
	d, err := readFrame(r, MaxSetupBytes, typeSetup)
	if err != nil {
		return Setup{}, err
	}
	s := Setup{
		Version:     d.i64(),
		MemoryLimit: d.i64(),
		CPUTime:     time.Duration(d.i64()),
		MaxRequest:  d.i64(),
	}
	s.RequireLandlock = d.bool()
	if err := d.finish(); err != nil {
		return Setup{}, err
	}
	if s.Version != Version {
		return Setup{}, fmt.Errorf("setup for protocol version %d, want %d: %w", s.Version, Version, ErrMalformed)
	}
	if s.MemoryLimit <= 0 || s.CPUTime <= 0 || s.MaxRequest <= 0 {
		return Setup{}, fmt.Errorf("setup with a limit of zero or less: %w", ErrMalformed)
	}
	return s, nil
}

// WriteHello writes h as one frame. Its texts are cut to MaxMessageBytes.
func WriteHello(w io.Writer, h Hello) error {
	var e encoder
	e.u8(typeHello)
	e.i64(h.Version)
	e.i64(h.Landlock)
	e.str(cut(h.Warnings, MaxMessageBytes))
	e.str(cut(h.Error, MaxMessageBytes))
	return e.write(w)
}

// ReadHello reads one Hello frame.
func ReadHello(r io.Reader) (Hello, error) {
	d, err := readFrame(r, MaxHelloBytes, typeHello)
	if err != nil {
		return Hello{}, err
	}
	h := Hello{Version: d.i64(), Landlock: d.i64()}
	h.Warnings = d.str(MaxMessageBytes)
	h.Error = d.str(MaxMessageBytes)
	if err := d.finish(); err != nil {
		return Hello{}, err
	}
	if h.Version != Version {
		return Hello{}, fmt.Errorf("worker speaks protocol version %d, want %d: %w", h.Version, Version, ErrMalformed)
	}
	return h, nil
}

// WriteRequest writes q as one frame; q.Data is written without being copied.
func WriteRequest(w io.Writer, q *Request) error {
	if len(q.Limits.Formats) > MaxFormats {
		return fmt.Errorf("%d formats: %w", len(q.Limits.Formats), ErrMalformed)
	}
	var e encoder
	e.u8(typeRequest)
	e.u64(q.Seq)
	e.u8(byte(q.Kind))
	e.i64(int64(q.Timeout))
	l := q.Limits
	for _, v := range []int64{l.MaxBytes, l.MaxWidth, l.MaxHeight, l.MaxPixels, l.MaxFrames, l.MaxTotalPixels} {
		e.i64(v)
	}
	e.u32(uint32(len(l.Formats))) // #nosec G115 -- len <= MaxFormats: checked at the top
	for _, f := range l.Formats {
		if len(f) > maxShortString {
			return fmt.Errorf("format name of %d bytes: %w", len(f), ErrMalformed)
		}
		e.str(f)
	}
	s := q.Spec
	e.i64(s.Width)
	e.i64(s.Height)
	e.i64(s.Fit)
	if len(s.Format) > maxShortString {
		return fmt.Errorf("format name of %d bytes: %w", len(s.Format), ErrMalformed)
	}
	e.str(s.Format)
	e.i64(s.Quality)
	e.bool(s.Enlarge)
	e.i64(s.Gravity)
	e.i64(s.Focus[0])
	e.i64(s.Focus[1])
	return e.writeWithData(w, q.Data)
}

// ReadRequest reads one Request frame of at most max bytes. It returns io.EOF, unwrapped,
// when r ends cleanly before a frame.
func ReadRequest(r io.Reader, max int64) (*Request, error) {
	d, err := readFrame(r, max, typeRequest)
	if err != nil {
		return nil, err
	}
	q := &Request{Seq: d.u64(), Kind: Kind(d.u8()), Timeout: time.Duration(d.i64())}
	l := &q.Limits
	for _, p := range []*int64{&l.MaxBytes, &l.MaxWidth, &l.MaxHeight, &l.MaxPixels, &l.MaxFrames, &l.MaxTotalPixels} {
		*p = d.i64()
	}
	n := d.u32()
	if n > MaxFormats {
		return nil, fmt.Errorf("%d formats: %w", n, ErrMalformed)
	}
	for range n {
		l.Formats = append(l.Formats, d.str(maxShortString))
	}
	q.Spec = Spec{Width: d.i64(), Height: d.i64(), Fit: d.i64(), Format: d.str(maxShortString), Quality: d.i64(), Enlarge: d.bool(), Gravity: d.i64()}
	q.Spec.Focus = [2]int64{d.i64(), d.i64()}
	q.Data = d.rest()
	if err := d.finish(); err != nil {
		return nil, err
	}
	if q.Kind != KindRender && q.Kind != KindProve {
		return nil, fmt.Errorf("unknown kind %d: %w", q.Kind, ErrMalformed)
	}
	if q.Timeout <= 0 {
		return nil, fmt.Errorf("timeout %v: %w", q.Timeout, ErrMalformed)
	}
	return q, nil
}

// WriteAck writes the Ack of the request seq.
func WriteAck(w io.Writer, seq uint64) error {
	var e encoder
	e.u8(typeAck)
	e.u64(seq)
	return e.write(w)
}

// ReadAck reads one Ack frame and returns its Seq.
func ReadAck(r io.Reader) (uint64, error) {
	d, err := readFrame(r, 1+8, typeAck)
	if err != nil {
		return 0, err
	}
	seq := d.u64()
	return seq, d.finish()
}

// WriteResponse writes p as one frame; p.Data is written without being copied and
// p.Message is cut to MaxMessageBytes.
func WriteResponse(w io.Writer, p *Response) error {
	var e encoder
	e.u8(typeResponse)
	e.u64(p.Seq)
	e.u8(byte(p.Code))
	e.str(cut(p.Message, MaxMessageBytes))
	e.bool(p.Retire)
	if len(p.Format) > maxShortString {
		return fmt.Errorf("format name of %d bytes: %w", len(p.Format), ErrMalformed)
	}
	e.str(p.Format)
	e.i64(p.Width)
	e.i64(p.Height)
	if len(p.Placeholder) > MaxPlaceholderBytes || len(p.Color) > MaxPlaceholderBytes {
		return fmt.Errorf("placeholder of %d+%d bytes: %w", len(p.Placeholder), len(p.Color), ErrMalformed)
	}
	e.str(p.Placeholder)
	e.str(p.Color)
	return e.writeWithData(w, p.Data)
}

// ReadResponse reads one Response frame of at most max bytes (ResponseOverhead plus the
// largest Data the reader accepts). A Response whose Code is unknown, or that carries
// Data with a Code other than OK, is malformed.
func ReadResponse(r io.Reader, max int64) (*Response, error) {
	d, err := readFrame(r, max, typeResponse)
	if err != nil {
		return nil, err
	}
	p := &Response{Seq: d.u64(), Code: Code(d.u8())}
	p.Message = d.str(MaxMessageBytes)
	p.Retire = d.bool()
	p.Format = d.str(maxShortString)
	p.Width = d.i64()
	p.Height = d.i64()
	p.Placeholder = d.str(MaxPlaceholderBytes)
	p.Color = d.str(MaxPlaceholderBytes)
	p.Data = d.rest()
	if err := d.finish(); err != nil {
		return nil, err
	}
	if p.Code > maxCode {
		return nil, fmt.Errorf("unknown code %d: %w", p.Code, ErrMalformed)
	}
	if p.Code != OK && len(p.Data) > 0 {
		return nil, fmt.Errorf("failed response with data: %w", ErrMalformed)
	}
	return p, nil
}

// cut shortens s to at most n bytes.
func cut(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// encoder builds the fixed part of a frame.
type encoder struct{ b []byte }

func (e *encoder) u8(v byte)    { e.b = append(e.b, v) }
func (e *encoder) u32(v uint32) { e.b = binary.BigEndian.AppendUint32(e.b, v) }
func (e *encoder) u64(v uint64) { e.b = binary.BigEndian.AppendUint64(e.b, v) }
func (e *encoder) i64(v int64)  { e.u64(uint64(v)) } // #nosec G115 -- two's-complement bits on the wire; decoder.i64 reverses it exactly
func (e *encoder) bool(v bool) {
	if v {
		e.u8(1)
	} else {
		e.u8(0)
	}
}
func (e *encoder) str(s string) {
	e.u32(uint32(len(s))) // #nosec G115 -- every caller passes a string cut to MaxMessageBytes or checked against maxShortString
	e.b = append(e.b, s...)
}

// write writes the frame: its length and the fixed part.
func (e *encoder) write(w io.Writer) error {
	head := binary.BigEndian.AppendUint32(make([]byte, 0, 4+len(e.b)), uint32(len(e.b))) // #nosec G115 -- frames without data are a few KiB (MaxSetupBytes, MaxHelloBytes, ResponseOverhead)
	_, err := w.Write(append(head, e.b...))
	return err
}

// writeWithData writes the frame: its length, the fixed part, and data as a
// length-prefixed byte string that ends the frame, without copying data.
func (e *encoder) writeWithData(w io.Writer, data []byte) error {
	n := int64(len(e.b)) + 4 + int64(len(data))
	if n > math.MaxUint32 {
		return fmt.Errorf("frame of %d bytes: %w", n, ErrTooLarge)
	}
	head := make([]byte, 0, 4+len(e.b)+4)
	head = binary.BigEndian.AppendUint32(head, uint32(n))
	head = append(head, e.b...)
	head = binary.BigEndian.AppendUint32(head, uint32(len(data))) // #nosec G115 -- len(data) < n <= math.MaxUint32: checked above
	if _, err := w.Write(head); err != nil {
		return err
	}
	if len(data) == 0 {
		return nil
	}
	_, err := w.Write(data)
	return err
}

// readFrame reads one frame of at most max payload bytes and checks its type. It returns
// io.EOF when r ends before the first byte of the length, io.ErrUnexpectedEOF when it ends
// inside the frame.
func readFrame(r io.Reader, max int64, typ byte) (*decoder, error) {
	var lenBuf [4]byte
	if _, err := io.ReadFull(r, lenBuf[:]); err != nil {
		return nil, err
	}
	n := int64(binary.BigEndian.Uint32(lenBuf[:]))
	if n > max {
		return nil, fmt.Errorf("frame of %d bytes over the cap of %d: %w", n, max, ErrTooLarge)
	}
	if n == 0 {
		return nil, fmt.Errorf("empty frame: %w", ErrMalformed)
	}
	payload, err := readN(r, n)
	if err != nil {
		return nil, err
	}
	if payload[0] != typ {
		return nil, fmt.Errorf("frame type %q, want %q: %w", payload[0], typ, ErrMalformed)
	}
	return &decoder{b: payload[1:]}, nil
}

// readN reads exactly n bytes, growing its buffer by at most 1 MiB ahead of what has
// arrived, so that a length nobody backs with bytes costs little memory.
func readN(r io.Reader, n int64) ([]byte, error) {
	const step = 1 << 20
	buf := make([]byte, 0, min(n, step))
	for int64(len(buf)) < n {
		chunk := int(min(n-int64(len(buf)), step))
		buf = slices.Grow(buf, chunk)
		m, err := io.ReadFull(r, buf[len(buf):len(buf)+chunk])
		buf = buf[:len(buf)+m]
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
	return buf, nil
}

// decoder reads the fields of one payload. The first failure sticks: later reads return
// zero values, and finish reports it.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || n > len(d.b) {
		d.err = fmt.Errorf("field of %d bytes, %d left: %w", n, len(d.b), ErrMalformed)
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) u8() byte {
	if b := d.take(1); b != nil {
		return b[0]
	}
	return 0
}

func (d *decoder) u32() uint32 {
	if b := d.take(4); b != nil {
		return binary.BigEndian.Uint32(b)
	}
	return 0
}

func (d *decoder) u64() uint64 {
	if b := d.take(8); b != nil {
		return binary.BigEndian.Uint64(b)
	}
	return 0
}

func (d *decoder) i64() int64 { return int64(d.u64()) } // #nosec G115 -- reverses encoder.i64: two's-complement bits

func (d *decoder) bool() bool {
	switch d.u8() {
	case 0:
		return false
	case 1:
		return true
	}
	if d.err == nil {
		d.err = fmt.Errorf("boolean out of range: %w", ErrMalformed)
	}
	return false
}

// str reads a length-prefixed string of at most max bytes.
func (d *decoder) str(max uint32) string {
	n := d.u32()
	if d.err == nil && n > max {
		d.err = fmt.Errorf("string of %d bytes over %d: %w", n, max, ErrMalformed)
	}
	return string(d.take(int(n)))
}

// rest reads the bulk data: a length-prefixed byte string that must end the frame. The
// result aliases the frame's buffer.
func (d *decoder) rest() []byte {
	n := d.u32()
	if d.err == nil && int64(n) != int64(len(d.b)) {
		d.err = fmt.Errorf("data of %d bytes, %d left: %w", n, len(d.b), ErrMalformed)
		return nil
	}
	b := d.take(int(n))
	if len(b) == 0 {
		return nil
	}
	return b
}

// finish reports the first failure, or bytes left over.
func (d *decoder) finish() error {
	if d.err != nil {
		return d.err
	}
	if len(d.b) != 0 {
		return fmt.Errorf("%d bytes left over: %w", len(d.b), ErrMalformed)
	}
	return nil
}
