// Small DOM helpers: every text from the API goes in through textContent, never innerHTML.

// h builds an element: h('a', {href: '#/x', class: 'y', onclick: fn}, 'text', child, ...).
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'value') el.value = v;
    else if (k === 'checked') el.checked = !!v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function mount(el, ...children) {
  el.replaceChildren(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false));
  return el;
}

export function state(s) { return h('span', { class: 'state ' + (s || '') }, s || '-'); }

export function bar(pct) {
  const inner = h('div');
  inner.style.width = Math.max(0, Math.min(100, pct || 0)) + '%';
  return h('div', { class: 'bar', title: (pct || 0).toFixed(1) + '%' }, inner);
}

export function fmtTime(t) {
  if (!t || t.startsWith('0001-')) return '-';
  const d = new Date(t);
  return isNaN(d) ? t : d.toLocaleString();
}

export function fmtBytes(n) {
  if (!n) return '0';
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return n.toFixed(i ? 1 : 0) + ' ' + u[i];
}

export function fmtNum(n) { return (n || 0).toLocaleString(); }

export function fmtDuration(s) {
  if (s === null || s === undefined || !isFinite(s)) return '-';
  s = Math.round(s);
  if (s < 60) return s + ' s';
  if (s < 3600) return Math.floor(s / 60) + ' min ' + (s % 60) + ' s';
  return Math.floor(s / 3600) + ' h ' + Math.floor((s % 3600) / 60) + ' min';
}

export function table(headers, rows, empty) {
  if (!rows.length) return h('p', { class: 'muted' }, empty || 'Nothing here yet.');
  return h('table', {}, h('thead', {}, h('tr', {}, headers.map((x) => h('th', {}, x)))),
    h('tbody', {}, rows.map((r) => (r instanceof Node ? r : h('tr', {}, r.map((c) => h('td', {}, c)))))));
}

// download offers text as a file.
export function download(name, type, text) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = h('a', { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
