import { api } from '../api.js';
import { h, mount, state, table, fmtTime } from '../dom.js';

// Alerts: what the API has today. Until the alerting actions exist, the open problems are derived
// from hosts that are not ONLINE, failed components and failed projects.
export async function alertsPage(main) {
  const [hosts, comps, projects] = await Promise.all([api('ListHosts', {}), api('ListComponents', {}), api('ListProjects', { status: ['FAILED'], pageSize: 500 })]);
  const rows = [];
  for (const x of hosts) if (x.state !== 'ONLINE') rows.push(['host down', x.region + ' / ' + x.ip, state(x.state), 'last heartbeat ' + fmtTime(x.lastHeartbeat)]);
  for (const c of comps) if (c.state === 'FAILED') rows.push(['component failed', c.kind + ' ' + c.id, state(c.state), (c.errorCode || '') + ' ' + (c.errorMessage || '')]);
  for (const p of projects) rows.push(['project failed', h('a', { href: '#/project/' + encodeURIComponent(p.id) }, p.name), state(p.status), (p.errorCode || '') + ' ' + (p.errorMessage || '')]);
  mount(main, h('h1', {}, 'Alerts'),
    h('p', { class: 'notice' }, 'This node has no alert rules API yet; these are the problems the OpenAPI reports now.'),
    table(['kind', 'object', 'state', 'detail'], rows, 'No open problems.'));
}
