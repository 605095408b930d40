// The variant set of shared/media/images.py, made with sharp (libvips) at matched settings.
// usage: node variants.js <input> <avif effort> -> prints {"seconds": s, "bytes": n, "avif_bytes": n}
const fs = require("fs");
const sharp = require("sharp");

sharp.concurrency(1);
sharp.cache(false);

async function main() {
  const [input, avifEffort] = process.argv.slice(2);
  const data = fs.readFileSync(input);
  const started = process.hrtime.bigint();
  const meta = await sharp(data).rotate().metadata();
  const longEdge = Math.max(meta.width, meta.height);
  const edges = [...new Set([2048, 1024, 256].map((e) => Math.min(e, longEdge)))];
  let bytes = 0;
  let avifBytes = 0;
  for (const edge of edges) {
    const resized = () => sharp(data).rotate().resize({ width: edge, height: edge, fit: "inside", withoutEnlargement: true });
    bytes += (await resized().webp({ quality: 80, effort: 4 }).toBuffer()).length;
    const avif = await resized().avif({ quality: 55, effort: Number(avifEffort) }).toBuffer();
    bytes += avif.length;
    avifBytes += avif.length;
  }
  await sharp(data).resize(16, 16, { fit: "inside" }).blur(1).webp({ quality: 40 }).toBuffer();
  await sharp(data).stats();
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  console.log(JSON.stringify({ seconds, bytes, avif_bytes: avifBytes }));
}

main().catch((error) => { console.error(error); process.exit(1); });
