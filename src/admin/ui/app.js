// The Portcullis flow map: renders the admin port's server-sent views (already aggregated and bounded by the
// gateway). Plain DOM and SVG, text only through textContent, no third-party code.

const SVG = 'http://www.w3.org/2000/svg';
const $ = (id) => document.getElementById(id);
const filters = ['identity', 'host', 'decision', 'code'];
let source = null;
let started = 0;

function el(tag, attrs = {}, text) {
  const e = tag.startsWith('svg:') ? document.createElementNS(SVG, tag.slice(4)) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

function bytes(n) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`;
}

function duration(ms) {
  const s = Math.floor(ms / 1000);
  const d = Math.floor(s / 86400),
    h = Math.floor((s % 86400) / 3600),
    m = Math.floor((s % 3600) / 60);
  return d > 0 ? `${d}d ${h}h` : h > 0 ? `${h}h ${m}m` : `${m}m ${s % 60}s`;
}

function short(text, max) {
  return text.length > max ? `…${text.slice(text.length - max + 1)}` : text;
}

/** The same words `portcullis check` prints: verdict, code and reason, then each layer with its policy. */
function explain(f) {
  const lines = [`${f.decision.toUpperCase()}  ${f.source} -> ${f.authority}`, `  ${f.code}: ${f.reason}`];
  if (f.serviceEntry)
    lines.push(`  destination: ServiceEntry ${f.serviceEntry}${f.gateway ? ` via Gateway ${f.gateway}` : ''}`);
  else if (f.kind === 'tunnel') lines.push('  destination: (none: unknown destination, decided by egressPolicies)');
  if (f.method) lines.push(`  request: ${f.method} ${f.path}`);
  for (const l of f.layers) {
    lines.push(
      `  layer ${l.layer.padEnd(14)} ${l.decision.padEnd(5)} ${l.target}: ${l.reason}${l.policy ? ` [policy ${l.policy}]` : ''}`,
    );
  }
  return lines.join('\n');
}

function layersText(last) {
  if (last.layers.length === 0) return `${last.decision} ${last.code}`;
  return last.layers.map((l) => `${l.layer}: ${l.decision} ${l.policy ?? l.code}`).join('\n');
}

function banners(status, dropped) {
  const box = $('banners');
  box.replaceChildren();
  if (!status) return;
  if (status.learn) {
    box.append(
      el(
        'div',
        { class: 'banner learn', id: 'learn-banner' },
        'LEARN MODE: nothing is enforced. Policy denials are allowed and logged as would-deny. Run `portcullis suggest`, apply, then remove learn: true.',
      ),
    );
  }
  if (status.configErrorCount > 0 || status.failClosed.length > 0) {
    const b = el('div', { class: 'banner error', id: 'error-banner' });
    if (status.configErrorCount > 0) {
      b.append(
        el('h3', {}, `${status.configErrorCount} configuration error(s): the resources they name are not in force`),
      );
      const ul = el('ul');
      for (const e of status.configErrors) ul.append(el('li', {}, `${e.where}: ${e.code}: ${e.message}`));
      b.append(ul);
    }
    if (status.failClosed.length > 0) {
      b.append(el('h3', {}, 'Layers failing closed (every decision there denies):'));
      const ul = el('ul');
      for (const f of status.failClosed) ul.append(el('li', {}, f));
      b.append(ul);
    }
    box.append(b);
  }
  if (status.problems.length > 0 || dropped > 0) {
    const b = el('div', { class: 'banner warn' });
    b.append(el('h3', {}, 'Problems the gateway survived'));
    const ul = el('ul');
    for (const p of status.problems) ul.append(el('li', {}, `${new Date(p.t).toISOString()} ${p.code}: ${p.message}`));
    if (dropped > 0)
      ul.append(
        el('li', {}, `${dropped} decision event(s) arrived faster than the map takes them and are not counted`),
      );
    b.append(ul);
    box.append(b);
  }
}

function drawMap(view) {
  const svg = $('map');
  svg.replaceChildren();
  const rowH = 26,
    top = 30,
    width = Math.max(svg.clientWidth || 1100, 760);
  const leftW = Math.min(380, width * 0.36),
    rightW = Math.min(300, width * 0.3);
  const rightX = width - rightW - 10;
  const place = (nodes, groupKey) => {
    const out = new Map();
    let y = top,
      group = null;
    for (const n of nodes) {
      if (n[groupKey] !== group) {
        if (group !== null) y += 10;
        group = n[groupKey];
        out.set(`group:${group}:${y}`, { header: group, y });
        y += 18;
      }
      out.set(n.id, { node: n, y });
      y += rowH;
    }
    return { out, height: y };
  };
  const left = place(view.sources, 'group');
  const right = place(view.destinations, 'kind');
  const height = Math.max(left.height, right.height, 120) + 10;
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  svg.setAttribute('height', String(height));
  const groupNames = {
    serviceEntry: 'ServiceEntry hosts',
    range: 'unknown hosts, by egressPolicies range',
    other: 'other',
  };
  const edgeLayer = el('svg:g');
  svg.append(edgeLayer);
  const drawColumn = (placed, x, w, side) => {
    for (const [, p] of placed.out) {
      if (p.header !== undefined) {
        svg.append(
          el(
            'svg:text',
            { class: 'group', x: x + 2, y: p.y + 12 },
            side === 'left' ? `namespace ${p.header}` : (groupNames[p.header] ?? p.header),
          ),
        );
        continue;
      }
      const g = el('svg:g', { class: `node ${p.node.kind}`, 'data-id': p.node.id });
      g.append(el('svg:rect', { x, y: p.y, width: w, height: rowH - 6 }));
      const label =
        p.node.kind === 'range'
          ? p.node.label.replace(/^unknown: /, '')
          : p.node.kind === 'namespace'
            ? `${p.node.label} (${p.node.members} identities)`
            : p.node.kind === 'identity'
              ? p.node.label.replace(/^spiffe:\/\/[^/]+\/ns\/[^/]+\/sa\//, 'sa/')
              : p.node.label;
      g.append(el('svg:text', { x: x + 6, y: p.y + 14 }, short(label, Math.floor(w / 7.4))));
      g.append(
        el(
          'svg:title',
          {},
          p.node.kind === 'range' || p.node.kind === 'other'
            ? `${p.node.label} (${p.node.members} host(s))`
            : p.node.label,
        ),
      );
      svg.append(g);
    }
  };
  drawColumn(left, 10, leftW, 'left');
  drawColumn(right, rightX, rightW, 'right');
  const max = Math.max(1, ...view.edges.map((e) => e.allowed + e.denied + e.wouldDeny));
  for (const e of view.edges) {
    const a = left.out.get(e.from),
      b = right.out.get(e.to);
    if (!a || !b) continue;
    const x1 = 10 + leftW,
      y1 = a.y + (rowH - 6) / 2,
      x2 = rightX,
      y2 = b.y + (rowH - 6) / 2,
      mx = (x1 + x2) / 2;
    const cls = e.denied > 0 ? 'deny' : e.wouldDeny > 0 ? 'would-deny' : 'allow';
    const total = e.allowed + e.denied + e.wouldDeny;
    const path = el('svg:path', {
      class: `edge ${cls}`,
      d: `M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2},${y2}`,
      'stroke-width': (1.5 + (4 * Math.log(1 + total)) / Math.log(1 + max)).toFixed(1),
      'data-from': e.from,
      'data-to': e.to,
      'data-allowed': e.allowed,
      'data-denied': e.denied,
      'data-would-deny': e.wouldDeny,
    });
    path.append(
      el(
        'svg:title',
        {},
        `${e.allowed} allowed, ${e.denied} denied, ${e.wouldDeny} would-deny, ${bytes(e.bytes)}\n${layersText(e.last)}`,
      ),
    );
    edgeLayer.append(path);
    // With many edges the counts would pile up: the edges table and each edge's tooltip carry them instead.
    if (view.edges.length > 40) continue;
    // Counts sit on the curve near the destination, at a height that depends on the source, so edges into one
    // destination do not print over each other.
    const tt = 0.62,
      ct = 1 - tt;
    const lx = ct ** 3 * x1 + 3 * ct * ct * tt * mx + 3 * ct * tt * tt * mx + tt ** 3 * x2;
    const ly = (ct ** 3 + 3 * ct * ct * tt) * y1 + (3 * ct * tt * tt + tt ** 3) * y2;
    const t = el('svg:text', { class: 'count', x: lx, y: ly - 5, 'text-anchor': 'middle' });
    t.append(el('svg:tspan', { class: 'a' }, `✓${e.allowed} `));
    t.append(el('svg:tspan', { class: 'd' }, e.denied > 0 ? `✗${e.denied} ` : ''));
    t.append(el('svg:tspan', { class: 'w' }, e.wouldDeny > 0 ? `⚠${e.wouldDeny}` : ''));
    edgeLayer.append(t);
  }
  $('hidden').textContent =
    view.hiddenEdges > 0 || view.clustered
      ? `${view.clustered ? 'Identities are clustered by namespace (too many to draw one by one). ' : ''}${view.hiddenEdges > 0 ? `${view.hiddenEdges} quieter edge(s) not drawn: filter to see them.` : ''}`
      : '';
}

function fillEdges(view) {
  const names = new Map([...view.sources, ...view.destinations].map((n) => [n.id, n.label]));
  const body = $('edges').tBodies[0];
  body.replaceChildren();
  for (const e of view.edges) {
    const cls = e.denied > 0 ? 'deny' : e.wouldDeny > 0 ? 'would-deny' : 'allow';
    const tr = el('tr', { class: cls, 'data-from': names.get(e.from) ?? e.from, 'data-to': names.get(e.to) ?? e.to });
    tr.append(
      el('td', {}, names.get(e.from) ?? e.from),
      el('td', {}, names.get(e.to) ?? e.to),
      el('td', { class: 'allowed' }, String(e.allowed)),
      el('td', { class: 'denied' }, String(e.denied)),
      el('td', { class: 'would-deny' }, String(e.wouldDeny)),
      el('td', {}, bytes(e.bytes)),
    );
    const td = el('td');
    td.append(el('pre', { class: 'explain' }, layersText(e.last)));
    tr.append(td);
    body.append(tr);
  }
}

function fillRows(view) {
  const body = $('rows').tBodies[0];
  body.replaceChildren();
  for (const f of view.rows) {
    const tr = el('tr', { class: f.decision });
    const why = el('td');
    why.append(el('pre', { class: 'explain' }, explain(f)));
    tr.append(
      el('td', {}, new Date(f.t).toISOString().slice(11, 23)),
      el('td', {}, f.source),
      el('td', {}, f.authority),
      el('td', { class: `decision ${f.decision}` }, f.decision),
      why,
    );
    body.append(tr);
  }
  $('rows-count').textContent = `${view.rows.length} shown of ${view.matchingRows} matching`;
}

function render(snap) {
  const s = snap.status;
  $('gateways').textContent = s ? s.gateways.join(', ') || '(none served)' : '…';
  $('generation').textContent = s ? String(s.generation) : '…';
  started = s ? s.startedMs : 0;
  $('uptime').textContent = started ? duration(snap.now - started) : '…';
  banners(s, snap.droppedEvents);
  const t = snap.view.totals;
  $('totals').textContent =
    `${t.identities} identities in ${t.namespaces} namespaces · ${t.destinations} destinations · ${t.edges} edges · ${t.decisions} decisions` +
    (t.droppedEdges > 0 ? ` · ${t.droppedEdges} stale edges dropped` : '');
  drawMap(snap.view);
  fillEdges(snap.view);
  fillRows(snap.view);
  document.body.dataset.updated = String(snap.now);
}

function connect() {
  if (source) source.close();
  const q = new URLSearchParams();
  for (const f of filters) {
    const v = $(`f-${f}`).value.trim();
    if (v) q.set(f, v);
  }
  source = new EventSource(`/flows/events${q.size ? `?${q}` : ''}`);
  source.addEventListener('flows', (ev) => {
    $('live').textContent = 'live';
    $('live').className = 'on';
    render(JSON.parse(ev.data));
  });
  source.onerror = () => {
    $('live').textContent = 'reconnecting';
    $('live').className = 'off';
  };
}

let debounce = 0;
for (const f of filters) {
  $(`f-${f}`).addEventListener('input', () => {
    clearTimeout(debounce);
    debounce = setTimeout(connect, 250);
  });
}
setInterval(() => {
  if (started) $('uptime').textContent = duration(Date.now() - started);
}, 1000);
connect();
