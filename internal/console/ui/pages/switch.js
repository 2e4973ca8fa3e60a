// The project page's switchover and rollback panel: the dry run (precheck and plan) first, then the
// request (oms fences the writes, or the operator confirms they stopped), then each switch step
// live until the new primary takes writes, with the measured write downtime.
import { api, describe } from '../api.js';
import { h, mount, state, table, fmtTime } from '../dom.js';

// The switch steps as `project show` lists them; the last one is the running direction's
// Incr-Sync (REVERSE_INCR_TRANSFER after a switchover, INCR_TRANSFER after a rollback).
const STEPS = ['SWITCH_PRECHECK', 'SWITCH_INCR_LOG_PULL', 'WRITE_FENCE', 'POSITION_HANDOVER', 'OBJECT_FIXUP', 'TRANSFER_APP_SWITCH'];
const OPS = {
  SWITCHOVER: { label: 'Switchover', key: 'switchover' },
  ROLLBACK: { label: 'Rollback', key: 'rollback' },
};

// whyNot says why op cannot be asked for now ('' when it can); the API refuses the same cases.
export function whyNot(op, p, can) {
  const sw = p.switch || {};
  if (!can('operator')) return 'needs the operator role';
  if (sw.inProgress) return 'a ' + (sw.operation || '').toLowerCase() + ' is in progress';
  if (!p.enableIncrTransfer) return 'the project has no incremental sync';
  if (p.status !== 'RUNNING') return 'the project is ' + p.status + '; it must be RUNNING with its incremental sync';
  const reversed = sw.direction === 'REVERSE';
  if (op === 'SWITCHOVER' && reversed) return 'already switched over: the target is the primary (Rollback goes back)';
  if (op === 'ROLLBACK' && !reversed) return 'not switched over: the source is the primary';
  return '';
}

// switchSteps are the seven steps of the operation op from the project's steps.
export function switchSteps(p, op) {
  const last = op === 'ROLLBACK' ? 'INCR_TRANSFER' : 'REVERSE_INCR_TRANSFER';
  const byName = new Map((p.steps || []).map((s) => [s.name, s]));
  return [...STEPS, last].map((n) => byName.get(n) || { name: n, status: 'PENDING' });
}

