import { api, apiDownload, describe } from '../api.js';
import { h, mount, state, bar, table, fmtTime, fmtNum, fmtDuration, fmtBytes } from '../dom.js';
import { lineChart, setPoints } from '../charts.js';
import { switchPanel } from './switch.js';
import { loadPeer, twoWayView } from './twoway.js';

// eta of a step from its metrics: rows left at the current rate.
function eta(st) {
  const m = st.metrics || {};
  if (st.status !== 'RUNNING' || !m.rows_total || !m.rows_per_sec) return '-';
  return fmtDuration((m.rows_total - (m.rows_done || 0)) / m.rows_per_sec);
}

// ruleText shows one selection rule: source pattern, target, row filter, column subset.
function ruleText(r) {
  let s = r.db + '.' + (r.table || '*');
  if (r.renameDb || r.renameTable) s += ' → ' + (r.renameDb || r.db) + '.' + (r.renameTable || r.table || '*');
  if (r.where) s += ' where ' + r.where;
  if ((r.columns || []).length) s += ' (columns ' + r.columns.join(', ') + ')';
  return s;
}

// Series names of docs/monitoring.md that the charts draw.
const LAG = 'oms_incr_sync_lag_seconds';
const ROWS = ['oms_incr_sync_rows_total', 'oms_full_import_rows_total'];

// chartPoints turns the nodes' series into [time, lag] and [time, rows/s] points: lag as sampled
// (one series per node that ran Incr-Sync), rows/s from the row counters' increase between samples,
// summed over the series.
export function chartPoints(series) {
  const lag = new Map(), rate = new Map();
  for (const s of series) {
    const pts = [...(s.samples || [])].sort((a, b) => a.t - b.t);
    if (s.name === LAG) for (const p of pts) lag.set(p.t, p.v);
    if (ROWS.includes(s.name)) {
      for (let i = 1; i < pts.length; i++) {
        const dt = pts[i].t - pts[i - 1].t, dv = pts[i].v - pts[i - 1].v;
        if (dt > 0 && dv >= 0) rate.set(pts[i].t, (rate.get(pts[i].t) || 0) + dv / dt);
      }
    }
  }
  const sorted = (m) => [...m.entries()].sort((a, b) => a[0] - b[0]);
  return { lag: sorted(lag), rate: sorted(rate) };
}

