// thumbHashToRGBA decodes a ThumbHash (github.com/evanw/thumbhash; the server's
// internal/thumbhash encodes it) into {w, h, rgba}: at most 32×32 pixels, not
// premultiplied. A port of internal/thumbhash.Decode; it throws on a malformed hash.
"use strict";
function thumbHashToRGBA(hash) {
  if (hash.length < 5) throw new Error("thumbhash: too short");
  const h24 = hash[0] | (hash[1] << 8) | (hash[2] << 16);
  const h16 = hash[3] | (hash[4] << 8);
  const lDC = (h24 & 63) / 63, pDC = ((h24 >> 6) & 63) / 31.5 - 1, qDC = ((h24 >> 12) & 63) / 31.5 - 1;
  const lScale = ((h24 >> 18) & 31) / 31, hasAlpha = (h24 >> 23) !== 0;
  const pScale = ((h16 >> 3) & 63) / 63, qScale = ((h16 >> 9) & 63) / 63;
  const isLandscape = (h16 >> 15) !== 0;
  const full = hasAlpha ? 5 : 7, side = h16 & 7;
  let lx = isLandscape ? full : side, ly = isLandscape ? side : full;
  const ratio = lx / ly;
  lx = Math.max(3, lx); ly = Math.max(3, ly);
  let aDC = 1, aScale = 0, start = 5;
  if (hasAlpha) {
    if (hash.length < 6) throw new Error("thumbhash: too short");
    aDC = (hash[5] & 15) / 15; aScale = (hash[5] >> 4) / 15; start = 6;
  }
  let i = 0;
  function channel(nx, ny, scale) {
    const ac = [];
    for (let cy = 0; cy < ny; cy++) {
      for (let cx = cy ? 0 : 1; cx * ny < nx * (ny - cy); cx++, i++) {
        const k = start + (i >> 1);
        if (k >= hash.length) throw new Error("thumbhash: truncated");
        ac.push((((hash[k] >> ((i & 1) << 2)) & 15) / 7.5 - 1) * scale);
      }
    }
    return ac;
  }
  const lAC = channel(lx, ly, lScale), pAC = channel(3, 3, pScale * 1.25), qAC = channel(3, 3, qScale * 1.25);
  const aAC = hasAlpha ? channel(5, 5, aScale) : [];
  const w = ratio > 1 ? 32 : Math.round(32 * ratio), h = ratio > 1 ? Math.round(32 / ratio) : 32;
  const rgba = new Uint8ClampedArray(w * h * 4), fx = [], fy = [];
  const nx = hasAlpha ? Math.max(lx, 5) : lx, ny = hasAlpha ? Math.max(ly, 5) : ly;
  const unit = (f) => Math.max(0, 255 * Math.min(1, f));
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let l = lDC, p = pDC, q = qDC, a = aDC;
      for (let cx = 0; cx < nx; cx++) fx[cx] = Math.cos(Math.PI / w * (x + 0.5) * cx);
      for (let cy = 0; cy < ny; cy++) fy[cy] = Math.cos(Math.PI / h * (y + 0.5) * cy);
      let j = 0;
      for (let cy = 0; cy < ly; cy++) {
        const fy2 = fy[cy] * 2;
        for (let cx = cy ? 0 : 1; cx * ly < lx * (ly - cy); cx++) l += lAC[j++] * fx[cx] * fy2;
      }
      j = 0;
      for (let cy = 0; cy < 3; cy++) {
        const fy2 = fy[cy] * 2;
        for (let cx = cy ? 0 : 1; cx < 3 - cy; cx++, j++) { const f = fx[cx] * fy2; p += pAC[j] * f; q += qAC[j] * f; }
      }
      if (hasAlpha) {
        j = 0;
        for (let cy = 0; cy < 5; cy++) {
          const fy2 = fy[cy] * 2;
          for (let cx = cy ? 0 : 1; cx < 5 - cy; cx++) a += aAC[j++] * fx[cx] * fy2;
        }
      }
      const b = l - 2 / 3 * p, r = (3 * l - b + q) / 2, g = r - q, o = 4 * (y * w + x);
      rgba[o] = unit(r); rgba[o + 1] = unit(g); rgba[o + 2] = unit(b); rgba[o + 3] = unit(a);
    }
  }
  return { w, h, rgba };
}
