// The click-to-assess page: upload once (POST /v1/images), then every click or dragged box is
// one POST /v1/assess on the image_id; the answer's mask (COCO RLE) is drawn over the image.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { imageId: null, width: 0, height: 0, busy: false };

function apiHeaders(extra) {
  const headers = Object.assign({}, extra || {});
  const key = $("api-key").value.trim();
  if (key) headers["X-API-Key"] = key;
  return headers;
}

function setStatus(text, isError) {
  const status = $("status");
  status.textContent = text;
  status.classList.toggle("error", !!isError);
}

async function callApi(path, options) {
  const response = await fetch(path, options);
  let body = null;
  try { body = await response.json(); } catch (e) { body = null; }
  if (!response.ok) {
    const message = body && body.error ? body.error.message : response.statusText;
    throw new Error(`${response.status}: ${message}`);
  }
  return { body, cache: response.headers.get("X-Seagull-Cache") };
}

// ---- COCO RLE (compressed counts string) → H×W mask, column-major as pycocotools writes ----
function rleCounts(text) {
  const counts = [];
  let p = 0;
  while (p < text.length) {
    let x = 0, k = 0, more = true;
    while (more) {
      const c = text.charCodeAt(p) - 48;
      x |= (c & 0x1f) << (5 * k);
      more = (c & 0x20) !== 0;
      p += 1; k += 1;
      if (!more && (c & 0x10)) x |= -1 << (5 * k);
    }
    if (counts.length > 2) x += counts[counts.length - 2];
    counts.push(x);
  }
  return counts;
}

function drawMask(rle) {
  const [h, w] = rle.size;
  const canvas = $("overlay");
  canvas.width = w; canvas.height = h;
  const ctx = canvas.getContext("2d");
  const pixels = ctx.createImageData(w, h);
  const counts = typeof rle.counts === "string" ? rleCounts(rle.counts) : rle.counts;
  let index = 0;
  counts.forEach((run, i) => {
    if (i % 2 === 1) {
      for (let j = index; j < index + run; j++) {
        const row = j % h, col = Math.floor(j / h);
        const o = (row * w + col) * 4;
        pixels.data[o] = 255; pixels.data[o + 1] = 64; pixels.data[o + 2] = 32;
        pixels.data[o + 3] = 120;
      }
    }
    index += run;
  });
  ctx.putImageData(pixels, 0, 0);
}

// ---- upload ----------------------------------------------------------------------------
async function upload(file) {
  if (!file) return;
  setStatus(`Uploading ${file.name} …`);
  const form = new FormData();
  form.append("image", file, file.name);
  try {
    const { body } = await callApi("/v1/images", { method: "POST", body: form, headers: apiHeaders() });
    state.imageId = body.image_id; state.width = body.width; state.height = body.height;
    await showImage(file);
    $("overlay").getContext("2d").clearRect(0, 0, state.width, state.height);
    $("assessment").dataset.ready = "0";
    $("canvas-wrap").dataset.imageId = body.image_id;
    setStatus(`${file.name}: ${body.width}×${body.height}, id ${body.image_id}. Click a region or drag a box.`);
  } catch (err) {
    setStatus(`Upload failed: ${err.message}`, true);
  }
}

async function showImage(file) {
  const url = URL.createObjectURL(file);
  const img = new Image();
  await new Promise((resolve, reject) => { img.onload = resolve; img.onerror = reject; img.src = url; });
  const canvas = $("image");
  // The server's pixels are what matter: draw at the size the server decoded.
  canvas.width = state.width; canvas.height = state.height;
  canvas.getContext("2d").drawImage(img, 0, 0, state.width, state.height);
  URL.revokeObjectURL(url);
  $("canvas-wrap").hidden = false;
}

// ---- click or drag → assess ------------------------------------------------------------
function imagePoint(event) {
  const rect = $("image").getBoundingClientRect();
  const x = (event.clientX - rect.left) * state.width / rect.width;
  const y = (event.clientY - rect.top) * state.height / rect.height;
  return [Math.min(Math.max(x, 0), state.width - 1), Math.min(Math.max(y, 0), state.height - 1)];
}

