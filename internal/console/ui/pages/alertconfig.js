import { api, describe } from '../api.js';
import { h, mount, table } from '../dom.js';

// What each rule's threshold means (docs/monitoring.md#alerts).
const THRESHOLD = {
  incr_lag: 'seconds of lag', component_failed: '-', component_restarting: 'restarts in a row', host_down: '-',
  no_progress: '-', store_retention_low: 'seconds of headroom (below)', disk_low: 'used share 0..1',
  clock_skew: 'seconds', verify_differences: 'differing rows', audit_sink_failing: 'seconds failing',
};

// rulesSection lists every rule's default and the per-project overrides (ListAlertRules), with a
// form that sets a default or a project's override (SetAlertRule).
export function rulesSection(can, onError) {
  const list = h('div', { id: 'alert-rules' });
  const f = {
    rule: h('select', { id: 'rule-name' }, Object.keys(THRESHOLD).map((r) => h('option', { value: r }, r))),
    project: h('input', { id: 'rule-project', placeholder: 'project id (empty: default)' }),
    threshold: h('input', { id: 'rule-threshold', inputmode: 'decimal' }),
    forSeconds: h('input', { id: 'rule-for', inputmode: 'numeric', value: '0' }),
    enabled: h('input', { id: 'rule-enabled', type: 'checkbox', checked: true }),
  };
  const errs = { threshold: h('div', { class: 'field-error', id: 'err-rule-threshold' }), forSeconds: h('div', { class: 'field-error', id: 'err-rule-for' }) };
  const result = h('div', { id: 'rule-result' });
  let rules = [];
  const fill = (r) => {
    f.rule.value = r.rule; f.project.value = r.projectId || ''; f.threshold.value = String(r.threshold);
    f.forSeconds.value = String(r.forSeconds); f.enabled.checked = r.enabled;
  };
  async function load() {
    rules = await api('ListAlertRules', {});
    mount(list, table(['rule', 'project', 'threshold', 'for', 'enabled', ''], rules.map((r) => h('tr', { 'data-rule': r.rule + '/' + (r.projectId || '') },
      [r.rule, r.projectId || 'default', String(r.threshold) + (THRESHOLD[r.rule] && THRESHOLD[r.rule] !== '-' ? ' (' + THRESHOLD[r.rule] + ')' : ''),
        r.forSeconds + ' s', r.enabled ? 'yes' : 'no', h('button', { type: 'button', onclick: () => fill(r) }, 'Edit')].map((c) => h('td', {}, c))))));
  }
  const form = h('form', { class: 'row card', id: 'rule-form' },
    h('label', {}, 'Rule ', f.rule), h('label', {}, 'Project ', f.project),
    h('label', {}, 'Threshold ', f.threshold, errs.threshold), h('label', {}, 'For (s) ', f.forSeconds, errs.forSeconds),
    h('label', {}, f.enabled, ' enabled'),
    h('button', { type: 'submit', id: 'rule-save', disabled: !can('operator') }, 'Save rule'), result);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    result.replaceChildren();
    const threshold = Number(f.threshold.value), forSeconds = Number(f.forSeconds.value);
    errs.threshold.textContent = f.threshold.value.trim() === '' || !Number.isFinite(threshold) ? 'Threshold must be a number' : '';
    errs.forSeconds.textContent = !Number.isInteger(forSeconds) || forSeconds < 0 ? 'For must be a whole number of seconds, 0 or more' : '';
    if (errs.threshold.textContent || errs.forSeconds.textContent) return;
    try {
      await api('SetAlertRule', { rule: f.rule.value, projectId: f.project.value.trim() || undefined, threshold, forSeconds, enabled: f.enabled.checked });
      result.append(h('span', { class: 'notice' }, 'saved'));
      await load();
    } catch (err) { result.append(h('span', { class: 'error' }, describe(err))); }
  });
  f.rule.addEventListener('change', () => {
    const r = rules.find((x) => x.rule === f.rule.value && (x.projectId || '') === f.project.value.trim()) || rules.find((x) => x.rule === f.rule.value && !x.projectId);
    if (r) fill({ ...r, projectId: f.project.value.trim() });
  });
  return { el: h('div', {}, h('h2', {}, 'Rules'), list, form), load: () => load().then(() => { if (rules[0] && !f.threshold.value) fill(rules[0]); }).catch(onError) };
}

