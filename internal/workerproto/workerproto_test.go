package workerproto

import (
	"bytes"
	"encoding/binary"
	"io"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRoundTrip(t *testing.T) {
	var b bytes.Buffer
	setup := Setup{Version: Version, MemoryLimit: 1 << 30, CPUTime: time.Minute, MaxRequest: 32 << 20, RequireLandlock: true}
	require.NoError(t, WriteSetup(&b, setup))
	gotSetup, err := ReadSetup(&b)
	require.NoError(t, err)
	assert.Equal(t, setup, gotSetup)

	hello := Hello{Version: Version, Landlock: 7, Warnings: "UDP not restricted"}
	require.NoError(t, WriteHello(&b, hello))
	gotHello, err := ReadHello(&b)
	require.NoError(t, err)
	assert.Equal(t, hello, gotHello)

	req := &Request{
		Seq: 42, Kind: KindRender, Timeout: 9 * time.Second,
		Limits: Limits{MaxBytes: 1, MaxWidth: 2, MaxHeight: 3, MaxPixels: 4, MaxFrames: 5, MaxTotalPixels: 6, Formats: []string{"jpeg", "png"}},
		Spec:   Spec{Width: 320, Height: 240, Fit: 1, Format: "jpeg", Quality: 82, Enlarge: true, Gravity: 7, Focus: [2]int64{250, 1000}},
		Data:   []byte("\xff\xd8 not really a jpeg"),
	}
	require.NoError(t, WriteRequest(&b, req))
	gotReq, err := ReadRequest(&b, 1<<10)
	require.NoError(t, err)
	assert.Equal(t, req, gotReq)

	require.NoError(t, WriteAck(&b, 42))
	seq, err := ReadAck(&b)
	require.NoError(t, err)
	assert.Equal(t, uint64(42), seq)

	resp := &Response{Seq: 42, Code: OK, Format: "jpeg", Width: 320, Height: 240, Placeholder: "AAgCBw==", Color: "#fb0000", Data: []byte("pixels")}
	require.NoError(t, WriteResponse(&b, resp))
	gotResp, err := ReadResponse(&b, 1<<10)
	require.NoError(t, err)
	assert.Equal(t, resp, gotResp)

	fail := &Response{Seq: 43, Code: Corrupt, Message: strings.Repeat("x", 2*MaxMessageBytes), Retire: true}
	require.NoError(t, WriteResponse(&b, fail))
	gotFail, err := ReadResponse(&b, 1<<10)
	require.NoError(t, err)
	assert.Len(t, gotFail.Message, MaxMessageBytes, "cut on the way out")
	assert.Nil(t, gotFail.Data)

	_, err = ReadRequest(&b, 1<<10)
	assert.Equal(t, io.EOF, err, "a clean end between frames is io.EOF itself")
}

func TestReadRefusesBeforeAllocating(t *testing.T) {
	// A frame announcing 4 GiB - 1 that sends 5 bytes: refused from its length alone.
	r := bytes.NewReader([]byte{0xff, 0xff, 0xff, 0xff, typeResponse})
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range 10 {
		r.Seek(0, io.SeekStart)
		_, err := ReadResponse(r, 1<<20)
		require.ErrorIs(t, err, ErrTooLarge)
	}
	runtime.ReadMemStats(&after)
	assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(64<<10), "ten refusals allocate next to nothing")

	// A frame under the cap that never arrives: the buffer grows with what does.
	var b bytes.Buffer
	binary.Write(&b, binary.BigEndian, uint32(64<<20))
	b.WriteString("R12345")
	_, err := ReadResponse(&b, 128<<20)
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)
}

