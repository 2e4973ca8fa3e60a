import { api, apiPage, describe } from '../api.js';
import { h, mount, state, fmtTime } from '../dom.js';

const STATES = ['', 'INIT', 'RUNNING', 'SUSPEND', 'FAILED', 'FINISHED', 'RELEASING', 'RELEASED'];

export async function projectsPage(main, { can }) {
  const search = h('input', { id: 'pf-search', placeholder: 'name contains' });
  const status = h('select', { id: 'pf-state' }, STATES.map((s) => h('option', { value: s }, s || 'any state')));
  const region = h('select', { id: 'pf-region' }, h('option', { value: '' }, 'any region'));
  const type = h('select', { id: 'pf-type' }, h('option', { value: '' }, 'any type'));
  const list = h('div', { id: 'project-list' });
  const result = h('div', { id: 'bulk-result' });
  const selected = new Set();
  let dsRegion = {};

  const bulk = (label, call) => h('button', { id: 'bulk-' + label.toLowerCase(), disabled: !can('operator'), onclick: async () => {
    result.replaceChildren();
    const ids = [...selected];
    if (!ids.length) { result.append(h('div', { class: 'notice' }, 'Select projects first.')); return; }
    const errs = [];
    for (const id of ids) {
      try { await call(id); } catch (err) { errs.push(id + ': ' + describe(err)); }
    }
    result.append(h('div', { class: errs.length ? 'error' : 'notice' }, label + ': ' + (ids.length - errs.length) + ' of ' + ids.length + ' done', errs.map((e) => h('div', {}, e))));
    await load();
  } }, label + ' selected');

  async function load() {
    const env = await apiPage('ListProjects', { searchKey: search.value, status: status.value ? [status.value] : [], pageSize: 500 });
    let rows = env.data || [];
    for (const p of rows) if (![...type.options].some((o) => o.value === p.type)) type.append(h('option', { value: p.type }, p.type));
    if (region.value) rows = rows.filter((p) => dsRegion[p.sourceEndpointId] === region.value || dsRegion[p.sinkEndpointId] === region.value);
    if (type.value) rows = rows.filter((p) => p.type === type.value);
    for (const id of [...selected]) if (!rows.some((p) => p.id === id)) selected.delete(id);
    const all = h('input', { type: 'checkbox', title: 'select all', onchange: (e) => {
      for (const p of rows) e.target.checked ? selected.add(p.id) : selected.delete(p.id);
      for (const cb of list.querySelectorAll('input[data-id]')) cb.checked = e.target.checked;
    } });
    mount(list, rows.length ? h('table', {},
      h('thead', {}, h('tr', {}, h('th', {}, all), ['name', 'state', 'type', 'current step', 'source -> target region', 'created'].map((x) => h('th', {}, x)))),
      h('tbody', {}, rows.map((p) => {
        const cur = (p.steps || []).find((s) => ['RUNNING', 'FAILED', 'PENDING'].includes(s.status));
        return h('tr', { 'data-project': p.name },
          h('td', {}, h('input', { type: 'checkbox', 'data-id': p.id, checked: selected.has(p.id), onchange: (e) => (e.target.checked ? selected.add(p.id) : selected.delete(p.id)) })),
          h('td', {}, h('a', { href: '#/project/' + encodeURIComponent(p.id) }, p.name), h('div', { class: 'muted' }, p.id)),
          h('td', {}, state(p.status)), h('td', {}, p.type),
          h('td', {}, cur ? cur.name + ' ' + cur.status : '-'),
          h('td', {}, (dsRegion[p.sourceEndpointId] || '?') + ' -> ' + (dsRegion[p.sinkEndpointId] || '?')),
          h('td', {}, fmtTime(p.gmtCreate)));
      }))) : h('p', { class: 'muted' }, 'No projects match.'),
    h('div', { class: 'muted' }, (env.totalCount || 0) + ' projects'));
  }

  const sources = await api('ListDataSource', {});
  dsRegion = Object.fromEntries(sources.map((d) => [d.id, d.region]));
  for (const r of [...new Set(sources.map((d) => d.region))].sort()) region.append(h('option', { value: r }, r));
  for (const el of [status, region, type]) el.addEventListener('change', load);
  let timer;
  search.addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(load, 250); });
  mount(main, h('h1', {}, 'Projects'),
    h('div', { class: 'toolbar' }, search, status, region, type,
      can('operator') ? h('a', { class: 'button primary', href: '#/new-project', id: 'new-project' }, 'New project') : null,
      bulk('Pause', (id) => api('StopProject', { id })), bulk('Resume', (id) => api('ResumeProject', { id }))),
    result, list);
  await load();
  const tick = setInterval(() => load().catch(() => {}), 5000);
  return () => clearInterval(tick);
}
