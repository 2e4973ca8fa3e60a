import { api, describe } from '../api.js';
import { h, mount, table, fmtTime } from '../dom.js';

const ROLES = ['viewer', 'operator', 'admin'];

export async function usersPage(main) {
  const list = h('div', { id: 'user-list' });
  const msg = h('div', { id: 'user-msg' });
  const name = h('input', { id: 'user-name', placeholder: 'user name' });
  const pw = h('input', { id: 'user-password', type: 'password', placeholder: 'password (8+ characters)', autocomplete: 'new-password' });
  const role = h('select', { id: 'user-role' }, ROLES.map((r) => h('option', { value: r }, r)));
  const nameErr = h('div', { class: 'field-error', id: 'err-user-name' });
  const pwErr = h('div', { class: 'field-error', id: 'err-user-password' });
  async function load() {
    const users = await api('ListUsers', {});
    mount(list, table(['user', 'role', 'created', ''], users.map((u) => {
      const sel = h('select', {}, ROLES.map((r) => h('option', { value: r, selected: r === u.role }, r)));
      sel.addEventListener('change', () => run(() => api('UpdateUser', { userName: u.userName, role: sel.value }), 'role of ' + u.userName + ' set to ' + sel.value));
      return [u.userName, sel, fmtTime(u.gmtCreate), h('button', { class: 'danger', onclick: () => window.confirm('Delete user ' + u.userName + '?') && run(() => api('DeleteUser', { userName: u.userName }), 'deleted ' + u.userName) }, 'Delete')];
    })));
  }
  async function run(fn, done) {
    msg.replaceChildren();
    try { await fn(); msg.append(h('div', { class: 'notice' }, done)); } catch (err) { msg.append(h('div', { class: 'error' }, describe(err))); }
    await load();
  }
  const form = h('form', { class: 'toolbar', id: 'user-form' }, h('div', {}, name, nameErr), h('div', {}, pw, pwErr), role, h('button', { type: 'submit', class: 'primary', id: 'user-create' }, 'Create user'));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    nameErr.textContent = /^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$/.test(name.value) ? '' : 'User name: 1-64 letters, digits, _ . @ -';
    pwErr.textContent = pw.value.length >= 8 ? '' : 'Password: at least 8 characters';
    if (nameErr.textContent || pwErr.textContent) return;
    run(() => api('CreateUser', { userName: name.value, password: pw.value, role: role.value }), 'created ' + name.value).then(() => { name.value = ''; pw.value = ''; });
  });
  mount(main, h('h1', {}, 'Users'), form, msg, list);
  await load();
}

export async function accountPage(main) {
  const s = await api('DescribeSession', {});
  const old = h('input', { id: 'pw-old', type: 'password', autocomplete: 'current-password' });
  const nw = h('input', { id: 'pw-new', type: 'password', autocomplete: 'new-password' });
  const err = h('div', { class: 'field-error', id: 'err-pw-new' });
  const msg = h('div', { id: 'pw-msg' });
  const form = h('form', { class: 'stack card' }, h('h2', {}, 'Change password'),
    h('label', { for: 'pw-old' }, 'Current password'), old, h('label', { for: 'pw-new' }, 'New password'), nw, err, msg,
    h('button', { type: 'submit', class: 'primary', id: 'pw-save' }, 'Change password'));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    msg.replaceChildren();
    err.textContent = nw.value.length >= 8 ? '' : 'New password: at least 8 characters';
    if (err.textContent) return;
    try { await api('ChangePassword', { oldPassword: old.value, newPassword: nw.value }); msg.append(h('div', { class: 'notice' }, 'Password changed; your other sessions have ended.')); } catch (x) { msg.append(h('div', { class: 'error' }, describe(x))); }
  });
  mount(main, h('h1', {}, 'Account'), h('p', {}, 'Logged in as ', h('b', {}, s.userName), ' with role ', h('b', {}, s.role), '. Sessions end after ' + Math.round(s.idleTimeoutSeconds / 60) + ' minutes without use.'), form);
}
