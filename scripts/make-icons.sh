#!/usr/bin/env bash
# Regenerates the application icons in icons/ (RGBA PNGs referenced by src-tauri/tauri.conf.json).
# The PNGs are committed; run this only to change the artwork. Needs ImageMagick 6 (`convert`).
set -euo pipefail
cd "$(dirname "$0")/../icons"
# 1024px master: rounded dark tile, rust-orange ring (the "O" of OXIDE), a check mark inside.
convert -size 1024x1024 xc:none \
  -fill '#1d1f24' -draw 'roundrectangle 64,64 960,960 200,200' \
  -fill none -stroke '#d9622b' -strokewidth 96 -draw 'circle 512,512 512,232' \
  -stroke '#f2efe9' -strokewidth 72 -draw 'stroke-linejoin round stroke-linecap round polyline 392,520 480,612 648,420' \
  PNG32:master.png
for size in 32 128 256 512; do
  convert master.png -resize "${size}x${size}" PNG32:"${size}x${size}.png"
done
cp 256x256.png 128x128@2x.png
cp 512x512.png icon.png
rm -f master.png 256x256.png 512x512.png
identify ./*.png