async function assess(prompt) {
  if (!state.imageId || state.busy) return;
  state.busy = true;
  setStatus("Assessing …");
  try {
    const request = Object.assign({ image_id: state.imageId }, prompt);
    const { body, cache } = await callApi("/v1/assess", {
      method: "POST", body: JSON.stringify(request),
      headers: apiHeaders({ "Content-Type": "application/json" }) });
    drawMask(body.mask);
    showAssessment(body);
    setStatus(`Done (cache: ${cache || "n/a"}).`);
  } catch (err) {
    setStatus(`Assessment failed: ${err.message}`, true);
  } finally {
    state.busy = false;
  }
}

function fillScale(id, result) {
  const dd = $(id);
  dd.querySelector(".level").textContent = result ? result.level : "—";
  dd.querySelector(".score").textContent = result ? `(${result.score.toFixed(3)})` : "";
  const bars = dd.querySelector(".bars");
  bars.textContent = "";
  if (!result || !result.probabilities) return;
  for (const [word, p] of Object.entries(result.probabilities)) {
    const label = document.createElement("span");
    label.textContent = word;
    const bar = document.createElement("span");
    bar.className = "bar";
    const fill = document.createElement("i");
    fill.style.width = `${Math.round(p * 100)}%`;
    bar.appendChild(fill);
    bars.append(label, bar);
  }
}

function showAssessment(body) {
  fillScale("quality", body.quality);
  fillScale("importance", body.importance);
  const list = body.distortions || [];
  $("distortions").textContent = list.length
    ? list.map((d) => `${d.level} ${d.type} (${Number(d.severity).toFixed(2)})`).join(", ")
    : "none";
  $("text").textContent = body.text || "";
  $("model").textContent = `${body.model.name} ${body.model.version}` +
    (body.model.segmenter ? ` · ${body.model.segmenter.name}` : "");
  document.querySelector("#assessment .empty").hidden = true;
  $("result").hidden = false;
  $("assessment").dataset.ready = "1";
}

let dragStart = null;

function onDown(event) {
  if (!state.imageId) return;
  dragStart = { client: [event.clientX, event.clientY], image: imagePoint(event) };
}

function onMove(event) {
  if (!dragStart) return;
  const wrap = $("canvas-wrap").getBoundingClientRect();
  const box = $("drag-box");
  const [x0, y0] = dragStart.client;
  box.hidden = false;
  box.style.left = `${Math.min(x0, event.clientX) - wrap.left}px`;
  box.style.top = `${Math.min(y0, event.clientY) - wrap.top}px`;
  box.style.width = `${Math.abs(event.clientX - x0)}px`;
  box.style.height = `${Math.abs(event.clientY - y0)}px`;
}

function onUp(event) {
  if (!dragStart) return;
  const start = dragStart;
  dragStart = null;
  $("drag-box").hidden = true;
  const moved = Math.hypot(event.clientX - start.client[0], event.clientY - start.client[1]);
  const end = imagePoint(event);
  if (moved < 6) {
    assess({ point: start.image.map((v) => Math.floor(v) + 0.5) });
  } else {
    const [xa, ya] = start.image, [xb, yb] = end;
    assess({ box: [Math.min(xa, xb), Math.min(ya, yb), Math.max(xa, xb) + 1, Math.max(ya, yb) + 1] });
  }
}

function init() {
  const key = window.localStorage.getItem("seagull-api-key");
  if (key) $("api-key").value = key;
  $("api-key").addEventListener("change", () =>
    window.localStorage.setItem("seagull-api-key", $("api-key").value.trim()));
  $("file").addEventListener("change", (e) => upload(e.target.files[0]));
  const drop = $("drop");
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault(); drop.classList.remove("over");
    upload(e.dataTransfer.files[0]);
  });
  const wrap = $("canvas-wrap");
  wrap.addEventListener("mousedown", onDown);
  window.addEventListener("mousemove", onMove);
  window.addEventListener("mouseup", onUp);
}

init();
