// The platform's HTTP API through Hosting's /api/** rewrites. Errors arrive as RFC 9457
// problem+json; they become ApiError, whose title and detail the pages show as they are.
import { currentToken } from "./firebase.js";

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.title = problem.title || "Something went wrong";
    this.detail = problem.detail || "";
    this.code = problem.code || "error";
    this.errors = problem.errors || [];
  }
}

export async function api(path, { method = "GET", body, query, headers = {}, raw = false } = {}) {
  const url = new URL(path, window.location.origin);
  for (const [key, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(key, value);
  }
  const token = await currentToken();
  const init = { method, headers: { Accept: "application/json, application/problem+json", ...headers } };
  if (token) init.headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url, init);
  } catch {
    throw new ApiError(0, { title: "The platform is not reachable", detail: "Check your connection and try again." });
  }
  if (raw) return response;
  if (response.status === 204) return null;
  const type = response.headers.get("Content-Type") || "";
  const data = type.includes("json") ? await response.json() : null;
  if (!response.ok) throw new ApiError(response.status, data || { title: response.statusText });
  if (data && typeof data === "object" && !Array.isArray(data)) {
    Object.defineProperty(data, "_etag", { value: response.headers.get("ETag"), enumerable: false });
  }
  return data;
}
