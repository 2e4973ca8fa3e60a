import { api, describe } from '../api.js';
import { h, mount, state, table, fmtBytes, fmtTime } from '../dom.js';
import { lineChart, setPoints } from '../charts.js';

// points of the named series of a host's window, sorted by time.
function points(series, name) {
  const s = series.find((x) => x.name === name);
  return s ? [...(s.samples || [])].sort((a, b) => a.t - b.t).map((p) => [p.t, p.v]) : [];
}

// hostPage: one host's CPU and memory over the last hour (from its in-memory window) and its
// components, each with a link to its log.
export async function hostPage(main, { args, can }) {
  const ip = args[0];
  const head = h('div', { id: 'host-head' });
  const cpuCanvas = h('canvas', { id: 'chart-cpu' });
  const memCanvas = h('canvas', { id: 'chart-mem' });
  const note = h('div', { class: 'muted', id: 'host-chart-note' });
  const comps = h('div', { id: 'host-components' });
  mount(main, head, h('h2', {}, 'CPU and memory (last hour, from the host\'s recent window)'),
    h('div', { class: 'charts' }, h('div', { class: 'chart' }, cpuCanvas), h('div', { class: 'chart' }, memCanvas)), note,
    h('h2', {}, 'Components'), comps);
  const cpu = lineChart(cpuCanvas, 'CPU %', '#c54a24');
  const mem = lineChart(memCanvas, 'memory used (GiB)', '#6a3fc5');
  async function refresh() {
    const [hosts, cs, m] = await Promise.all([api('ListHosts', {}), api('ListComponents', {}), api('DescribeHostMetrics', { ip, sinceSeconds: 3600 })]);
    const x = hosts.find((y) => y.ip === ip);
    if (!x) { mount(head, h('h1', {}, 'Host ' + ip), h('p', { class: 'error' }, 'No such host.')); return; }
    mount(head, h('h1', {}, 'Host ' + ip, ' ', state(x.state)),
      h('div', { class: 'muted' }, 'region ' + x.region + ' · version ' + (x.version || '?') + ' · last heartbeat ' + fmtTime(x.lastHeartbeat) +
        ' · memory ' + fmtBytes(x.memUsedBytes) + ' / ' + fmtBytes(x.memTotalBytes) + ' · disk ' + fmtBytes(x.diskUsedBytes) + ' / ' + fmtBytes(x.diskTotalBytes)));
    setPoints(cpu, points(m.series, 'oms_host_cpu_percent'));
    setPoints(mem, points(m.series, 'oms_host_memory_used_bytes').map(([t, v]) => [t, v / (1 << 30)]));
    mount(note, (m.unreachableHosts || []).length ? 'The host does not answer: no samples.' : '');
    mount(comps, table(['component', 'project', 'kind', 'epoch', 'state', ''], cs.filter((c) => c.host === ip).map((c) =>
      [c.id, h('a', { href: '#/project/' + encodeURIComponent(c.projectId) }, c.projectId), c.kind, c.epoch, state(c.state),
        can('operator') ? h('a', { href: '#/log/' + encodeURIComponent(c.id), class: 'log-link', 'data-component': c.id }, 'log') : '']), 'No components on this host.'));
  }
  await refresh();
  const tick = setInterval(() => refresh().catch(() => {}), 10000);
  return () => { clearInterval(tick); if (cpu) cpu.destroy(); if (mem) mem.destroy(); };
}

// logPage: the end of one component's log (DescribeComponentLog: bounded, secrets masked).
export async function logPage(main, { args }) {
  const id = args[0];
  const lines = h('select', { id: 'log-lines' }, [50, 100, 200, 500].map((n) => h('option', { value: n, selected: n === 100 }, n + ' lines')));
  const out = h('pre', { id: 'log-text', class: 'log' });
  const meta = h('div', { class: 'muted', id: 'log-meta' });
  async function load() {
    try {
      const l = await api('DescribeComponentLog', { id, lines: Number(lines.value) });
      mount(meta, 'on ' + l.host + (l.truncated ? ' · the last ' + l.lines.length + ' lines' : ' · the whole log'));
      out.textContent = l.lines.join('\n');
    } catch (err) { mount(meta, h('span', { class: 'error' }, describe(err))); out.textContent = ''; }
  }
  lines.addEventListener('change', load);
  mount(main, h('h1', {}, 'Log of ', h('code', {}, id)), h('div', { class: 'toolbar' }, lines, h('button', { type: 'button', id: 'log-refresh', onclick: load }, 'Refresh')), meta, out);
  await load();
}
