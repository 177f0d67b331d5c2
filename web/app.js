// The callcast test page: the sessions list (#/), and one session
// (#/s/<id>) with its preview, people, layout, outputs and health, kept
// live by server-sent events.

import { api, subscribe } from './api.js';
import { Chart } from './chart.js';
import { play } from './whep.js';

const $ = (sel) => document.querySelector(sel);
const el = (tag, props = {}, ...children) => {
  const e = Object.assign(document.createElement(tag), props);
  e.append(...children);
  return e;
};

function say(message, error = false) {
  const s = $('#status');
  s.textContent = message;
  s.classList.toggle('error', error);
}

/// Runs `f`, saying what went wrong if it fails.
async function attempt(what, f) {
  try {
    await f();
  } catch (e) {
    say(`${what}: ${e.message}`, true);
  }
}

function badge(node, state) {
  node.textContent = state;
  node.className = `badge state-${state}`;
}

/// Keeps `body`'s rows in step with `items` by key, reusing the rows
/// that stay (so a focused button keeps its focus across updates):
/// `create(item)` makes a row, `update(row, item)` refreshes it.
function syncRows(body, items, key, create, update) {
  const old = new Map([...body.children].map((r) => [r.dataset.key, r]));
  const rows = items.map((item) => {
    const row = old.get(key(item)) || create(item);
    row.dataset.key = key(item);
    update(row, item);
    return row;
  });
  rows.forEach((row, i) => {
    if (body.children[i] !== row) body.insertBefore(row, body.children[i] || null);
  });
  while (body.children.length > rows.length) body.lastChild.remove();
}

const kbps = (bps) => (bps >= 1e6 ? `${(bps / 1e6).toFixed(2)} Mb/s` : `${Math.round(bps / 1e3)} kb/s`);

// ---- the sessions list ----

let stopList = null;

function renderSessions(sessions) {
  syncRows($('#sessions tbody'), sessions, (s) => s.id, (s) => {
    const stop = el('button', { type: 'button', className: 'danger', textContent: 'Stop' });
    stop.setAttribute('aria-label', `Stop session ${s.id}`);
    stop.addEventListener('click', () => attempt('Stopping', async () => {
      stop.disabled = true;
      await api('DELETE', `/v1/sessions/${s.id}`);
      say(`Session ${s.id} stopped.`);
    }));
    return el('tr', {},
      el('td', {}, el('a', { href: `#/s/${s.id}`, textContent: s.id })),
      el('td', {}, el('span')), el('td'), el('td'), el('td'),
      el('td', {}, stop));
  }, (row, s) => {
    const cells = row.children;
    badge(cells[1].firstChild, s.state);
    cells[2].textContent = `${s.room.room} (${s.room.adapter})`;
    cells[3].textContent = s.participants;
    cells[4].textContent = s.outputs;
  });
  $('#no-sessions').hidden = sessions.length > 0;
  // Suggest the room of a running session to the form.
  const form = $('#new-session');
  if (sessions.length && !form.url.value) {
    form.url.value = sessions[0].room.url;
    form.adapter.value = sessions[0].room.adapter;
  }
}

function showList() {
  $('#session-view').hidden = true;
  $('#sessions-view').hidden = false;
  stopList = subscribe('/v1/events', (d) => renderSessions(d.sessions));
}

$('#new-session').addEventListener('submit', (e) => {
  e.preventDefault();
  const f = e.target;
  attempt('Starting the session', async () => {
    const s = await api('POST', '/v1/sessions', {
      // Janus rooms are numbers unless the server uses string ids.
      room: { adapter: f.adapter.value, url: f.url.value, room: /^\d+$/.test(f.room.value) ? Number(f.room.value) : f.room.value },
      layout: { kind: f.layout.value },
    });
    location.hash = `#/s/${s.id}`;
  });
});

// ---- one session ----

let current = null; // { id, stop, preview, fps, queues }

const STAGES = ['receive', 'track', 'program', 'encode', 'output'];

