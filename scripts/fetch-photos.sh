#!/usr/bin/env bash
# Fetches a reproducible set of real photos for `fastimagecache bench` from Debian's
# wallpaper packages, and keeps them out of git (the default folder is in .gitignore).
#
#   scripts/fetch-photos.sh [DIR]      (default: ./bench-photos)
#
# The set: the JPEG photos of mate-backgrounds, plasma-workspace-wallpapers (largest size of
# each) and ukui-wallpapers; every third one also as a progressive JPEG (jpegtran, lossless);
# some stored sideways with EXIF orientation 6 (jpegtran rotation + exiftool, lossless),
# so they display upright. Needs apt-get (run as root, or with the tools already installed).
set -euo pipefail
out=$(realpath -m "${1:-bench-photos}")
mkdir -p "$out"
need=()
command -v jpegtran >/dev/null || need+=(libjpeg-turbo-progs)
command -v exiftool >/dev/null || need+=(libimage-exiftool-perl)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
apt-get download mate-backgrounds plasma-workspace-wallpapers ukui-wallpapers >/dev/null
for deb in *.deb; do dpkg-deb -x "$deb" x; done

n=0
add() { # add SRC NAME
  cp "$1" "$out/$2"
  n=$((n + 1))
}
for f in x/usr/share/backgrounds/mate/nature/*.jpg x/usr/share/backgrounds/mate/abstract/Elephants_5640x3172.jpg \
         x/usr/share/backgrounds/*.jpg; do
  [ -f "$f" ] && add "$f" "$(basename "$(dirname "$f")")-$(basename "$f")"
done
for d in x/usr/share/wallpapers/*/contents/images; do
  largest=$(ls -S "$d"/*.jpg 2>/dev/null | head -n 1 || true)
  [ -n "$largest" ] && add "$largest" "plasma-$(basename "$(dirname "$(dirname "$d")")").jpg"
done

i=0
for f in "$out"/*.jpg; do
  case "$f" in *-progressive.jpg|*-exif*.jpg) continue ;; esac
  i=$((i + 1))
  base="${f%.jpg}"
  if [ $((i % 3)) -eq 0 ]; then
    jpegtran -copy none -progressive -optimize "$f" > "$base-progressive.jpg"
  fi
  if [ $((i % 7)) -eq 1 ]; then
    # Rotate the pixels a quarter turn anticlockwise and tag orientation 6 (display rotates
    # clockwise): the photo still shows upright, as a phone camera would write it.
    jpegtran -copy none -rotate 270 -trim "$f" > "$base-exif6.jpg"
    exiftool -q -overwrite_original -n -Orientation=6 "$base-exif6.jpg"
  fi
done
echo "$(ls "$out"/*.jpg | wc -l) photos in $out"