// channelsSection lists the notification channels (ListAlertChannels: secrets never come back),
// adds or replaces one (SetAlertChannel) and test-sends (TestAlertChannels).
export function channelsSection(can, onError) {
  const list = h('div', { id: 'alert-channels' });
  const result = h('div', { id: 'channel-result' });
  const kind = h('select', { id: 'ch-kind' }, h('option', { value: 'webhook' }, 'webhook'), h('option', { value: 'email' }, 'email'));
  const inputs = {};
  const errs = {};
  const field = (key, label, attrs, kinds) => {
    inputs[key] = h('input', { id: 'ch-' + key, ...attrs });
    errs[key] = h('div', { class: 'field-error', id: 'err-ch-' + key });
    return h('label', { 'data-kinds': kinds }, label + ' ', inputs[key], errs[key]);
  };
  const fields = [
    field('name', 'Name', { placeholder: 'ops-webhook' }, 'webhook email'),
    field('url', 'URL', { placeholder: 'https://receiver/hook' }, 'webhook'),
    field('secret', 'HMAC secret', { type: 'password', autocomplete: 'new-password' }, 'webhook'),
    field('smtpAddr', 'SMTP host:port', {}, 'email'),
    field('from', 'From', {}, 'email'),
    field('to', 'To (comma-separated)', {}, 'email'),
    field('user', 'SMTP user', {}, 'email'),
    field('password', 'SMTP password', { type: 'password', autocomplete: 'new-password' }, 'email'),
  ];
  // style, not the hidden attribute: the stylesheet's label display would override it
  const showKind = () => { for (const l of fields) l.style.display = l.dataset.kinds.split(' ').includes(kind.value) ? '' : 'none'; };
  kind.addEventListener('change', showKind);
  async function load() {
    const chans = await api('ListAlertChannels', {});
    mount(list, table(['name', 'kind', 'target', 'enabled', ''], chans.map((c) => h('tr', { 'data-channel': c.name },
      [c.name, c.kind, c.kind === 'webhook' ? c.url : c.smtpAddr + ' → ' + (c.to || []).join(', '), c.enabled ? 'yes' : 'no',
        h('button', { type: 'button', class: 'ch-test', disabled: !can('operator'), onclick: () => test(c.name) }, 'Send test')].map((x) => h('td', {}, x)))),
    'No channels: notifications go nowhere until one is added.'));
  }
  async function test(name) {
    result.replaceChildren();
    try {
      const r = await api('TestAlertChannels', { channel: name });
      result.append(h('div', { class: 'notice', id: 'channel-test-result' }, 'test notification sent to ' + r.sent + ' channel(s)'));
    } catch (err) { result.append(h('div', { class: 'error', id: 'channel-test-result' }, describe(err))); }
  }
  // check is what the browser can tell alone; the API checks the same and more.
  function check(v) {
    const e = {};
    if (!v.name) e.name = 'Name is required';
    if (v.kind === 'webhook') {
      if (!/^https?:\/\/[^/]+/.test(v.url || '')) e.url = 'URL must be an http:// or https:// address';
      if (!v.secret) e.secret = 'HMAC secret is required (the receiver checks X-OMS-Signature with it)';
    } else {
      if (!/^[^:]+:\d+$/.test(v.smtpAddr || '')) e.smtpAddr = 'SMTP address must be host:port';
      if (!v.from) e.from = 'From is required';
      if (!(v.to || []).length) e.to = 'To needs at least one address';
    }
    for (const [k, el] of Object.entries(errs)) el.textContent = e[k] || '';
    return !Object.keys(e).length;
  }
  const form = h('form', { class: 'stack card', id: 'channel-form' }, h('h3', {}, 'Add or replace a channel'), h('label', {}, 'Kind ', kind), fields,
    h('div', { class: 'toolbar' }, h('button', { type: 'submit', id: 'ch-save', disabled: !can('operator') }, 'Save channel')));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    result.replaceChildren();
    const val = (k) => inputs[k].value.trim();
    const v = { name: val('name'), kind: kind.value, enabled: true };
    if (v.kind === 'webhook') Object.assign(v, { url: val('url'), secret: inputs.secret.value });
    else Object.assign(v, { smtpAddr: val('smtpAddr'), from: val('from'), to: val('to').split(',').map((s) => s.trim()).filter(Boolean), user: val('user') || undefined, password: inputs.password.value || undefined });
    if (!check(v)) { result.append(h('div', { class: 'form-error', id: 'channel-error' }, 'Fix the marked fields.')); return; }
    try {
      await api('SetAlertChannel', v);
      inputs.secret.value = ''; inputs.password.value = '';
      result.append(h('div', { class: 'notice' }, 'channel ' + v.name + ' saved'));
      await load();
    } catch (err) { result.append(h('div', { class: 'form-error', id: 'channel-error' }, describe(err))); }
  });
  showKind();
  return { el: h('div', {}, h('h2', {}, 'Channels'), list, result, form), load: () => load().catch(onError) };
}
