import { apiPage, apiAll, describe } from '../api.js';
import { h, mount, table, fmtTime, download } from '../dom.js';

const csvCell = (v) => { const s = String(v ?? ''); return /[",\n\r]/.test(s) || /^[=+\-@]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s; };

export async function auditPage(main) {
  const user = h('input', { id: 'au-user', placeholder: 'user' });
  const action = h('input', { id: 'au-action', placeholder: 'action (e.g. CreateProject)' });
  const from = h('input', { id: 'au-from', type: 'datetime-local', title: 'from' });
  const to = h('input', { id: 'au-to', type: 'datetime-local', title: 'to' });
  const result = h('select', { id: 'au-result' }, h('option', { value: '' }, 'any result'), h('option', { value: 'ok' }, 'succeeded'), h('option', { value: 'failed' }, 'failed'));
  const list = h('div', { id: 'audit-list' });
  const msg = h('div', { id: 'au-error' });
  let page = 1;
  const filter = () => {
    const iso = (el) => (el.value ? new Date(el.value).toISOString().replace(/\.\d+Z$/, 'Z') : undefined);
    return { userName: user.value.trim() || undefined, action: action.value.trim() || undefined, from: iso(from), to: iso(to),
      success: result.value === '' ? undefined : result.value === 'ok' };
  };
  async function load() {
    msg.replaceChildren();
    try {
      const env = await apiPage('ListAuditEvents', { ...filter(), pageNumber: page, pageSize: 50 });
      const pages = Math.max(1, Math.ceil((env.totalCount || 0) / 50));
      mount(list, table(['time', 'user', 'from', 'action', 'resource', 'result', 'request'], (env.data || []).map((e) =>
        [fmtTime(e.time), e.userName, e.remoteAddr, e.action, e.resource || '', h('span', { class: e.success ? 'ok' : 'bad' }, e.success ? 'ok' : e.detail), e.requestId]), 'No events match.'),
      h('div', { class: 'toolbar' },
        h('button', { disabled: page <= 1, onclick: () => { page--; load(); } }, '‹ newer'),
        h('span', { class: 'muted' }, 'page ' + page + ' of ' + pages + ' · ' + (env.totalCount || 0) + ' events'),
        h('button', { disabled: page >= pages, onclick: () => { page++; load(); } }, 'older ›')));
    } catch (err) { msg.append(h('div', { class: 'error' }, describe(err))); }
  }
  async function exportCSV() {
    try {
      const all = await apiAll('ListAuditEvents', filter(), 100000);
      const lines = [['id', 'time', 'user', 'remote_addr', 'action', 'resource', 'success', 'detail', 'request_id'].join(',')];
      for (const e of all) lines.push([e.id, e.time, e.userName, e.remoteAddr, e.action, e.resource, e.success, e.detail, e.requestId].map(csvCell).join(','));
      download('oms-audit.csv', 'text/csv', lines.join('\n') + '\n');
    } catch (err) { msg.append(h('div', { class: 'error' }, describe(err))); }
  }
  const search = () => { page = 1; load(); };
  mount(main, h('h1', {}, 'Audit log'),
    h('form', { class: 'toolbar', onsubmit: (e) => { e.preventDefault(); search(); } }, user, action, from, to, result,
      h('button', { type: 'submit', class: 'primary', id: 'au-search' }, 'Search'),
      h('button', { type: 'button', id: 'au-csv', onclick: exportCSV }, 'Export CSV')),
    msg, list);
  await load();
}
