// The upload page: sends the chosen or dropped file to the library's handler with real
// progress, paints each preset's placeholder (the upload's ThumbHash, else its dominant
// colour) at once, then its rendition, labelled with preset, pixel size, bytes and format;
// or shows the handler's rejection. The presets are the server's own, and so are the
// renditions' URLs and srcsets (GET /api/images/{id}/renditions), cropped as the crop
// choice says, or around the point clicked on a whole-image rendition. A re-upload of
// stored bytes highlights the entry already shown. No user string is ever inserted as HTML.
"use strict";
(function () {
  const form = document.getElementById("upload");
  const input = document.getElementById("file");
  const drop = document.getElementById("drop");
  const status = document.getElementById("status");
  const progress = document.getElementById("progress");
  const gallery = document.getElementById("gallery");
  const crop = document.getElementById("crop");

  function say(text, kind) {
    status.textContent = text;
    status.className = kind;
  }

  // send uploads file with XMLHttpRequest, whose upload events report the bytes sent.
  function send(file) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("POST", "/api/images");
      xhr.responseType = "json";
      xhr.upload.addEventListener("progress", (ev) => {
        if (!ev.lengthComputable) return;
        const pct = Math.floor(100 * ev.loaded / ev.total);
        progress.value = pct;
        progress.dataset.seen = (progress.dataset.seen ? progress.dataset.seen + "," : "") + pct;
        say("Uploading… " + pct + "% of " + kb(ev.total), "");
      });
      xhr.upload.addEventListener("load", () => say("Uploaded; checking and decoding…", ""));
      xhr.addEventListener("load", () => resolve({ status: xhr.status, body: xhr.response }));
      xhr.addEventListener("error", reject);
      const data = new FormData();
      data.append("file", file);
      xhr.send(data);
    });
  }

  function kb(n) {
    return n < 1024 ? n + " B" : n < 1048576 ? (n / 1024).toFixed(1) + " kB" : (n / 1048576).toFixed(1) + " MB";
  }

  // boxSize is the size a preset renders an oriented w×h image at: what the placeholder
  // takes until the rendition arrives.
  function boxSize(p, w, h) {
    const sx = p.width ? p.width / w : Infinity, sy = p.height ? p.height / h : Infinity;
    if (p.fit === "cover" && p.width && p.height) {
      const s = Math.min(1, Math.max(sx, sy));
      return [Math.min(p.width, Math.round(w * s)), Math.min(p.height, Math.round(h * s))];
    }
    const s = Math.min(1, sx, sy);
    return [Math.max(1, Math.round(w * s)), Math.max(1, Math.round(h * s))];
  }

  // paintPlaceholder draws the ThumbHash into canvas, or fills it with the dominant colour.
  function paintPlaceholder(canvas, body) {
    if (body.placeholder) {
      try {
        const bytes = Uint8Array.from(atob(body.placeholder), (c) => c.charCodeAt(0));
        const t = thumbHashToRGBA(bytes);
        canvas.width = t.w; canvas.height = t.h;
        canvas.getContext("2d").putImageData(new ImageData(t.rgba, t.w, t.h), 0, 0);
        canvas.dataset.painted = "thumbhash";
        return;
      } catch (e) { /* fall back to the colour */ }
    }
    if (body.color) {
      canvas.width = 1; canvas.height = 1;
      const ctx = canvas.getContext("2d");
      ctx.fillStyle = body.color;
      ctx.fillRect(0, 0, 1, 1);
      canvas.dataset.painted = "color";
    }
  }

  // describe labels a loaded rendition. Its bytes and Content-Type come from Resource
  // Timing where the browser reports them, else from a HEAD request with the Accept
  // header of a browser that decodes AVIF and WebP (the presets may be Auto).
  async function describe(img, label, name) {
    let type = "", size = 0;
    const src = img.currentSrc || img.src;
    const seen = performance.getEntriesByName(src);
    if (seen.length) {
      type = seen[seen.length - 1].contentType || "";
      size = seen[seen.length - 1].decodedBodySize || 0;
    }
    if (!type || !size) {
      try {
        const res = await fetch(src, { method: "HEAD", headers: { Accept: "image/avif,image/webp,*/*" } });
        type = type || res.headers.get("Content-Type") || "";
        size = size || Number(res.headers.get("Content-Length")) || 0;
      } catch (e) { /* leave what is known */ }
    }
    const format = type.startsWith("image/") ? type.slice(6) : "?";
    label.dataset.format = format;
    label.textContent = name + " · " + img.naturalWidth + "×" + img.naturalHeight + " · " + (size ? kb(size) : "? B") + " · " + format;
  }

  // renditions asks the server for each preset's rendition of image id: its URL and a
  // srcset of signed URLs (1x to 3x) cropped as crop says ("center", a gravity, "smart",
  // or "focus" with li's focal point).
  async function renditions(li) {
    const q = new URLSearchParams({ crop: li.dataset.fx ? "focus" : crop.value });
    if (li.dataset.fx) { q.set("fx", li.dataset.fx); q.set("fy", li.dataset.fy); }
    const res = await fetch("/api/images/" + encodeURIComponent(li.dataset.id) + "/renditions?" + q);
    if (!res.ok) throw new Error("renditions: " + res.status);
    return res.json();
  }

  // fill shows each rendition of list in li: a figure per preset (made the first time,
  // its placeholder painted at once), whose img has the server's srcset and sizes, so the
  // browser picks the URL for its screen.
  function fill(li, list, body, w, h) {
    for (const p of list) {
      let fig = li.querySelector("figure." + CSS.escape(p.name));
      if (!fig) {
        fig = document.createElement("figure");
        fig.className = p.name;
        const frame = document.createElement("div");
        frame.className = "frame";
        const [bw, bh] = boxSize(p, w, h);
        frame.style.width = bw + "px";
        frame.style.height = bh + "px";
        if (body.color) frame.style.backgroundColor = body.color;
        const canvas = document.createElement("canvas");
        canvas.className = "placeholder " + p.name;
        paintPlaceholder(canvas, body);
        const img = document.createElement("img");
        img.className = "rendition " + p.name;
        img.alt = p.name + " rendition";
        img.dataset.fit = p.fit;
        const label = document.createElement("figcaption");
        label.className = "label " + p.name;
        img.addEventListener("load", () => {
          frame.style.width = img.naturalWidth + "px";
          frame.style.height = img.naturalHeight + "px";
          describe(img, label, p.name);
        });
        if (p.fit === "contain") {
          // The whole image: a click on it sets this upload's focal point.
          img.title = "Click to crop the cover presets around this point";
          img.addEventListener("click", (ev) => {
            const r = img.getBoundingClientRect();
            li.dataset.fx = ((ev.clientX - r.left) / r.width).toFixed(3);
            li.dataset.fy = ((ev.clientY - r.top) / r.height).toFixed(3);
            refresh(li);
          });
        }
        frame.append(canvas, img);
        fig.append(frame, label);
        li.insertBefore(fig, li.querySelector(".id"));
      }
      const img = fig.querySelector("img"), label = fig.querySelector("figcaption");
      label.textContent = p.name + " · loading…";
      delete label.dataset.format;
      if (p.srcset) {
        img.srcset = p.srcset;
        img.sizes = p.sizes || "";
      } else {
        img.removeAttribute("srcset");
        img.removeAttribute("sizes");
      }
      img.src = p.src;
    }
    const cap = li.querySelector(".id");
    cap.textContent = li.dataset.id.slice(0, 12) + "…" +
      (li.dataset.fx ? " · focus " + li.dataset.fx + ", " + li.dataset.fy : " · crop " + crop.value);
  }

  async function refresh(li) {
    try {
      fill(li, await renditions(li), JSON.parse(li.dataset.body), Number(li.dataset.w), Number(li.dataset.h));
    } catch (e) {
      say("Could not list the renditions: " + e.message, "error");
    }
  }

  async function upload(file) {
    if (!file) { say("Choose a file first.", "error"); return; }
    progress.hidden = false;
    progress.value = 0;
    progress.dataset.seen = "";
    say("Uploading… 0% of " + kb(file.size), "");
    let res;
    try {
      res = await send(file);
    } catch (e) {
      progress.hidden = true;
      say("Upload failed: the server did not answer.", "error");
      return;
    }
    progress.hidden = true;
    const body = res.body || {};
    if (res.status !== 200 && res.status !== 201) {
      say("Rejected (" + (body.error || res.status) + "): " + (body.message || "the server refused the upload"), "error");
      return;
    }
    // Sizes as the image is shown: after its EXIF orientation.
    const w = body.oriented_width || body.width, h = body.oriented_height || body.height;
    const size = body.format + " " + w + "×" + h;
    for (const old of gallery.querySelectorAll("li.highlight")) old.classList.remove("highlight");
    let li = [...gallery.children].find((x) => x.dataset.id === body.id);
    if (res.status === 200) {
      say("Already stored: " + size + ". These bytes were uploaded before; nothing new was stored.", "ok dup");
    } else {
      say("Stored " + size + " (new)" + (w !== body.width ? ", turned upright from " + body.width + "×" + body.height : "") + ".", "ok");
    }
    if (li) {
      // The same bytes again: show the entry already there, not a second one.
      gallery.prepend(li);
      li.classList.add("highlight");
      li.scrollIntoView({ block: "nearest" });
      return;
    }
    li = document.createElement("li");
    li.dataset.id = body.id;
    li.dataset.body = JSON.stringify({ placeholder: body.placeholder, color: body.color });
    li.dataset.w = w;
    li.dataset.h = h;
    if (res.status === 200) li.classList.add("highlight");
    const cap = document.createElement("span");
    cap.className = "id";
    li.appendChild(cap);
    gallery.prepend(li);
    await refresh(li);
  }

  // A new crop choice applies to every upload shown (a focal point set by a click gives way).
  crop.addEventListener("change", () => {
    for (const li of gallery.children) {
      delete li.dataset.fx;
      delete li.dataset.fy;
      refresh(li);
    }
  });

  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    upload(input.files[0]);
  });
  for (const name of ["dragenter", "dragover"]) {
    drop.addEventListener(name, (ev) => { ev.preventDefault(); drop.classList.add("over"); });
  }
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (ev) => {
    ev.preventDefault();
    drop.classList.remove("over");
    upload(ev.dataTransfer.files[0]);
  });
})();
