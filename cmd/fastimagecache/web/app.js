// The upload page: sends the chosen file to the library's handler and shows its
// thumbnails, or the handler's rejection message. No user string is ever inserted as HTML.
"use strict";
(function () {
  const form = document.getElementById("upload");
  const input = document.getElementById("file");
  const status = document.getElementById("status");
  const gallery = document.getElementById("gallery");

  function say(text, kind) {
    status.textContent = text;
    status.className = kind;
  }

  // showFormat labels a rendition with the format it was served in: the presets are Auto,
  // so the server picked it from this browser's Accept header. The Content-Type the image
  // arrived with comes from Resource Timing where the browser reports it, else from a HEAD
  // request with the Accept header of a browser that decodes AVIF and WebP.
  async function showFormat(img, label, preset) {
    let type = "";
    const seen = performance.getEntriesByName(img.currentSrc || img.src);
    if (seen.length && seen[seen.length - 1].contentType) {
      type = seen[seen.length - 1].contentType;
    } else {
      try {
        const res = await fetch(img.src, { method: "HEAD", headers: { Accept: "image/avif,image/webp,*/*" } });
        type = res.headers.get("Content-Type") || "";
      } catch (e) {
        type = "";
      }
    }
    label.textContent = preset + ": " + (type.startsWith("image/") ? type.slice(6) : "?");
  }

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (!input.files.length) { say("Choose a file first.", "error"); return; }
    const data = new FormData();
    data.append("file", input.files[0]);
    say("Uploading…", "");
    let res, body;
    try {
      res = await fetch("/api/images", { method: "POST", body: data });
      body = await res.json();
    } catch (e) {
      say("Upload failed: the server did not answer.", "error");
      return;
    }
    if (!res.ok) {
      say("Rejected (" + body.error + "): " + body.message, "error");
      return;
    }
    say("Stored " + body.format + " " + body.width + "×" + body.height + ".", "ok");
    const li = document.createElement("li");
    li.dataset.id = body.id;
    for (const preset of ["thumb", "small"]) {
      const img = document.createElement("img");
      img.className = "rendition " + preset;
      img.alt = preset + " rendition";
      const label = document.createElement("span");
      label.className = "format " + preset;
      img.addEventListener("load", () => showFormat(img, label, preset));
      img.src = "/images/" + body.id + "/" + preset;
      li.append(img, label);
    }
    const cap = document.createElement("span");
    cap.textContent = body.id.slice(0, 12) + "…";
    li.appendChild(cap);
    gallery.prepend(li);
  });
})();
