import { api, describe } from '../api.js';
import { h, mount, table, fmtTime } from '../dom.js';

// TLS modes of a data source (docs/security.md): what the node requires of the connection.
const TLS_MODES = [['preferred', 'preferred (TLS when the server offers it)'], ['disabled', 'disabled'], ['required', 'required (encrypted, any certificate)'],
  ['verify-ca', 'verify-ca (certificate signed by the CA)'], ['verify-identity', 'verify-identity (CA and host name)']];

// The data source form creates (no id) or edits (id): an empty password keeps the stored one,
// which the API never sends back.
function dsForm(ds, onSaved, onCancel) {
  const edit = !!ds;
  const f = {};
  const errs = {};
  const field = (key, label, attrs) => {
    f[key] = h('input', { id: 'ds-' + key, name: key, ...attrs });
    errs[key] = h('div', { class: 'field-error', id: 'err-ds-' + key });
    return h('div', {}, h('label', { for: 'ds-' + key }, label), f[key], errs[key]);
  };
  const result = h('div', { id: 'ds-result' });
  const tlsOf = (v) => ({ tlsMode: v.tlsMode, tlsCa: v.tlsCa });
  const form = h('form', { class: 'stack card', id: 'ds-form' },
    h('h2', {}, edit ? 'Edit ' + ds.name : 'New data source'),
    h('div', { class: 'row' },
      field('name', 'Name', { value: edit ? ds.name : '', disabled: edit }),
      field('host', 'Host', { value: edit ? ds.host : '' }),
      field('port', 'Port', { value: edit ? ds.port : '3306', inputmode: 'numeric' })),
    h('div', { class: 'row' },
      field('userName', 'User', { value: edit ? ds.userName : '' }),
      field('password', edit ? 'Password (empty: keep)' : 'Password', { type: 'password', autocomplete: 'new-password' }),
      field('region', 'Region (empty: this node\'s)', { value: edit ? ds.region : '' })),
    field('description', 'Description', { value: edit ? ds.description || '' : '' }),
    h('div', { class: 'row' },
      h('div', {}, h('label', { for: 'ds-tlsMode' }, 'TLS'), f.tlsMode = h('select', { id: 'ds-tlsMode', name: 'tlsMode' },
        TLS_MODES.map(([v, label]) => h('option', { value: v, selected: (edit ? ds.tlsMode : 'preferred') === v }, label))), errs.tlsMode = h('div', { class: 'field-error', id: 'err-ds-tlsMode' })),
      h('div', {}, h('label', { for: 'ds-tlsCa' }, 'CA certificate (PEM; verify-ca and verify-identity; empty: the system roots)'),
        f.tlsCa = h('textarea', { id: 'ds-tlsCa', name: 'tlsCa', rows: 3, cols: 64, placeholder: '-----BEGIN CERTIFICATE-----', value: edit ? ds.tlsCa || '' : '' }), errs.tlsCa = h('div', { class: 'field-error', id: 'err-ds-tlsCa' }))),
    result,
    h('div', { class: 'toolbar' },
      h('button', { type: 'submit', class: 'primary', id: 'ds-save' }, edit ? 'Save' : 'Create'),
      h('button', { type: 'button', id: 'ds-test', onclick: test }, 'Test connection'),
      onCancel ? h('button', { type: 'button', onclick: onCancel }, 'Cancel') : null));

  function values() {
    return { name: f.name.value.trim(), host: f.host.value.trim(), port: Number(f.port.value), userName: f.userName.value.trim(),
      password: f.password.value, region: f.region.value.trim(), description: f.description.value,
      tlsMode: f.tlsMode.value, tlsCa: f.tlsCa.value.trim() };
  }
  function check(v) {
    const e = {};
    if (!edit && !v.name) e.name = 'Name is required';
    if (!v.host) e.host = 'Host is required';
    if (!Number.isInteger(v.port) || v.port < 1 || v.port > 65535) e.port = 'Port must be a number from 1 to 65535';
    if (!v.userName) e.userName = 'User is required';
    if (v.tlsCa && !/^-----BEGIN CERTIFICATE-----[\s\S]+-----END CERTIFICATE-----$/.test(v.tlsCa)) e.tlsCa = 'CA certificate must be PEM text (-----BEGIN CERTIFICATE----- ... -----END CERTIFICATE-----)';
    else if (v.tlsCa && !v.tlsMode.startsWith('verify-')) e.tlsCa = 'CA certificate is used only with TLS verify-ca or verify-identity';
    for (const [k, el] of Object.entries(errs)) { el.textContent = e[k] || ''; f[k].classList.toggle('invalid', !!e[k]); }
    return !Object.keys(e).length;
  }
  async function test() {
    const v = values();
    result.replaceChildren();
    if (!check(v)) return;
    try {
      const r = await api('TestDataSource', { id: edit ? ds.id : undefined, host: v.host, port: v.port, userName: v.userName, password: v.password || undefined, ...tlsOf(v), tlsCa: v.tlsCa || undefined });
      result.append(h('div', { class: r.ok ? 'notice' : 'error', id: 'ds-test-result' }, r.ok ? 'Connected: ' + r.version + ' (' + r.latencyMs + ' ms)' : r.message));
    } catch (err) { result.append(h('div', { class: 'error' }, describe(err))); }
  }
  form.addEventListener('input', () => check(values()));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    result.replaceChildren();
    const v = values();
    if (!check(v)) { result.append(h('div', { class: 'form-error', id: 'ds-error' }, 'Fix the marked fields.')); return; }
    try {
      if (edit) await api('UpdateMysqlDataSource', { id: ds.id, host: v.host, port: v.port, userName: v.userName, password: v.password || undefined, region: v.region || undefined, description: v.description, ...tlsOf(v) });
      else await api('CreateMysqlDataSource', { ...v, region: v.region || undefined, description: v.description || undefined, tlsCa: v.tlsCa || undefined });
      onSaved();
    } catch (err) { result.append(h('div', { class: 'form-error', id: 'ds-error' }, describe(err))); }
  });
  return form;
}

