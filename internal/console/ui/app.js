// The OMS web console: a hash-routed single page over the public OpenAPI.
import { api, setCSRF, setOnUnauthorized, describe } from './api.js';
import { h, mount } from './dom.js';
import { loginPage } from './pages/login.js';
import { overviewPage } from './pages/overview.js';
import { projectsPage } from './pages/projects.js';
import { wizardPage } from './pages/wizard.js';
import { projectPage } from './pages/project.js';
import { conflictsPage } from './pages/conflicts.js';
import { dataSourcesPage } from './pages/datasources.js';
import { resourcesPage } from './pages/resources.js';
import { hostPage, logPage } from './pages/host.js';
import { auditPage } from './pages/audit.js';
import { alertsPage } from './pages/alerts.js';
import { usersPage, accountPage } from './pages/users.js';

const routes = {
  overview: overviewPage,
  projects: projectsPage,
  'new-project': wizardPage,
  project: projectPage,
  conflicts: conflictsPage,
  datasources: dataSourcesPage,
  resources: resourcesPage,
  host: hostPage,
  log: logPage,
  audit: auditPage,
  alerts: alertsPage,
  users: usersPage,
  account: accountPage,
};

// session is the logged-in user ({userName, role}) or null.
export const session = { user: null };
export const can = (role) => session.user && ({ viewer: 1, operator: 2, admin: 3 }[session.user.role] || 0) >= { viewer: 1, operator: 2, admin: 3 }[role];

// renderTimes[page] is the last render time in ms (read by the browser test).
window.omsRenderTimes = {};
let stopPage = null; // the current page's cleanup (timers, charts)
let seq = 0;

function showHeader(on) {
  document.getElementById('top').hidden = !on;
  if (!on) return;
  document.getElementById('who').textContent = session.user.userName + ' (' + session.user.role + ')';
  for (const a of document.querySelectorAll('#nav a[data-role]')) a.hidden = !can(a.dataset.role);
}

async function route() {
  const my = ++seq;
  if (stopPage) { stopPage(); stopPage = null; }
  const main = document.getElementById('main');
  const [name, ...args] = (location.hash.replace(/^#\/?/, '') || 'overview').split('/');
  if (!session.user) {
    showHeader(false);
    return loginPage(main, { onLogin: (s) => { session.user = s; setCSRF(s.csrfToken); route(); } });
  }
  showHeader(true);
  for (const a of document.querySelectorAll('#nav a')) a.classList.toggle('active', a.getAttribute('href') === '#/' + name);
  const page = routes[name] || overviewPage;
  const start = performance.now();
  // The page renders into its own box, shown only if no later route started meanwhile (a slow
  // page must not overwrite a newer one).
  const box = document.createElement('div');
  try {
    const stop = await page(box, { args: args.map(decodeURIComponent), can });
    if (my !== seq) { if (stop) stop(); return; }
    stopPage = stop || null;
    main.replaceChildren(box);
  } catch (err) {
    if (my !== seq) return;
    mount(main, h('div', { class: 'error', id: 'page-error' }, describe(err)));
  }
  const ms = performance.now() - start;
  window.omsRenderTimes[name] = ms;
  document.getElementById('foot').textContent = name + ' rendered in ' + ms.toFixed(0) + ' ms';
  document.body.dataset.page = name;
  document.body.dataset.rendered = String(my);
}

async function boot() {
  setOnUnauthorized(() => {
    if (!session.user) return;
    session.user = null;
    setCSRF('');
    route();
  });
  document.getElementById('logout').addEventListener('click', async () => {
    try { await api('Logout', {}); } catch { /* the session may be gone already */ }
    session.user = null;
    setCSRF('');
    location.hash = '#/overview';
    route();
  });
  try {
    const s = await api('DescribeSession', {});
    session.user = s;
    setCSRF(s.csrfToken);
  } catch { session.user = null; }
  window.addEventListener('hashchange', route);
  route();
}

boot();
