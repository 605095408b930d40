// Images go straight to Cloud Storage through a signed URL (progress from XHR), then
// the pipeline processes them; the page polls the media until ready or rejected.
import { api, ApiError } from "./api.js";

export async function uploadImage(file, purpose, onProgress) {
  const ticket = await api("/api/media/uploads", {
    method: "POST", body: { purpose, content_type: file.type || "application/octet-stream", size: file.size },
  });
  await new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(ticket.method || "PUT", ticket.upload_url);
    for (const [name, value] of Object.entries(ticket.headers || {})) xhr.setRequestHeader(name, value);
    xhr.upload.onprogress = (event) => event.lengthComputable && onProgress(event.loaded / event.total);
    xhr.onload = () => (xhr.status < 300 ? resolve()
      : reject(new ApiError(xhr.status, { title: "The upload was refused", detail: xhr.responseText.slice(0, 200) })));
    xhr.onerror = () => reject(new ApiError(0, { title: "The upload failed", detail: "The storage service is not reachable." }));
    xhr.send(file);
  });
  onProgress(1);
  return ticket.media;
}

export async function waitForMedia(id, onStatus, { timeoutMs = 60000 } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const media = await api(`/api/media/${id}`);
    onStatus(media);
    if (media.status !== "pending") return media;
    if (Date.now() > deadline) throw new ApiError(0, { title: "Still processing", detail: "The image is taking long: check back later." });
    await new Promise((resolve) => setTimeout(resolve, 700));
  }
}

// The best variant for a width (WebP is served by every current browser).
export function variantUrl(media, width = 1024) {
  const webp = (media?.variants || []).filter((v) => v.format === "webp").sort((a, b) => a.width - b.width);
  return (webp.find((v) => v.width >= width) || webp[webp.length - 1])?.url;
}
