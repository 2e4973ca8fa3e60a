import { api, apiPage } from '../api.js';
import { h, mount, state, table, fmtTime } from '../dom.js';

function counts(items, key) {
  const m = {};
  for (const it of items) m[it[key]] = (m[it[key]] || 0) + 1;
  return m;
}

function countCards(title, m, id) {
  const keys = Object.keys(m).sort();
  return h('div', { class: 'card', id }, h('div', { class: 'muted' }, title),
    keys.length ? keys.map((k) => h('div', {}, state(k), ' ', h('b', {}, m[k]))) : h('div', { class: 'muted' }, 'none'));
}

export async function overviewPage(main) {
  const [projects, hosts, comps, audit, alerts] = await Promise.all([
    api('ListProjects', { pageSize: 1000 }),
    api('ListHosts', {}),
    api('ListComponents', {}),
    apiPage('ListAuditEvents', { pageSize: 10 }).catch(() => null),
    api('ListAlerts', { state: 'firing' }).catch(() => []),
  ]);
  const regions = {};
  for (const host of hosts) (regions[host.region] = regions[host.region] || []).push(host);
  const failing = alerts.length;
  mount(main,
    h('h1', {}, 'Overview'),
    h('div', { class: 'cards' },
      countCards('Projects by state', counts(projects, 'status'), 'ov-projects'),
      countCards('Components by state', counts(comps, 'state'), 'ov-components'),
      h('div', { class: 'card', id: 'ov-alerts' }, h('div', { class: 'muted' }, 'Firing alerts'),
        h('div', { class: 'big ' + (failing ? 'bad' : 'ok') }, String(failing)),
        h('a', { href: '#/alerts' }, 'see alerts'))),
    h('h2', {}, 'Regions and hosts'),
    h('div', { class: 'cards' }, Object.keys(regions).sort().map((r) => h('div', { class: 'card region' },
      h('b', {}, r),
      regions[r].map((x) => h('div', {}, state(x.state), ' ', x.ip, h('span', { class: 'muted' }, ' cpu ' + x.cpuPercent.toFixed(0) + '%, ' + x.components + ' components')))))),
    h('h2', {}, 'Recent audit events'),
    audit ? table(['time', 'user', 'action', 'resource', 'result'], audit.data.map((e) => [fmtTime(e.time), e.userName, e.action, e.resource || '',
      h('span', { class: e.success ? 'ok' : 'bad' }, e.success ? 'ok' : e.detail)]), 'No audit events yet.')
      : h('p', { class: 'muted' }, 'The audit log is not readable with your role.'));
}