export async function dataSourcesPage(main, { can }) {
  const formBox = h('div', { id: 'ds-form-box' });
  const list = h('div', { id: 'ds-list' });
  async function load() {
    const sources = await api('ListDataSource', {});
    mount(list, table(['name', 'type', 'host:port', 'user', 'TLS', 'region', 'description', 'created', ''], sources.map((d) => h('tr', { 'data-ds': d.name },
      [d.name, d.type, d.host + ':' + d.port, d.userName, d.tlsMode + (d.tlsCa ? ' (own CA)' : ''), d.region, d.description || '', fmtTime(d.gmtCreate),
        h('span', {}, can('operator') ? h('button', { type: 'button', onclick: () => mount(formBox, dsForm(d, saved, () => formBox.replaceChildren())) }, 'Edit') : null, ' ',
          can('operator') ? h('button', { type: 'button', onclick: async (e) => {
            const out = e.target.parentElement.querySelector('.test-out') || e.target.parentElement.appendChild(h('div', { class: 'test-out' }));
            try { const r = await api('TestDataSource', { id: d.id }); out.className = 'test-out ' + (r.ok ? 'ok' : 'bad'); out.textContent = r.ok ? 'OK ' + r.version : r.message; } catch (err) { out.textContent = describe(err); }
          } }, 'Test') : null)].map((c) => h('td', {}, c)))), 'No data sources yet.'));
  }
  async function saved() { formBox.replaceChildren(); await load(); }
  mount(main, h('h1', {}, 'Data sources'),
    h('div', { class: 'toolbar' }, can('operator') ? h('button', { class: 'primary', id: 'ds-new', onclick: () => mount(formBox, dsForm(null, saved, () => formBox.replaceChildren())) }, 'New data source') : null),
    formBox, list);
  await load();
}
