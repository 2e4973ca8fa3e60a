// The console's only way to the server: POST /api/v2?Action=<Name>, the public OpenAPI, with the
// session cookie and its CSRF token.

let csrf = '';
let onUnauthorized = () => {};

export class ApiError extends Error {
  constructor(status, env) {
    super(env.message || 'HTTP ' + status);
    this.status = status;
    this.code = env.code || '';
    this.advice = env.advice || '';
    this.requestId = env.requestId || '';
  }
}

export function setCSRF(token) { csrf = token || ''; }
export function setOnUnauthorized(fn) { onUnauthorized = fn; }

// api calls one action and returns its data; paged calls also get the envelope as second value
// through apiPage.
export async function api(action, body) {
  return (await apiPage(action, body)).data;
}

function post(action, body) {
  return fetch('/api/v2?Action=' + encodeURIComponent(action), {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json', 'X-OMS-Console': '1', 'X-CSRF-Token': csrf },
    body: JSON.stringify(body || {}),
  });
}

export async function apiPage(action, body) {
  return envelope(action, await post(action, body));
}

// apiDownload calls an action with attachment: true and saves the file it answers with (the
// name from its Content-Disposition); an error comes back as the usual envelope.
export async function apiDownload(action, body) {
  const resp = await post(action, { ...(body || {}), attachment: true });
  const disp = resp.headers.get('Content-Disposition') || '';
  if (!resp.ok || !disp.startsWith('attachment')) {
    await envelope(action, resp);
    throw new ApiError(resp.status, { code: 'API_NOT_ATTACHMENT', message: action + ' answered without a file', advice: 'retry; if it persists, check the node' });
  }
  const m = /filename="?([^";]+)"?/.exec(disp);
  const url = URL.createObjectURL(await resp.blob());
  const a = document.createElement('a');
  a.href = url;
  a.download = m ? m[1] : 'download';
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
  return a.download;
}

async function envelope(action, resp) {
  let env;
  try {
    env = await resp.json();
  } catch {
    throw new ApiError(resp.status, { code: 'API_NOT_JSON', message: 'the node answered HTTP ' + resp.status + ' without an OpenAPI envelope', advice: 'retry; if it persists, check the node' });
  }
  if (!env.success) {
    const err = new ApiError(resp.status, env);
    if (resp.status === 401 && action !== 'Login') onUnauthorized(err);
    throw err;
  }
  return env;
}

// apiAll pages through a list action (pageNumber/pageSize) up to limit items.
export async function apiAll(action, body, limit) {
  const out = [];
  for (let page = 1; out.length < (limit || 10000); page++) {
    const env = await apiPage(action, { ...(body || {}), pageNumber: page, pageSize: 500 });
    const items = env.data || [];
    out.push(...items);
    if (items.length < 500 || out.length >= (env.totalCount || 0)) break;
  }
  return out;
}

// describe turns an error into the text shown to the user: message plus advice.
export function describe(err) {
  if (err instanceof ApiError) return err.message + (err.advice ? ' — ' + err.advice : '') + (err.status === 403 ? ' (HTTP 403)' : '');
  return String(err && err.message ? err.message : err);
}
