// The conflicts of a two-way pair (both directions), newest first: filter by table and kind,
// pages of 50, both row images, and the CSV export (the same file as `oms project conflicts --csv`).
import { apiPage, apiDownload, describe } from '../api.js';
import { h, mount, table, fmtTime } from '../dom.js';

const PAGE = 50;

export async function conflictsPage(main, { args }) {
  const id = args[0];
  const tableSel = h('select', { id: 'cf-table' }, h('option', { value: '' }, 'any table'));
  const kindSel = h('select', { id: 'cf-kind' }, h('option', { value: '' }, 'any kind'));
  const list = h('div', { id: 'conflict-list' });
  const msg = h('div', { id: 'cf-error' });
  const note = h('span', { id: 'cf-download-result' });
  let page = 1;
  const filter = () => ({ id, table: tableSel.value || undefined, kind: kindSel.value || undefined });

  // options keeps a select's choice while its values are refreshed.
  const options = (sel, values, any) => {
    const cur = sel.value;
    mount(sel, h('option', { value: '' }, any), values.map((v) => h('option', { value: v }, v)));
    sel.value = values.includes(cur) ? cur : '';
  };
  async function load() {
    msg.replaceChildren();
    try {
      const env = await apiPage('SearchProjectConflicts', { ...filter(), pageNumber: page, pageSize: PAGE });
      const d = env.data;
      options(tableSel, d.tables, 'any table');
      options(kindSel, d.kinds, 'any kind');
      const total = env.totalCount || 0;
      const pages = Math.max(1, Math.ceil(total / PAGE));
      mount(list, table(['detected', 'from → into', 'table', 'key', 'kind', 'source row (origin)', 'target row', 'source commit', 'target version', 'policy', 'decision'],
        d.conflicts.map((c) => h('tr', { class: 'conflict', 'data-kind': c.kind },
          h('td', {}, fmtTime(c.detectedAt)), h('td', {}, c.sourceRegion + ' → ' + c.targetRegion), h('td', {}, c.table), h('td', {}, h('code', {}, c.key)),
          h('td', {}, c.kind), h('td', { class: 'image' }, c.sourceImage || '-'), h('td', { class: 'image' }, c.targetImage || '-'),
          h('td', {}, fmtTime(c.sourceCommitTime)), h('td', {}, c.targetVersion || '-'), h('td', {}, c.policy), h('td', {}, h('b', {}, c.decision)))),
        'No conflicts match.'),
      h('div', { class: 'toolbar' },
        h('button', { id: 'cf-newer', disabled: page <= 1, onclick: () => { page--; load(); } }, '‹ newer'),
        h('span', { class: 'muted', id: 'cf-count' }, 'page ' + page + ' of ' + pages + ' · ' + total + ' conflicts'),
        h('button', { id: 'cf-older', disabled: page >= pages, onclick: () => { page++; load(); } }, 'older ›')));
    } catch (err) { mount(msg, h('div', { class: 'error' }, describe(err))); }
  }
  async function exportCSV() {
    try {
      const name = await apiDownload('DownloadProjectConflicts', filter());
      mount(note, h('span', { class: 'notice' }, 'saved ' + name));
    } catch (err) { mount(note, h('span', { class: 'error' }, describe(err))); }
  }
  const search = () => { page = 1; load(); };
  tableSel.addEventListener('change', search);
  kindSel.addEventListener('change', search);
  mount(main, h('h1', {}, 'Conflicts of ', h('a', { href: '#/project/' + encodeURIComponent(id) }, id), ' and its other direction'),
    h('div', { class: 'toolbar' }, tableSel, kindSel, h('button', { id: 'cf-refresh', onclick: search }, 'Refresh'),
      h('button', { id: 'cf-csv', onclick: exportCSV }, 'Export CSV'), note),
    h('p', { class: 'muted' }, 'The newest 10,000 conflicts of both directions; source row is the change from its origin region, target row what the target had.'),
    msg, list);
  await load();
}
