package sandbox

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestREADMEListsTheFilter checks that the README's list of the calls the seccomp filter
// denies is exactly the filter's: the names in deniedSyscalls and archDenied, as written in
// this package's source, against the README's two lists.
func TestREADMEListsTheFilter(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	names := func(file, from, to string) []string {
		b, err := os.ReadFile(file)
		require.NoError(t, err)
		s := string(b)
		s = s[strings.Index(s, from):]
		s = s[:strings.Index(s, to)]
		var out []string
		for _, m := range regexp.MustCompile(`unix\.SYS_([A-Z0-9_]+)`).FindAllStringSubmatch(s, -1) {
			out = append(out, strings.ToLower(m[1]))
		}
		slices.Sort(out)
		return out
	}
	listed := func(from, to string) []string {
		s := string(readme)
		s = s[strings.Index(s, from):]
		s = s[:strings.Index(s, to)]
		var out []string
		for _, m := range regexp.MustCompile("`([a-z0-9_]+)`").FindAllStringSubmatch(s, -1) {
			out = append(out, m[1])
		}
		slices.Sort(out)
		return out
	}
	assert.Equal(t, names("seccomp_linux.go", "var deniedSyscalls", "// cloneNewFlags"),
		listed("- with `EPERM`, whatever their arguments:", "on amd64 also"))
	assert.Equal(t, names("seccomp_linux_amd64.go", "var archDenied", "// hasX32"),
		listed("on amd64 also", "- with `EPERM`, by argument"))
}
