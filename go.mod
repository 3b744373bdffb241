module github.com/fastimagecache/fastimagecache

go 1.26.0

require (
	github.com/disintegration/imaging v1.6.2 // indirect
	github.com/gabriel-vasile/mimetype v1.4.16 // indirect
	github.com/stretchr/testify v1.12.1 // indirect
	golang.org/x/image v0.48.0 // indirect
	golang.org/x/sync v0.25.0 // indirect
)
