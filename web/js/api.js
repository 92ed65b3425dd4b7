// The API client: the ID token from sign-in rides as a Bearer on every /api call; a 401 sends
// the user back to the sign-in page.
import { msg } from "./i18n.js";

const TOKEN = "sj.id_token";
const REFRESH = "sj.refresh_token";
const WHO = "sj.who";

export class ApiError extends Error {
  constructor(status, body, path) {
    super(msg(body) || `HTTP ${status}`);
    this.status = status;
    this.body = body || {};
    this.path = path;
  }
  /** A route the deployed API does not have (yet): the gateway's own 404 carries no error code. */
  get unavailable() { return (this.status === 404 || this.status === 405) && !this.body.code; }
}

export const session = {
  get token() { return sessionStorage.getItem(TOKEN); },
  save(doc) {
    sessionStorage.setItem(TOKEN, doc.id_token);
    if (doc.refresh_token) sessionStorage.setItem(REFRESH, doc.refresh_token);
    // who signed in, as sign-in answered: shown only until GET /api/me answers
    sessionStorage.setItem(WHO, JSON.stringify({ username: doc.username, role: doc.role, merchant_id: doc.merchant_id || null }));
  },
  get signedIn() { try { return JSON.parse(sessionStorage.getItem(WHO) || "null"); } catch { return null; } },
  clear() { for (const k of [TOKEN, REFRESH, WHO]) sessionStorage.removeItem(k); },
};

let onUnauthorized = () => {};
export function setUnauthorizedHandler(fn) { onUnauthorized = fn; }

async function read(r) {
  const text = await r.text();
  if (!text) return null;
  try { return JSON.parse(text); } catch { return { message: text.slice(0, 200) }; }
}

export async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  const token = session.token;
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const data = await read(r);
  if (r.status === 401) {
    session.clear();
    onUnauthorized();
    throw new ApiError(401, data, path);
  }
  if (!r.ok) throw new ApiError(r.status, data, path);
  return data;
}

export const get = (path) => api("GET", path);
export const post = (path, body = {}) => api("POST", path, body);
export const put = (path, body = {}) => api("PUT", path, body);

export async function signIn(username, password) {
  const r = await fetch("/auth/login", {
    method: "POST", headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify({ username, password }),
  });
  const data = await read(r);
  if (!r.ok) throw new ApiError(r.status, data, "/auth/login");
  session.save(data);
  return data;
}

export function qs(params) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") p.set(k, v);
  const s = p.toString();
  return s ? `?${s}` : "";
}

/** A browser-side upload to a presigned POST, with real progress from upload.onprogress. */
export function uploadPresigned(presigned, file, onProgress) {
  return new Promise((resolve, reject) => {
    const form = new FormData();
    for (const [k, v] of Object.entries(presigned.fields || {})) form.append(k, v);
    form.append("file", file);          // the file must come last in an S3 POST
    const xhr = new XMLHttpRequest();
    xhr.open("POST", presigned.url);
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) onProgress(e.loaded / e.total); };
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) { onProgress(1); resolve(presigned.key); }
      else reject(new Error(`S3 ${xhr.status}`));
    };
    xhr.onerror = () => reject(new Error("network"));
    xhr.send(form);
  });
}
