// The API reference, rendered from the OpenAPI 3.1 document the backend generates.
import { useMemo, useState } from "react";
import { Loading, Problem, useLoad } from "../components/States.jsx";

const refName = (ref) => ref.split("/").pop();

function typeOf(schema) {
  if (!schema) return "";
  if (schema.$ref) return refName(schema.$ref);
  if (schema.anyOf) return schema.anyOf.map(typeOf).join(" | ");
  if (schema.type === "array") return `${typeOf(schema.items)}[]`;
  if (schema.enum) return schema.enum.map((v) => JSON.stringify(v)).join(" | ");
  return schema.type || "object";
}

function Schema({ name, schema }) {
  const required = new Set(schema.required || []);
  return (
    <details className="schema" id={`schema-${name}`}>
      <summary><code>{name}</code></summary>
      <table>
        <tbody>
          {Object.entries(schema.properties || {}).map(([field, s]) => (
            <tr key={field}><td><code>{field}</code>{required.has(field) ? "" : "?"}</td><td>{typeOf(s)}</td><td>{s.description || ""}</td></tr>
          ))}
        </tbody>
      </table>
    </details>
  );
}

function Operation({ method, path, op }) {
  const body = op.requestBody?.content?.["application/json"]?.schema;
  return (
    <details className="operation">
      <summary><span className={`method ${method}`}>{method.toUpperCase()}</span> <code>{path}</code> <span>{op.summary}</span></summary>
      {op.security?.length ? <p className="muted">Needs a Firebase ID token (Authorization: Bearer).</p> : <p className="muted">Public.</p>}
      {op.parameters?.length > 0 && (
        <table><thead><tr><th>Parameter</th><th>In</th><th>Type</th></tr></thead>
          <tbody>{op.parameters.map((p) => <tr key={`${p.in}-${p.name}`}><td><code>{p.name}</code>{p.required ? "" : "?"}</td><td>{p.in}</td><td>{typeOf(p.schema)}</td></tr>)}</tbody>
        </table>
      )}
      {body && <p>Body: <code>{typeOf(body)}</code> (see Schemas below)</p>}
      <ul>
        {Object.entries(op.responses || {}).map(([status, r]) => {
          const content = r.content && Object.values(r.content)[0]?.schema;
          return <li key={status}><code>{status}</code> {r.description} {content && <code>{typeOf(content)}</code>}</li>;
        })}
      </ul>
    </details>
  );
}

export function ApiReference() {
  const doc = useLoad(() => fetch("/api/openapi.json").then((r) => (r.ok ? r.json() : Promise.reject({ title: "The API document is not available" }))), []);
  const [filter, setFilter] = useState("");
  const operations = useMemo(() => {
    if (!doc.data) return [];
    return Object.entries(doc.data.paths).flatMap(([path, methods]) => Object.entries(methods).map(([method, op]) => ({ path, method, op })))
      .filter(({ path, op }) => `${path} ${op.summary}`.toLowerCase().includes(filter.toLowerCase()));
  }, [doc.data, filter]);
  if (doc.loading) return <Loading />;
  if (doc.error) return <section className="page"><Problem error={doc.error} onRetry={doc.reload} /></section>;
  return (
    <section className="page">
      <h1>{doc.data.info.title} <small>{doc.data.info.version}</small></h1>
      <p>{doc.data.info.description} Errors are <code>application/problem+json</code> (RFC 9457). The raw document: <a href="/api/openapi.json">/api/openapi.json</a>.</p>
      <label>Filter endpoints<input type="search" value={filter} onChange={(e) => setFilter(e.target.value)} placeholder="items, bids, wallet…" /></label>
      <p className="muted">{operations.length} endpoints</p>
      <div className="operations" data-testid="operations">{operations.map(({ path, method, op }) => <Operation key={`${method} ${path}`} method={method} path={path} op={op} />)}</div>
      <h2>Schemas</h2>
      {Object.entries(doc.data.components?.schemas || {}).map(([name, schema]) => <Schema key={name} name={name} schema={schema} />)}
    </section>
  );
}
