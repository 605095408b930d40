// The ego network as a force-directed drawing: d3-force lays it out, React draws SVG.
// Every node is a link (Tab to it, Enter opens it); hovering or focusing one brings
// out its edges; a node can be dragged.
import { useMemo, useRef, useState } from "react";
import { forceCollide, forceLink, forceManyBody, forceSimulation } from "d3-force";

const SIZE = { width: 720, height: 480 };
const COLORS = { User: "#3b5bdb", Proposal: "#e8590c", Item: "#2b8a3e", Category: "#868e96", Tag: "#ae3ec9" };

// Users, proposals and items carry a name or title; tags and categories are their slug.
export const nameOf = (node) => node.name || (["Tag", "Category"].includes(node.label) ? `#${node.id}` : node.label);

export function href(node) {
  if (node.label === "User") return `#/users/${node.id}`;
  if (node.label === "Proposal") return `#/proposals/${node.id}`;
  if (node.label === "Item") return `#/items/${node.id}`;
  return undefined;
}

// Rings by distance from you (breadth first), then forces: a readable start the
// simulation only refines, instead of a tangle it may never undo.
function rings(nodes, links, me) {
  const neighbours = new Map(nodes.map((n) => [n.id, []]));
  for (const l of links) {
    neighbours.get(l.source)?.push(l.target);
    neighbours.get(l.target)?.push(l.source);
  }
  const depth = new Map([[me, 0]]);
  const queue = [me];
  while (queue.length) {
    const id = queue.shift();
    for (const next of neighbours.get(id) || []) {
      if (!depth.has(next)) { depth.set(next, depth.get(id) + 1); queue.push(next); }
    }
  }
  const byRing = new Map();
  for (const n of nodes) {
    const ring = depth.get(n.id) ?? 3;
    byRing.set(ring, [...(byRing.get(ring) || []), n]);
  }
  for (const [ring, members] of byRing) {
    members.forEach((n, i) => {
      const angle = (2 * Math.PI * i) / members.length + ring * 0.6;
      n.x = SIZE.width / 2 + ring * 130 * Math.cos(angle);
      n.y = SIZE.height / 2 + ring * 130 * Math.sin(angle);
    });
  }
}

function layout(network, me) {
  const nodes = network.nodes.map((n) => ({ ...n, me: n.id === me }));
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const links = network.edges.filter((e) => byId.has(e.source) && byId.has(e.target)).map((e) => ({ ...e }));
  rings(nodes, links, me);
  const me_node = byId.get(me);
  if (me_node) { me_node.fx = SIZE.width / 2; me_node.fy = SIZE.height / 2; }
  forceSimulation(nodes)
    .force("link", forceLink(links).id((n) => n.id).distance(120).strength(0.7))
    .force("charge", forceManyBody().strength(-500))
    .force("collide", forceCollide(44))
    .stop()
    .tick(300);
  return { nodes, links };
}

// The drawing's box: the nodes' bounds plus room for labels, never smaller than a card.
function viewBox(positions) {
  const xs = [...positions.values()].map(([x]) => x);
  const ys = [...positions.values()].map(([, y]) => y);
  const pad = 70;
  let [x0, x1, y0, y1] = [Math.min(...xs) - pad, Math.max(...xs) + pad, Math.min(...ys) - pad, Math.max(...ys) + pad];
  const grow = (lo, hi, min) => (hi - lo < min ? [(lo + hi - min) / 2, (lo + hi + min) / 2] : [lo, hi]);
  [x0, x1] = grow(x0, x1, 360);
  [y0, y1] = grow(y0, y1, 240);
  return `${x0} ${y0} ${x1 - x0} ${y1 - y0}`;
}

export function EgoGraph({ network, me }) {
  const initial = useMemo(() => layout(network, me), [network, me]);
  const [positions, setPositions] = useState(() => new Map(initial.nodes.map((n) => [n.id, [n.x, n.y]])));
  const [box] = useState(() => viewBox(positions));
  const [focus, setFocus] = useState(null);
  const svg = useRef(null);
  const drag = useRef(null);

  const toSvg = (event) => {
    const point = svg.current.createSVGPoint();
    point.x = event.clientX; point.y = event.clientY;
    return point.matrixTransform(svg.current.getScreenCTM().inverse());
  };
  const onMove = (event) => {
    if (!drag.current) return;
    const { x, y } = toSvg(event);
    drag.current.moved = true;
    setPositions((p) => new Map(p).set(drag.current.id, [x, y]));
  };
  const near = (id) => focus && (id === focus || initial.links.some((l) => (l.source.id === focus && l.target.id === id) || (l.target.id === focus && l.source.id === id)));

  return (
    <figure className="graph">
      <svg ref={svg} viewBox={box} role="group" aria-label="Your network"
        onPointerMove={onMove} onPointerUp={() => { drag.current = null; }} onPointerLeave={() => { drag.current = null; }}>
        {initial.links.map((l, i) => {
          const [x1, y1] = positions.get(l.source.id);
          const [x2, y2] = positions.get(l.target.id);
          const lit = focus && (l.source.id === focus || l.target.id === focus);
          return (
            <g key={i} className={`edge ${lit ? "lit" : ""}`}>
              <line x1={x1} y1={y1} x2={x2} y2={y2} />
              {lit && <text x={(x1 + x2) / 2} y={(y1 + y2) / 2 - 4}>{l.type.toLowerCase()}</text>}
            </g>
          );
        })}
        {initial.nodes.map((n) => {
          const [x, y] = positions.get(n.id);
          const label = `${nameOf(n)} (${n.label.toLowerCase()}${n.me ? ", you" : ""})`;
          return (
            <a key={n.id} href={href(n)} aria-label={label} className={`node ${focus && !near(n.id) ? "dim" : ""}`}
              onMouseEnter={() => setFocus(n.id)} onMouseLeave={() => setFocus(null)} onFocus={() => setFocus(n.id)} onBlur={() => setFocus(null)}
              onPointerDown={(e) => { drag.current = { id: n.id, moved: false }; e.currentTarget.setPointerCapture?.(e.pointerId); }}
              onClick={(e) => { if (drag.current?.moved) e.preventDefault(); }}>
              <title>{label}</title>
              <circle cx={x} cy={y} r={n.me ? 16 : 11} fill={COLORS[n.label] || "#495057"} stroke={n.me ? "#111" : "#fff"} strokeWidth={n.me ? 3 : 2} />
              <text x={x} y={y + (n.me ? 30 : 24)} textAnchor="middle">{nameOf(n).slice(0, 22)}</text>
            </a>
          );
        })}
      </svg>
      <figcaption>
        {Object.entries(COLORS).map(([label, color]) => <span key={label} className="legend"><i style={{ background: color }} />{label}</span>)}
        {network.truncated && <span className="muted"> · showing the first {network.edges.length} connections</span>}
      </figcaption>
    </figure>
  );
}