// switchPanel returns the panel element and update(p), called with every DescribeProject.
export function switchPanel(id, can, onChange) {
  const status = h('div', { id: 'switch-status' });
  const buttons = h('div', { class: 'toolbar', id: 'switch-actions' });
  const dialog = h('div', { id: 'switch-dialog' });
  const live = h('div', { id: 'switch-live' });
  const el = h('div', { id: 'project-switch' }, h('h2', {}, 'Switchover'), status, buttons, dialog, live);
  let follow = null; // timer while an operation runs

  function update(p) {
    const sw = p.switch;
    const primary = sw && sw.direction === 'REVERSE' ? p.sinkEndpointId : p.sourceEndpointId;
    const parts = ['primary ', h('code', {}, primary), ' (incremental sync ', sw ? sw.direction : 'FORWARD', ')'];
    if (sw && sw.inProgress) parts.push(' · ', h('b', {}, sw.operation.toLowerCase() + ' in progress'));
    else if (sw && sw.writableAt) parts.push(' · last ', sw.operation.toLowerCase(), ': write downtime ', h('b', { id: 'switch-downtime' }, (sw.downtimeSeconds || 0).toFixed(2) + ' s'), ' (', fmtTime(sw.writableAt), ')');
    mount(status, h('div', { class: 'muted' }, parts));
    mount(buttons, Object.entries(OPS).map(([op, o]) => {
      const why = whyNot(op, p, can);
      return h('span', {}, h('button', { id: 'act-' + o.key, disabled: !!why, title: why, onclick: () => openDialog(op) }, o.label + '…'),
        why ? h('span', { class: 'muted', id: o.key + '-why' }, ' ' + why) : null);
    }));
    if (sw && (sw.inProgress || sw.writableAt || switchSteps(p, sw.operation).some((s) => s.status !== 'PENDING'))) showLive(p);
    if (sw && sw.inProgress && !follow) follow = setInterval(poll, 1000);
    if (!(sw && sw.inProgress) && follow) { clearInterval(follow); follow = null; }
  }

  async function poll() {
    try {
      const p = await api('DescribeProject', { id });
      update(p);
      if (!(p.switch && p.switch.inProgress)) onChange();
    } catch { /* the page's own refresh shows errors */ }
  }

  function showLive(p) {
    const sw = p.switch;
    const done = !sw.inProgress && sw.writableAt;
    // An aborted operation: over, never writable, a step FAILED (the old direction runs on).
    const failed = !sw.inProgress && !sw.writableAt ? switchSteps(p, sw.operation).find((s) => s.status === 'FAILED') : null;
    mount(live, h('h3', {}, sw.operation.toLowerCase(), ' steps'),
      table(['#', 'step', 'status', 'started', 'finished', 'message'], switchSteps(p, sw.operation).map((s, i) =>
        h('tr', { 'data-step': s.name }, h('td', {}, i + 1), h('td', {}, s.name), h('td', {}, state(s.status)), h('td', {}, fmtTime(s.startTime)),
          h('td', {}, fmtTime(s.finishTime)), h('td', {}, s.message || '')))),
      sw.fenceGtid ? h('div', { class: 'muted' }, 'fence GTID set ', h('code', {}, sw.fenceGtid)) : null,
      sw.startGtid ? h('div', { class: 'muted' }, 'new direction starts after ', h('code', {}, sw.startGtid)) : null,
      (sw.sessions || []).length ? h('div', { class: 'muted' }, 'sessions connected at the fence: ', sw.sessions.join('; ')) : null,
      (sw.fixups || []).length ? h('div', { class: 'muted' }, 'object fix-up: ', sw.fixups.join('; ')) : null,
      done ? h('div', { class: 'notice', id: 'switch-done' }, sw.operation.toLowerCase() + ' done: the incremental sync runs ' + sw.direction +
        '; measured write downtime ' + (sw.downtimeSeconds || 0).toFixed(2) + ' s') : null,
      failed ? h('div', { class: 'error', id: 'switch-failed' }, h('b', {}, sw.operation.toLowerCase() + ' stopped at ' + failed.name), ': ', failed.message || '',
        h('div', { class: 'advice' }, 'What to do: fix the cause, then run the dry run again and start it again')) : null);
  }

  // openDialog shows op's dry run with its options; the request is sent from there.
  function openDialog(op) {
    const o = OPS[op];
    const fence = h('input', { type: 'radio', name: 'sw-mode', id: 'sw-fence', checked: true });
    const confirmMode = h('input', { type: 'radio', name: 'sw-mode', id: 'sw-confirm' });
    const stopped = h('input', { type: 'checkbox', id: 'sw-stopped' });
    const maxLag = h('input', { type: 'number', id: 'sw-maxlag', min: '1', step: '1', value: '15', class: 'narrow' });
    const result = h('div', { id: 'switch-preview' });
    const msg = h('div', { id: 'switch-result' });
    const go = h('button', { class: 'primary', id: 'sw-run', disabled: true }, 'Start ' + o.label.toLowerCase());
    let refused = true;
    const ready = () => { go.disabled = refused || (confirmMode.checked && !stopped.checked); };
    const body = () => ({ id, fence: fence.checked, maxLagSeconds: Number(maxLag.value) || undefined });

    async function preview() {
      refused = true;
      ready();
      mount(result, h('p', { class: 'muted' }, 'Running the precheck…'));
      try {
        const pv = await api('PreviewProjectSwitch', { ...body(), operation: op });
        refused = pv.refused;
        mount(result, planView(pv));
      } catch (err) {
        mount(result, h('div', { class: 'error' }, describe(err)));
      }
      ready();
    }
    for (const x of [fence, confirmMode]) x.addEventListener('change', () => { stopped.disabled = fence.checked; preview(); });
    stopped.addEventListener('change', ready);
    maxLag.addEventListener('change', preview);
    stopped.disabled = true;
    go.addEventListener('click', async () => {
      msg.replaceChildren();
      go.disabled = true;
      try {
        const req = body();
        if (!req.fence) req.writesStopped = stopped.checked;
        await (op === 'ROLLBACK' ? api('RollbackProject', req) : api('SwitchoverProject', req));
        mount(dialog);
        await poll();
      } catch (err) {
        mount(msg, h('div', { class: 'error' }, o.label + ': ' + describe(err)));
        ready();
      }
    });
    mount(dialog, h('div', { class: 'card', id: 'switch-' + o.key },
      h('h3', {}, o.label + ' — dry run (nothing changes until you start it)'),
      h('div', { class: 'toolbar' },
        h('label', {}, fence, ' oms fences the writes (read_only on the old primary, listing its sessions)'),
        h('label', {}, confirmMode, ' the application stopped writing'),
        h('label', {}, stopped, ' I confirm no application writes to the old primary'),
        h('label', {}, 'max lag ', maxLag, ' s'),
        h('button', { id: 'sw-preview', onclick: preview }, 'Run the dry run again')),
      result, h('div', { class: 'toolbar' }, go, h('button', { id: 'sw-cancel', onclick: () => mount(dialog) }, 'Close')), msg));
    return preview();
  }

  return { el, update, stop: () => { if (follow) clearInterval(follow); } };
}

// planView shows a dry run: the refusal (if any), every check with its message and advice, and
// every step with the positions it would use.
function planView(pv) {
  const plan = pv.plan || {};
  return h('div', {},
    pv.refused ? h('div', { class: 'error', id: 'switch-refused' }, h('b', {}, pv.code), ': ', pv.message, pv.advice ? h('div', { class: 'advice' }, 'What to do: ', pv.advice) : null)
      : h('div', { class: 'notice', id: 'switch-ok' }, 'The precheck passed: primary ', plan.from, ' → ', plan.to),
    h('h4', {}, 'Precheck'),
    table(['check', 'side', 'result', 'found', 'what to do'], (plan.precheck || []).map((c) =>
      h('tr', { class: 'check ' + (c.ok ? 'passed' : 'failed'), 'data-check': c.name }, h('td', {}, c.name), h('td', {}, c.side),
        h('td', { class: c.ok ? (c.warning ? 'warn' : 'ok') : 'bad' }, c.ok ? (c.warning ? 'warning' : 'passed') : 'failed'), h('td', {}, c.message), h('td', {}, c.advice || ''))), 'No checks ran.'),
    h('h4', {}, 'Steps'),
    table(['#', 'step', 'what it would do'], (plan.steps || []).map((s, i) => h('tr', { class: 'plan-step' }, h('td', {}, i + 1), h('td', {}, s.name), h('td', {}, s.action))), 'No plan.'));
}
