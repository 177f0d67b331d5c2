// The HTTP API, as the page uses it. Errors carry the API's message and
// the field it names.

export class ApiError extends Error {
  constructor(status, body) {
    const e = body && body.error;
    super(e ? (e.field ? `${e.field}: ${e.message}` : e.message) : `HTTP ${status}`);
    this.status = status;
    this.field = e && e.field;
  }
}

export async function api(method, path, body) {
  const init = { method, headers: {} };
  if (body !== undefined) {
    init.headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const resp = await fetch(path, init);
  const text = await resp.text();
  const json = text ? JSON.parse(text) : null;
  if (!resp.ok) throw new ApiError(resp.status, json);
  return json;
}

/// Calls `onUpdate(data)` for every server-sent `update` event at `path`
/// (reconnecting as EventSource does), and `onGone()` when the server
/// says what it watches is gone; returns a function that stops.
export function subscribe(path, onUpdate, onGone = () => {}) {
  const source = new EventSource(path);
  source.addEventListener('update', (e) => onUpdate(JSON.parse(e.data)));
  source.addEventListener('gone', () => {
    source.close();
    onGone();
  });
  return () => source.close();
}
