// Build tools for CI; kept out of the library's go.mod on purpose so that users of the
// library never see these dependencies. See SECURITY.md.
module github.com/fastimagecache/fastimagecache/tools

go 1.26.0

require (
	github.com/securego/gosec/v2 v2.30.0
	golang.org/x/mod v0.42.0
)

require (
	github.com/ccojocar/zxcvbn-go v1.0.4 // indirect
	github.com/google/uuid v1.6.0 // indirect
	github.com/gookit/color v1.6.3 // indirect
	github.com/xo/terminfo v1.2.0 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
	golang.org/x/sync v0.24.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
	golang.org/x/tools v0.52.0 // indirect
)
