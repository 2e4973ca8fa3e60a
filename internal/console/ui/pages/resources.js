import { api } from '../api.js';
import { h, mount, state, table, fmtBytes, fmtTime } from '../dom.js';

// Regions -> hosts (each links to its CPU/memory history and its components' logs) -> components.
export async function resourcesPage(main) {
  const [hosts, comps] = await Promise.all([api('ListHosts', {}), api('ListComponents', {})]);
  const byRegion = {};
  for (const x of hosts) (byRegion[x.region] = byRegion[x.region] || []).push(x);
  mount(main, h('h1', {}, 'Resources'),
    Object.keys(byRegion).sort().map((r) => h('section', { class: 'region', 'data-region': r },
      h('h2', {}, 'Region ' + r),
      byRegion[r].map((x) => h('div', { class: 'card', 'data-host': x.ip },
        h('div', {}, h('a', { href: '#/host/' + encodeURIComponent(x.ip), class: 'host-link' }, h('b', {}, x.ip)), ' ', state(x.state), h('span', { class: 'muted' }, ' version ' + (x.version || '?') + ' · last heartbeat ' + fmtTime(x.lastHeartbeat))),
        h('div', { class: 'muted' }, 'CPU ' + x.cpuPercent.toFixed(0) + '% · memory ' + fmtBytes(x.memUsedBytes) + ' / ' + fmtBytes(x.memTotalBytes) +
          ' · disk ' + fmtBytes(x.diskUsedBytes) + ' / ' + fmtBytes(x.diskTotalBytes) + ' · ports console ' + x.consolePort + ', cm ' + x.cmPort + ', supervisor ' + x.supervisorPort),
        table(['component', 'project', 'kind', 'epoch', 'state', 'position'], comps.filter((c) => c.host === x.ip).map((c) =>
          [c.id, h('a', { href: '#/project/' + encodeURIComponent(c.projectId) }, c.projectId), c.kind, c.epoch, state(c.state), c.position || '-']), 'No components on this host.'))))),
    comps.some((c) => !c.host) ? [h('h2', {}, 'Not placed yet'), table(['component', 'kind', 'region', 'state'], comps.filter((c) => !c.host).map((c) => [c.id, c.kind, c.region, state(c.state)]))] : null);
}
