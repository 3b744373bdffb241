package fastimagecache

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/fastimagecache/fastimagecache/internal/fixture"
)

func TestDeclaredFormat(t *testing.T) {
	for _, tc := range []struct {
		ct        string
		f         Format
		claim, ok bool
	}{
		{"image/png", PNG, true, true},
		{"IMAGE/PNG; charset=binary", PNG, true, true},
		{"image/jpg", JPEG, true, true},
		{"image/pjpeg", JPEG, true, true},
		{"image/svg+xml", "", true, false},
		{"text/html", "", true, false},
		{"application/x-php", "", true, false},
		{"not a media type;;", "", true, false},
		{"", "", false, false},
		{"application/octet-stream", "", false, false},
	} {
		f, claim, ok := declaredFormat(tc.ct)
		assert.Equal(t, tc.f, f, tc.ct)
		assert.Equal(t, tc.claim, claim, tc.ct)
		assert.Equal(t, tc.ok, ok, tc.ct)
	}
}

func TestSniffUsesBytesOnly(t *testing.T) {
	for _, tc := range []struct {
		in []byte
		f  Format
		ok bool
	}{
		{fixture.PNG(2, 2), PNG, true},
		{fixture.JPEG(2, 2, 90), JPEG, true},
		{fixture.GIF(2, 2, 1), GIF, true},
		{fixture.BMP(2, 2), BMP, true},
		{fixture.TIFF(2, 2), TIFF, true},
		{fixture.HTML(), "", false},
		{fixture.PHP(), "", false},
		{fixture.SVG("http://169.254.169.254/"), "", false},
		{fixture.AppendZIP(nil, "a.txt", "hello"), "", false},
	} {
		f, ok := sniff(tc.in)
		assert.Equal(t, tc.f, f)
		assert.Equal(t, tc.ok, ok)
	}
}
