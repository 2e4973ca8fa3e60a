import { api, describe } from '../api.js';
import { h, mount } from '../dom.js';

// The create-project wizard: data sources (with a connection test), object selection (patterns,
// renames, row filters, column subsets), step options. It validates as the user types with ValidateProject.
export async function wizardPage(main) {
  const sources = await api('ListDataSource', {});
  const errs = {};
  const fieldError = (name) => (errs[name] = h('div', { class: 'field-error', 'data-for': name, id: 'err-' + name }));
  const dsSelect = (id) => h('select', { id }, h('option', { value: '' }, '— choose —'),
    sources.map((d) => h('option', { value: d.id }, d.name + ' (' + d.host + ':' + d.port + ', ' + d.region + ')')));
  const name = h('input', { id: 'wiz-name', name: 'name', placeholder: 'orders-migration' });
  const source = dsSelect('wiz-source');
  const target = dsSelect('wiz-target');
  const testBtn = (sel, id) => {
    const out = h('span', { id: id + '-result', class: 'muted' });
    const btn = h('button', { type: 'button', id, onclick: async () => {
      out.className = 'muted';
      if (!sel.value) { out.textContent = 'choose a data source first'; return; }
      out.textContent = 'testing…';
      try {
        const r = await api('TestDataSource', { id: sel.value });
        out.className = r.ok ? 'ok' : 'bad';
        out.textContent = r.ok ? 'OK: ' + r.version + ' (' + r.latencyMs + ' ms)' : r.message;
      } catch (err) { out.className = 'bad'; out.textContent = describe(err); }
    } }, 'Test connection');
    return [btn, ' ', out];
  };
  const rules = h('div', { class: 'rules', id: 'wiz-rules' });
  const addRule = (r = {}) => {
    const row = h('div', { class: 'rule' },
      h('select', { class: 'kind' }, h('option', { value: 'include' }, 'include'), h('option', { value: 'exclude', selected: r.exclude }, 'exclude')),
      h('input', { class: 'db', placeholder: 'database (e.g. shop or shop_*)', value: r.db || '' }),
      h('input', { class: 'table', placeholder: 'table (* = all)', value: r.table || '' }),
      h('input', { class: 'renameDb', placeholder: 'target database' }),
      h('input', { class: 'renameTable', placeholder: 'target table' }),
      h('input', { class: 'where', placeholder: 'row filter, e.g. id > 100' }),
      h('input', { class: 'columns', placeholder: 'columns, e.g. id, name (empty = all)', title: 'a subset of the columns to move; it must hold the primary key' }),
      h('button', { type: 'button', title: 'remove', onclick: () => { row.remove(); changed(); } }, '×'));
    row.addEventListener('input', changed);
    rules.append(row);
  };
  const opt = (id, label, on) => h('label', {}, h('input', { type: 'checkbox', id, checked: on, onchange: changed }), ' ', label);
  const options = {
    struct: opt('wiz-struct', 'schema (tables, then indexes)', true),
    full: opt('wiz-full', 'full data copy', true),
    incr: opt('wiz-incr', 'incremental sync', true),
    verify: opt('wiz-verify', 'full verification', true),
    start: opt('wiz-start', 'start right after creating', true),
  };
  const checked = (o) => o.querySelector('input').checked;
  // DDL policy per class of statement (empty: the documented default, see docs/incr-sync.md).
  const DDL_CLASSES = ['table', 'index', 'database', 'view', 'routine', 'trigger', 'event', 'sequence'];
  const ddl = Object.fromEntries(DDL_CLASSES.map((c) => [c, h('select', { id: 'wiz-ddl-' + c, onchange: changed },
    ['', 'apply', 'skip', 'stop'].map((v) => h('option', { value: v }, v || 'default')))]));
  const live = h('div', { id: 'wiz-validation', class: 'muted' });
  const formError = h('div', { id: 'wiz-error' });
  const create = h('button', { type: 'submit', class: 'primary', id: 'wiz-create' }, 'Create project');

  function request() {
    const tables = [], exclude = [];
    for (const row of rules.querySelectorAll('.rule')) {
      const v = (c) => row.querySelector('.' + c).value.trim();
      if (!v('db') && !v('table')) continue;
      const cols = v('columns') ? v('columns').split(',').map((c) => c.trim()) : undefined;
      const r = { db: v('db'), table: v('table') || undefined, renameDb: v('renameDb') || undefined, renameTable: v('renameTable') || undefined, where: v('where') || undefined, columns: cols };
      (row.querySelector('.kind').value === 'exclude' ? exclude : tables).push(r);
    }
    const ddlPolicy = Object.fromEntries(DDL_CLASSES.filter((c) => ddl[c].value).map((c) => [c, ddl[c].value]));
    return { name: name.value.trim(), sourceEndpointId: source.value, sinkEndpointId: target.value,
      ddlPolicy: Object.keys(ddlPolicy).length ? ddlPolicy : undefined,
      transferMapping: { tables, exclude: exclude.length ? exclude : undefined },
      enableStructTransfer: checked(options.struct), enableFullTransfer: checked(options.full),
      enableIncrTransfer: checked(options.incr), enableFullVerify: checked(options.verify), startImmediately: checked(options.start) };
  }

  // columnsError checks the rules' column subsets as far as the browser can (the precheck checks
  // them against the table): no empty or repeated name, none on an exclude rule.
  function columnsError(m) {
    for (const [i, t] of m.tables.entries()) {
      const cols = t.columns || [];
      if (cols.some((c) => !c)) return 'rule ' + (i + 1) + ': Columns has an empty name (a stray comma)';
      const dup = cols.find((c, j) => cols.indexOf(c) !== j);
      if (dup) return 'rule ' + (i + 1) + ': Columns lists "' + dup + '" twice';
    }
    if ((m.exclude || []).some((t) => t.columns)) return 'an exclude rule takes no Columns (it leaves whole tables out)';
    return '';
  }

  // localErrors are the checks the browser can make alone, by field.
  function localErrors(r) {
    const e = {};
    if (!r.name) e.name = 'Name is required';
    else if (r.name.length > 128) e.name = 'Name is longer than 128 characters';
    if (!r.sourceEndpointId) e.source = 'Source data source is required';
    if (!r.sinkEndpointId) e.target = 'Target data source is required';
    else if (r.sinkEndpointId === r.sourceEndpointId) e.target = 'Target must differ from the source';
    if (!r.transferMapping.tables.length) e.rules = 'Objects: add at least one include rule with a database';
    else if (r.transferMapping.tables.some((t) => !t.db)) e.rules = 'Objects: every rule needs a database pattern';
    else {
      const c = columnsError(r.transferMapping);
      if (c) e.rules = 'Objects: ' + c;
    }
    if (!r.enableFullTransfer && !r.enableIncrTransfer) e.options = 'Options: enable full copy or incremental sync';
    return e;
  }

  function showErrors(e) {
    for (const [k, el] of Object.entries(errs)) el.textContent = e[k] || '';
    name.classList.toggle('invalid', !!e.name);
    source.classList.toggle('invalid', !!e.source);
    target.classList.toggle('invalid', !!e.target);
  }

  let timer, vseq = 0;
  function changed() {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const r = request();
      const e = localErrors(r);
      showErrors(e);
      if (Object.keys(e).length) { live.className = 'muted'; live.textContent = 'Fix the marked fields.'; return; }
      const my = ++vseq;
      try {
        await api('ValidateProject', r);
        if (my === vseq) { live.className = 'ok'; live.textContent = 'Valid.'; }
      } catch (err) {
        if (my === vseq) { live.className = 'bad'; live.textContent = describe(err); }
      }
    }, 300);
  }

  const form = h('form', { class: 'stack', id: 'wizard' },
    h('h1', {}, 'New project'),
    h('h2', {}, '1. Data sources'),
    h('label', { for: 'wiz-name' }, 'Name'), name, fieldError('name'),
    h('label', { for: 'wiz-source' }, 'Source'), h('div', { class: 'row' }, source, testBtn(source, 'wiz-test-source')), fieldError('source'),
    h('label', { for: 'wiz-target' }, 'Target'), h('div', { class: 'row' }, target, testBtn(target, 'wiz-test-target')), fieldError('target'),
    sources.length < 2 ? h('div', { class: 'notice' }, 'Create the source and target first under ', h('a', { href: '#/datasources' }, 'Data sources'), '.') : null,
    h('h2', {}, '2. Objects'),
    h('p', { class: 'muted' }, 'Patterns take * and ?. Renames give the target names; a row filter is one boolean expression over the table\'s columns; columns (comma-separated, with the primary key) move only those columns.'),
    rules, h('button', { type: 'button', id: 'wiz-add-rule', onclick: () => addRule() }, 'Add rule'), fieldError('rules'),
    h('h2', {}, '3. Steps'),
    Object.values(options), fieldError('options'),
    h('label', {}, 'DDL policy of incremental sync (per class of statement)'),
    h('div', { class: 'row' }, DDL_CLASSES.map((c) => h('span', {}, c + ' ', ddl[c]))),
    h('h2', {}, '4. Create'), live, formError, create);
  addRule();
  for (const el of [name, source, target]) { el.addEventListener('input', changed); el.addEventListener('change', changed); }
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    formError.replaceChildren();
    const r = request();
    const e = localErrors(r);
    showErrors(e);
    if (Object.keys(e).length) { formError.append(h('div', { class: 'form-error' }, 'Fix the marked fields: ', Object.values(e).join('; '))); return; }
    create.disabled = true;
    try {
      const p = await api('CreateProject', r);
      location.hash = '#/project/' + encodeURIComponent(p.id);
    } catch (err) {
      formError.append(h('div', { class: 'form-error' }, describe(err)));
      create.disabled = false;
    }
  });
  mount(main, form);
  return () => clearTimeout(timer);
}