function renderRoster(roster) {
  $('#roster').replaceChildren(...roster.map((p) => {
    const video = p.tracks.filter((t) => t.kind === 'video').map((t) => t.source).join(', ');
    const li = el('li', { className: p.talking ? 'talking' : '' },
      el('span', { className: 'talking-dot', ariaHidden: 'true' }),
      el('span', { textContent: p.display || p.id }),
      el('span', { className: 'figures', textContent: video ? `(${video})` : '(no video)' }));
    li.dataset.participant = p.id;
    if (p.talking) li.append(el('span', { className: 'visually-hidden', textContent: 'talking' }));
    return li;
  }));
}

function renderOutputs(id, outputs) {
  syncRows($('#outputs tbody'), outputs, (o) => o.id, (o) => {
    const actions = el('td');
    if (o.kind === 'rtmp') {
      const edit = el('button', { type: 'button', className: 'secondary', textContent: 'Edit URLs' });
      edit.setAttribute('aria-label', `Edit the URLs of ${o.id}`);
      edit.addEventListener('click', () => {
        const urls = prompt('RTMP URLs, one per line (stream keys are not shown back: give every URL in full)');
        if (urls === null) return;
        attempt('Changing the URLs', async () => {
          await api('PATCH', `/v1/sessions/${id}/outputs/${o.id}`, { urls: urls.split('\n').map((u) => u.trim()).filter(Boolean) });
          say(`${o.id}: URLs changed.`);
        });
      });
      actions.append(edit, ' ');
    }
    const remove = el('button', { type: 'button', className: 'danger', textContent: 'Remove' });
    remove.setAttribute('aria-label', `Remove ${o.id}`);
    remove.addEventListener('click', () => attempt('Removing the output', async () => {
      remove.disabled = true;
      await api('DELETE', `/v1/sessions/${id}/outputs/${o.id}`);
      say(`${o.id} removed.`);
    }));
    actions.append(remove);
    const row = el('tr', {},
      el('td', { textContent: o.id }), el('td', { textContent: o.kind }),
      el('td'), el('td', {}, el('span')), el('td'), actions);
    row.dataset.output = o.id;
    return row;
  }, (row, o) => {
    const cells = row.children;
    cells[2].textContent = o.urls ? o.urls.map((u) => `${u.url} (${u.state})`).join(', ') : o.target;
    const state = cells[3].firstChild;
    badge(state, o.state);
    state.title = o.reason || '';
    cells[4].textContent = kbps(o.bitrate_bps);
  });
}

function renderHealth(stats) {
  const video = stats.tracks.filter((t) => t.kind === 'video');
  const slowest = video.length ? Math.min(...video.map((t) => t.fps)) : 0;
  current.fps.push([stats.program.fps, stats.encoder.fps, slowest]);
  $('#fps-now').textContent = `program ${stats.program.fps.toFixed(1)}, encoder ${stats.encoder.fps.toFixed(1)} (${stats.encoder.latency_ms.toFixed(1)} ms a frame), slowest input ${slowest.toFixed(1)}`
    + (stats.program.stalled_s ? `; STALLED for ${stats.program.stalled_s.toFixed(1)} s` : '');
  const fullest = STAGES.map((s) => Math.max(0, ...stats.queues.filter((q) => q.stage === s).map((q) => q.fill)));
  current.queues.push(fullest);
  const dropped = stats.tracks.reduce((n, t) => n + t.dropped, 0);
  const skipped = video.reduce((n, t) => n + t.skipped, 0);
  $('#queues-now').textContent = STAGES.map((s, i) => `${s} ${Math.round(fullest[i] * 100)}%`).join(', ')
    + `; ${dropped} input frames dropped by the queues, ${skipped} passed over late by the compositor`;
}

function render(d) {
  const { info, stats } = d;
  badge($('#session-state'), info.state);
  $('#session-room').textContent = `${info.room.room} on ${info.room.url} (${info.room.adapter}), layout ${info.layout.effective}`;
  renderRoster(info.roster);
  renderOutputs(info.id, info.outputs);
  renderHealth(stats);
  if (!current.layoutShown) {
    const f = $('#layout-form');
    f.kind.value = info.layout.config.kind;
    f.fit.value = info.layout.config.fit;
    f.labels.checked = info.layout.config.labels;
    f.corner_radius.value = info.layout.config.corner_radius;
    current.layoutShown = true;
  }
}

