// hush web UI: drop or pick a file into a value field, check JSON before upload, copy a new
// token. Served from /ui/assets/ui.js; pages allow no inline script.
"use strict";

function toBase64(bytes) {
  let bin = "";
  const chunk = 0x8000;
  for (let i = 0; i < bytes.length; i += chunk) {
    bin += String.fromCharCode.apply(null, bytes.subarray(i, i + chunk));
  }
  return btoa(bin);
}

function setupValueField(zone) {
  const form = zone.closest("form");
  const text = zone.querySelector("textarea");
  const b64 = form.querySelector("input[name=value_base64]");
  const fname = form.querySelector("input[name=filename]");
  const picker = zone.querySelector("input[type=file]");
  const shown = zone.querySelector("#value-file-name");
  const format = form.querySelector("select[name=format]");
  const error = zone.querySelector(".field-error");

  function showError(msg) {
    error.textContent = msg;
    text.setAttribute("aria-invalid", msg ? "true" : "false");
  }

  async function useFile(file) {
    const bytes = new Uint8Array(await file.arrayBuffer());
    fname.value = file.name;
    if (/\.json$/i.test(file.name) && format) format.value = "json";
    let decoded = null;
    try {
      decoded = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    } catch (_) {
      decoded = null;
    }
    // A file is sent as base64, byte for byte (a text area would turn its line ends into
    // CRLF); a text file is also shown, and editing it switches back to the typed value.
    b64.value = toBase64(bytes);
    if (decoded !== null && !decoded.includes("\u0000")) {
      text.value = decoded;
      text.placeholder = "";
    } else {
      text.value = "";
      text.placeholder = "(binary file " + file.name + ", " + bytes.length + " bytes)";
    }
    shown.textContent = file.name + " (" + bytes.length + " bytes)";
    showError("");
    check();
  }

  function check() {
    // A binary file cannot be checked here; the server checks it.
    if (!format || format.value !== "json" || (b64.value && text.value === "")) return true;
    try {
      JSON.parse(text.value);
      showError("");
      return true;
    } catch (e) {
      showError("This is not valid JSON: " + e.message + ". Fix it, or choose the Text format.");
      return false;
    }
  }

  zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("dragging"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("dragging"));
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    zone.classList.remove("dragging");
    const file = e.dataTransfer && e.dataTransfer.files && e.dataTransfer.files[0];
    if (file) useFile(file);
  });
  picker.addEventListener("change", () => { if (picker.files[0]) useFile(picker.files[0]); });
  text.addEventListener("input", () => {
    if (b64.value) { b64.value = ""; fname.value = ""; shown.textContent = ""; }
    if (error.textContent) check();
  });
  if (format) format.addEventListener("change", () => { showError(""); check(); });
  form.addEventListener("submit", (e) => {
    if (!check()) {
      e.preventDefault();
      text.focus();
      return;
    }
    // A file goes as base64 only: not twice, and not through the text area's line ends.
    if (b64.value) text.removeAttribute("name");
  });
}

function setupCopy(button) {
  button.addEventListener("click", async () => {
    const input = document.getElementById(button.dataset.copy);
    const said = document.querySelector("[data-copied]");
    try {
      await navigator.clipboard.writeText(input.value);
    } catch (_) {
      input.select();
      document.execCommand("copy");
    }
    if (said) said.textContent = "Copied.";
  });
}

document.querySelectorAll("[data-dropzone]").forEach(setupValueField);
document.querySelectorAll("[data-copy]").forEach(setupCopy);
