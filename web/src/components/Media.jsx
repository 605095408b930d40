import { useState } from "react";
import { api } from "../lib/api.js";
import { uploadImage, variantUrl, waitForMedia } from "../lib/upload.js";
import { useLoad } from "./States.jsx";
import { Problem } from "./States.jsx";

// A processed image: the blurred placeholder (and dominant colour) until the variant loads.
export function Picture({ media, alt, width = 1024, className = "" }) {
  const [loaded, setLoaded] = useState(false);
  const url = variantUrl(media, width);
  if (!media || !url) return null;
  const style = { backgroundColor: media.dominant_color || "#ddd", aspectRatio: `${media.width} / ${media.height}` };
  if (media.placeholder) style.backgroundImage = `url("${media.placeholder}")`;
  return (
    <div className={`picture ${className}`} style={style} data-testid="picture">
      <img src={url} alt={alt} loading="lazy" onLoad={() => setLoaded(true)} className={loaded ? "loaded" : ""} />
    </div>
  );
}

export function MediaById({ id, alt, width, className }) {
  const { data } = useLoad(() => (id ? api(`/api/media/${id}`) : null), [id]);
  return data ? <Picture media={data} alt={alt} width={width} className={className} /> : null;
}

// Pick a file, upload it with a progress bar, follow processing, hand back the ready media.
export function ImageUpload({ purpose, label, onReady, preview = true }) {
  const [progress, setProgress] = useState(null);
  const [status, setStatus] = useState(null);
  const [error, setError] = useState(null);
  const [media, setMedia] = useState(null);

  const choose = async (event) => {
    const file = event.target.files?.[0];
    if (!file) return;
    setError(null); setMedia(null); setStatus("uploading"); setProgress(0);
    try {
      const pending = await uploadImage(file, purpose, setProgress);
      setStatus("processing");
      const done = await waitForMedia(pending.id, (m) => setStatus(m.status === "pending" ? "processing" : m.status));
      if (done.status === "rejected") {
        setError({ title: "The image was rejected", detail: done.reject_reason });
        return;
      }
      setMedia(done);
      await onReady(done);
    } catch (caught) {
      setError(caught);
      setStatus(null);
    }
  };

  return (
    <div className="upload">
      <label className="file">
        <span>{label}</span>
        <input type="file" accept="image/jpeg,image/png,image/webp,image/avif" onChange={choose} />
      </label>
      {progress !== null && status === "uploading" && (
        <progress max="1" value={progress} aria-label="Upload progress">{Math.round(progress * 100)}%</progress>
      )}
      {status === "processing" && <p className="state" role="status">Processing the image…</p>}
      {status === "ready" && <p className="state ok" role="status">Image ready.</p>}
      <Problem error={error} />
      {media && preview && <Picture media={media} alt="The uploaded image" width={256} className="preview" />}
    </div>
  );
}
