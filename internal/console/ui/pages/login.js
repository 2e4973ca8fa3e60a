import { api, describe } from '../api.js';
import { h, mount } from '../dom.js';

export function loginPage(main, { onLogin }) {
  const user = h('input', { id: 'login-user', name: 'userName', autocomplete: 'username' });
  const pw = h('input', { id: 'login-password', name: 'password', type: 'password', autocomplete: 'current-password' });
  const msg = h('div', { id: 'login-error', class: 'field-error' });
  const btn = h('button', { id: 'login-submit', class: 'primary', type: 'submit' }, 'Log in');
  const form = h('form', { class: 'stack login', id: 'login-form' },
    h('h1', {}, 'OMS console'),
    h('label', { for: 'login-user' }, 'User name'), user,
    h('label', { for: 'login-password' }, 'Password'), pw,
    msg, btn);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    msg.textContent = '';
    if (!user.value) { msg.textContent = 'User name is required'; return; }
    if (!pw.value) { msg.textContent = 'Password is required'; return; }
    btn.disabled = true;
    try {
      const s = await api('Login', { userName: user.value, password: pw.value });
      onLogin(s);
    } catch (err) {
      msg.textContent = describe(err);
      btn.disabled = false;
    }
  });
  mount(main, form);
  user.focus();
}