func TestMalformed(t *testing.T) {
	valid := func() []byte {
		var b bytes.Buffer
		require.NoError(t, WriteResponse(&b, &Response{Seq: 1, Code: OK, Format: "png", Width: 1, Height: 1, Data: []byte("data")}))
		return b.Bytes()
	}
	for name, mutate := range map[string]func([]byte) []byte{
		"wrong type":       func(b []byte) []byte { b[4] = typeRequest; return b },
		"empty frame":      func([]byte) []byte { return []byte{0, 0, 0, 0} },
		"truncated":        func(b []byte) []byte { return b[:len(b)-1] },
		"data length lies": func(b []byte) []byte { b[len(b)-5] = 9; return b },
		"boolean out of range": func(b []byte) []byte {
			// Retire follows seq (8), code (1), message length (4) and an empty message.
			b[4+1+8+1+4] = 2
			return b
		},
		"unknown code":    func(b []byte) []byte { b[4+1+8] = byte(maxCode) + 1; return b },
		"error with data": func(b []byte) []byte { b[4+1+8] = byte(Corrupt); return b },
		"frame length lies": func(b []byte) []byte {
			binary.BigEndian.PutUint32(b, binary.BigEndian.Uint32(b)-1)
			return b
		},
	} {
		t.Run(name, func(t *testing.T) {
			resp, err := ReadResponse(bytes.NewReader(mutate(valid())), 1<<10)
			require.Error(t, err)
			assert.Nil(t, resp, "no partial value")
		})
	}

	t.Run("setup of another version", func(t *testing.T) {
		var b bytes.Buffer
		require.NoError(t, WriteSetup(&b, Setup{Version: Version + 1, MemoryLimit: 1, CPUTime: 1, MaxRequest: 1}))
		_, err := ReadSetup(&b)
		require.ErrorIs(t, err, ErrMalformed)
	})
	t.Run("request of an unknown kind", func(t *testing.T) {
		var b bytes.Buffer
		require.NoError(t, WriteRequest(&b, &Request{Kind: 9, Timeout: time.Second}))
		_, err := ReadRequest(&b, 1<<10)
		require.ErrorIs(t, err, ErrMalformed)
	})
	t.Run("request with too many formats", func(t *testing.T) {
		err := WriteRequest(io.Discard, &Request{Kind: KindProve, Timeout: time.Second, Limits: Limits{Formats: make([]string, MaxFormats+1)}})
		require.ErrorIs(t, err, ErrMalformed)
	})
}

// FuzzReadResponse checks that any bytes either fail to parse, returning nothing, or parse
// into a Response within the cap that writes back to the same frame.
func FuzzReadResponse(f *testing.F) {
	var b bytes.Buffer
	_ = WriteResponse(&b, &Response{Seq: 7, Code: OK, Format: "gif", Width: 3, Height: 4, Data: []byte("GIF89a")})
	f.Add(b.Bytes())
	b.Reset()
	_ = WriteResponse(&b, &Response{Seq: 8, Code: Dimensions, Message: "too big"})
	f.Add(b.Bytes())
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	const limit = 1 << 16
	f.Fuzz(func(t *testing.T, in []byte) {
		resp, err := ReadResponse(bytes.NewReader(in), limit)
		if err != nil {
			if resp != nil {
				t.Fatalf("error %v with a partial value", err)
			}
			return
		}
		if len(resp.Message) > MaxMessageBytes || len(resp.Format) > maxShortString || len(resp.Data) > limit {
			t.Fatalf("fields over their caps: %d, %d, %d", len(resp.Message), len(resp.Format), len(resp.Data))
		}
		var out bytes.Buffer
		if err := WriteResponse(&out, resp); err != nil {
			t.Fatal(err)
		}
		n := 4 + int(binary.BigEndian.Uint32(in))
		if !bytes.Equal(out.Bytes(), in[:n]) {
			t.Fatalf("re-encoded frame differs:\n got %q\nwant %q", out.Bytes(), in[:n])
		}
	})
}

// FuzzReadRequest checks the worker's reader the same way.
func FuzzReadRequest(f *testing.F) {
	var b bytes.Buffer
	_ = WriteRequest(&b, &Request{Seq: 1, Kind: KindRender, Timeout: time.Second, Limits: Limits{Formats: []string{"png"}}, Spec: Spec{Format: "png"}, Data: []byte("x")})
	f.Add(b.Bytes())
	const limit = 1 << 16
	f.Fuzz(func(t *testing.T, in []byte) {
		q, err := ReadRequest(bytes.NewReader(in), limit)
		if err != nil {
			if q != nil {
				t.Fatalf("error %v with a partial value", err)
			}
			return
		}
		var out bytes.Buffer
		if err := WriteRequest(&out, q); err != nil {
			t.Fatal(err)
		}
		n := 4 + int(binary.BigEndian.Uint32(in))
		if !bytes.Equal(out.Bytes(), in[:n]) {
			t.Fatalf("re-encoded frame differs:\n got %q\nwant %q", out.Bytes(), in[:n])
		}
	})
}
