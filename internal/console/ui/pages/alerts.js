import { api, describe } from '../api.js';
import { h, mount, state, table, fmtTime } from '../dom.js';
import { rulesSection, channelsSection } from './alertconfig.js';

const STATES = ['firing', 'pending', 'resolved', ''];

// Alerts: the alert list of the OpenAPI (rules in docs/monitoring.md) with a state filter and a
// one-hour silence per rule and project; the rules (defaults, per-project overrides) and the
// notification channels with a test-send.
export async function alertsPage(main, { can }) {
  const filter = h('select', { id: 'alert-state' }, STATES.map((s) => h('option', { value: s }, s || 'any state')));
  const list = h('div', { id: 'alert-list' });
  const msg = h('div', { id: 'alert-msg' });
  async function load() {
    const alerts = await api('ListAlerts', { state: filter.value || undefined });
    mount(list, table(['state', 'rule', 'project', 'subject', 'value', 'since', 'message', ''], alerts.map((a) => [
      state(a.state.toUpperCase()), a.rule,
      a.projectId ? h('a', { href: '#/project/' + encodeURIComponent(a.projectId) }, a.projectId) : '-',
      a.subject, String(a.value), fmtTime(a.since), a.message,
      h('button', { type: 'button', disabled: !can('operator'), onclick: async () => {
        msg.replaceChildren();
        try {
          const s = await api('SilenceAlerts', { rule: a.rule, projectId: a.projectId || undefined, durationSeconds: 3600, reason: 'silenced from the console' });
          msg.append(h('div', { class: 'notice' }, 'Silenced ' + a.rule + ' until ' + fmtTime(s.until)));
        } catch (err) { msg.append(h('div', { class: 'error' }, describe(err))); }
      } }, 'Silence 1 h')]), 'No alerts in this state.'));
  }
  filter.addEventListener('change', () => load().catch((err) => mount(msg, h('div', { class: 'error' }, describe(err)))));
  const shown = (err) => mount(msg, h('div', { class: 'error' }, describe(err)));
  const rules = rulesSection(can, shown);
  const channels = channelsSection(can, shown);
  mount(main, h('h1', {}, 'Alerts'), h('div', { class: 'toolbar' }, filter), msg, list, rules.el, channels.el);
  await Promise.all([load(), rules.load(), channels.load()]);
}