function showSession(id) {
  $('#sessions-view').hidden = true;
  $('#session-view').hidden = false;
  $('#session-id').textContent = id;
  $('#graph').replaceChildren();
  current = {
    id,
    preview: null,
    layoutShown: false,
    fps: new Chart($('#fps-chart'), ['program', 'encoder', 'slowest input']),
    queues: new Chart($('#queue-chart'), STAGES, { max: 1 }),
  };
  current.stop = subscribe(`/v1/sessions/${id}/events`, render, () => {
    say(`Session ${id} has ended.`);
    location.hash = '#/';
  });
}

async function stopPreview() {
  if (current && current.preview) {
    const p = current.preview;
    current.preview = null;
    await p.stop();
  }
  $('#preview-toggle').textContent = 'Start preview';
  $('#preview-state').textContent = '';
}

$('#preview-toggle').addEventListener('click', () => {
  if (current.preview) {
    stopPreview();
    return;
  }
  const button = $('#preview-toggle');
  button.disabled = true;
  attempt('Starting the preview', async () => {
    // The player gets a viewer token, as an outside WHEP player would.
    const base = `/v1/sessions/${current.id}`;
    const { token } = await api('POST', `${base}/whep-token`);
    current.preview = await play($('#preview'), `${base}/whep`, token, (state) => {
      $('#preview-state').textContent = state;
    });
    button.textContent = 'Stop preview';
  }).finally(() => { button.disabled = false; });
});

$('#stop-session').addEventListener('click', () => attempt('Stopping the session', async () => {
  await stopPreview();
  await api('DELETE', `/v1/sessions/${current.id}`);
  say(`Session ${current.id} stopped.`);
  location.hash = '#/';
}));

$('#layout-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const f = e.target;
  attempt('Changing the layout', async () => {
    await api('PUT', `/v1/sessions/${current.id}/layout`, {
      kind: f.kind.value,
      fit: f.fit.value,
      labels: f.labels.checked,
      corner_radius: Number(f.corner_radius.value),
    });
    say('Layout changed.');
  });
});

const addForm = $('#add-output');
function showOutputFields() {
  const kind = addForm.kind.value;
  for (const label of addForm.querySelectorAll('[data-for]')) {
    label.hidden = !label.dataset.for.split(' ').includes(kind);
  }
}
addForm.kind.addEventListener('change', showOutputFields);
showOutputFields();
addForm.addEventListener('submit', (e) => {
  e.preventDefault();
  const f = e.target;
  const kind = f.kind.value;
  const spec = { kind };
  if (kind === 'rtmp') spec.urls = f.urls.value.split('\n').map((u) => u.trim()).filter(Boolean);
  if (kind === 'srt') Object.assign(spec, { url: f.srt_url.value, mode: f.mode.value });
  if (kind === 'record' || kind === 'hls') spec.location = f.location.value;
  if (kind === 'hls') {
    spec.variants = f.variants.value.split(',').map((v) => {
      const [height, kbps] = v.split(':').map((n) => Number(n.trim()));
      return { height, video_kbps: kbps };
    });
  }
  attempt('Adding the output', async () => {
    const o = await api('POST', `/v1/sessions/${current.id}/outputs`, spec);
    say(`${o.id} added.`);
  });
});

$('#graph-load').addEventListener('click', () => attempt('Drawing the graph', async () => {
  const resp = await fetch(`/v1/sessions/${current.id}/graph?format=svg`);
  if (!resp.ok) throw new Error((await resp.json()).error.message);
  const svg = new DOMParser().parseFromString(await resp.text(), 'image/svg+xml').documentElement;
  $('#graph').replaceChildren(svg);
}));

// ---- routing ----

async function route() {
  if (stopList) { stopList(); stopList = null; }
  if (current) {
    current.stop();
    await stopPreview();
    current = null;
  }
  const m = location.hash.match(/^#\/s\/([\w-]+)/);
  if (m) showSession(m[1]); else showList();
}

window.addEventListener('hashchange', route);
window.addEventListener('pagehide', () => { stopPreview(); });
route();