export async function projectPage(main, { args, can }) {
  const id = args[0];
  const head = h('div', { id: 'project-head' });
  const actions = h('div', { class: 'toolbar', id: 'project-actions' });
  const actionResult = h('div', { id: 'action-result' });
  const errors = h('div', { id: 'project-errors' });
  const twoWay = h('div');
  const sw = switchPanel(id, can, () => refresh().catch(() => {}));
  const steps = h('div', { id: 'project-steps' });
  const comps = h('div', { id: 'project-components' });
  const verify = h('div', { id: 'project-verify' });
  const verifyResult = h('div', { id: 'project-verify-result' });
  let verifyShown = ''; // finishedAt of the result on screen: re-rendered only when it changes
  const lagCanvas = h('canvas', { id: 'chart-lag' });
  const rowsCanvas = h('canvas', { id: 'chart-rows' });
  const chartNote = h('div', { class: 'muted', id: 'chart-note' });
  mount(main, head, actions, actionResult, errors, twoWay, sw.el,
    h('h2', {}, 'Steps'), steps,
    h('h2', {}, 'Lag and throughput (last hour, from the nodes\' recent window)'),
    h('div', { class: 'charts' }, h('div', { class: 'chart' }, lagCanvas), h('div', { class: 'chart' }, rowsCanvas)), chartNote,
    h('h2', {}, 'Components'), comps,
    h('h2', {}, 'Verification'), verify, verifyResult);
  const lag = lineChart(lagCanvas, 'lag (s)', '#2457c5');
  const rows = lineChart(rowsCanvas, 'rows/s', '#1a7f37');

  const act = (label, elid, call, confirmText) => h('button', { id: elid, disabled: !can('operator'), class: elid === 'act-release' || elid === 'act-delete' ? 'danger' : '', onclick: async () => {
    if (confirmText && !window.confirm(confirmText)) return;
    actionResult.replaceChildren();
    try {
      await call();
      actionResult.append(h('div', { class: 'notice' }, label + ': done'));
    } catch (err) {
      actionResult.append(h('div', { class: 'error' }, label + ': ' + describe(err)));
    }
    await refresh();
  } }, label);

  async function refresh() {
    // The charts' series come from every node (a slow or stopped one takes up to its timeout):
    // they are drawn when they arrive, not waited for.
    charts().catch(() => {});
    const [p, prog, cs] = await Promise.all([
      api('DescribeProject', { id }), api('DescribeProjectProgress', { id }), api('DescribeProjectComponents', { id }),
    ]);
    // The other direction of a two-way pair: shown when it can be read, the page does not fail with it.
    const peer = p.twoWay ? await loadPeer(p).catch(() => null) : null;
    mount(head, h('h1', {}, p.name, ' ', state(p.status)),
      h('div', { class: 'muted' }, p.id, ' · ', p.type, ' · created ', fmtTime(p.gmtCreate), ' · current step ', prog.currentStep || '-'),
      h('div', { class: 'muted', id: 'project-objects' }, 'objects: ', ((p.transferMapping || {}).tables || []).map(ruleText).join('; ') || '-'),
      (p.skipGtids || []).length ? h('div', { class: 'muted', id: 'skipped' }, 'skipped source transactions: ', p.skipGtids.join(', ')) : null);
    const a = [];
    if (p.status === 'INIT') a.push(act('Start', 'act-start', () => api('StartProject', { id })));
    if (p.status === 'RUNNING') a.push(act('Pause', 'act-pause', () => api('StopProject', { id })));
    if (p.status === 'SUSPEND') a.push(act('Resume', 'act-resume', () => api('ResumeProject', { id })));
    if (p.status === 'FAILED') {
      a.push(act('Retry', 'act-retry', () => api('RetryProject', { id })));
      a.push(act('Resume (retry the failed step)', 'act-resume-failed', () => api('ResumeProject', { id })));
      const stopped = cs.find((c) => c.kind === 'incr-sync' && c.state === 'FAILED' && c.stoppedAt);
      if (stopped) {
        a.push(act('Skip the event it stopped at (' + stopped.stoppedAt + ')', 'act-skip', async () => { await api('SkipProjectEvents', { id, event: true }); await api('RetryProject', { id }); },
          'Incr-Sync will never apply the source transaction it stopped at, then the project is retried. Continue?'));
      }
    }
    if (!['RELEASING', 'RELEASED', 'DELETED', 'INIT'].includes(p.status)) a.push(act('Release', 'act-release', () => api('ReleaseProject', { id }), 'Release stops and removes every component of ' + p.name + '. Continue?'));
    if (['INIT', 'RELEASED'].includes(p.status)) a.push(act('Delete', 'act-delete', () => api('DeleteProject', { id }), 'Delete ' + p.name + '?'));
    mount(actions, a);
    sw.update(p);
    mount(twoWay, p.twoWay ? twoWayView(p, cs, peer) : null);
    const errs = [];
    if (p.errorCode) errs.push(h('div', { class: 'error' }, h('b', {}, p.errorCode), ': ', p.errorMessage));
    for (const c of cs) {
      if (!c.errorCode) continue;
      errs.push(h('div', { class: 'error component-error', 'data-kind': c.kind }, h('b', {}, c.kind + ' ' + c.errorCode), ': ', c.errorMessage,
        c.stoppedAt ? h('div', {}, 'stopped at source transaction ', h('code', {}, c.stoppedAt)) : null,
        c.errorAdvice ? h('div', { class: 'advice' }, 'What to do: ', c.errorAdvice) : null));
    }
    mount(errors, errs);
    mount(steps, table(['#', 'step', 'status', 'progress', 'rows', 'ETA', 'started', 'finished', 'message'],
      (p.steps || []).map((s) => [s.order, s.name, state(s.status), h('div', {}, bar(s.progress), (s.progress || 0).toFixed(1) + '%'),
        s.metrics && s.metrics.rows_total ? fmtNum(s.metrics.rows_done) + ' / ' + fmtNum(s.metrics.rows_total) : (s.metrics && s.metrics.lag_seconds !== undefined ? 'lag ' + fmtDuration(s.metrics.lag_seconds) : '-'),
        eta(s), fmtTime(s.startTime), fmtTime(s.finishTime), s.message || ''])));
    mount(comps, table(['kind', 'region', 'host', 'epoch', 'state', 'desired', 'position', 'lag', 'rows/s', 'updated'],
      cs.map((c) => [c.kind, c.region, c.host || '-', c.epoch, state(c.state), c.desiredState, h('code', {}, c.position || '-'),
        c.kind === 'incr-sync' ? fmtDuration(c.lagSeconds) : '-', c.state === 'RUNNING' && c.metrics && c.metrics.rows_per_sec !== undefined ? c.metrics.rows_per_sec.toFixed(0) : '-', fmtTime(c.gmtModified)]), 'No components yet.'));
    mount(verify, p.enableFullVerify
      ? h('div', { class: 'cards' },
        h('div', { class: 'card' }, h('div', { class: 'muted' }, 'progress'), bar(prog.fullVerifyProgress), (prog.fullVerifyProgress || 0).toFixed(1) + '%'),
        h('div', { class: 'card', id: 'verify-diffs' }, h('div', { class: 'muted' }, 'differences'),
          h('div', { class: 'big ' + (prog.fullVerifyDifferences ? 'bad' : 'ok') }, fmtNum(prog.fullVerifyDifferences))),
        h('div', { class: 'card' }, h('div', { class: 'muted' }, 'finished'), prog.fullVerifyFinished ? 'yes' : 'no'))
      : h('p', { class: 'muted' }, 'Verification is not enabled for this project.'));
    if (p.enableFullVerify && prog.fullVerifyFinished) await showVerifyResult();
  }

  let charting = false; // one DescribeProjectMetrics at a time
  async function charts() {
    if (charting) return;
    charting = true;
    try {
      const metrics = await api('DescribeProjectMetrics', { id, names: [LAG, ...ROWS], sinceSeconds: 3600 });
      const pts = chartPoints(metrics.series || []);
      setPoints(lag, pts.lag);
      setPoints(rows, pts.rate);
      mount(chartNote, (metrics.unreachableHosts || []).length ? 'No samples from ' + metrics.unreachableHosts.join(', ') + ' (not answering).' : '');
    } finally { charting = false; }
  }

  // showVerifyResult adds the last finished verification's per-table counts and its fix SQL.
  async function showVerifyResult() {
    let r;
    try {
      r = await api('DescribeVerificationResult', { id });
    } catch (err) {
      verifyShown = '';
      mount(verifyResult, h('p', { class: 'muted', id: 'verify-result-missing' }, describe(err)));
      return;
    }
    if (r.finishedAt === verifyShown) return;
    verifyShown = r.finishedAt;
    const dl = h('div', { class: 'toolbar' });
    if (r.fixSqlBytes > 0) {
      const note = h('span', { id: 'verify-download-result' });
      dl.append(h('button', { id: 'verify-download', onclick: async () => {
        try {
          const name = await apiDownload('DownloadVerificationFixSQL', { id });
          mount(note, h('span', { class: 'notice' }, 'saved ' + name));
        } catch (err) {
          mount(note, h('span', { class: 'error' }, describe(err)));
        }
      } }, 'Download fix SQL (' + fmtBytes(r.fixSqlBytes) + (r.fixSqlTruncated ? ', truncated' : '') + ')'), ' ', note);
    }
    mount(verifyResult, h('div', { id: 'verify-result' },
      h('p', {}, r.equal ? 'Source and target are equal' : 'Differences found', ' (verification finished ', fmtTime(r.finishedAt), ')'), dl,
      table(['source table', 'target table', 'method', 'rows compared', 'missing on target', 'extra on target', 'changed', 'schema differences', 'note'],
        (r.tables || []).map((t) => [t.table, t.target, t.method, fmtNum(t.rowsCompared), fmtNum(t.onlyInSource), fmtNum(t.onlyInTarget), fmtNum(t.different),
          (t.schemaDifferences || []).join('; ') || '-', t.note || '']), 'No tables.')));
  }

  await refresh();
  const tick = setInterval(() => refresh().catch(() => {}), 3000);
  return () => { clearInterval(tick); sw.stop(); if (lag) lag.destroy(); if (rows) rows.destroy(); };
}
