// The project page's two-way section: both directions of the pair (each with its state,
// components and lag), the DDL region, the priority, the measured clock skew and the conflicts.
import { api } from '../api.js';
import { h, state, table, fmtTime, fmtDuration, fmtNum } from '../dom.js';

// loadPeer reads the other direction of a two-way project (null for a one-way project).
export async function loadPeer(p) {
  if (!p.twoWay) return null;
  const [peer, comps] = await Promise.all([api('DescribeProject', { id: p.twoWay.peerId }), api('DescribeProjectComponents', { id: p.twoWay.peerId })]);
  return { p: peer, comps };
}

// skewText shows the clock skew of a direction: its target's clock minus its source's.
export function skewText(tw) {
  if (tw.clockSkewSeconds === undefined || tw.clockSkewSeconds === null) return 'not measured yet';
  const s = tw.clockSkewSeconds;
  return (s >= 0 ? '+' : '') + s.toFixed(3) + ' s (±' + (tw.clockSkewUncertaintySeconds || 0).toFixed(3) + ' s, ' + tw.targetRegion + ' minus ' + tw.sourceRegion +
    ', measured ' + fmtTime(tw.clockSkewMeasuredAt) + ')';
}

function direction(p, comps, current) {
  const tw = p.twoWay;
  const incr = comps.find((c) => c.kind === 'incr-sync');
  return h('div', { class: 'card direction', 'data-direction': tw.direction, id: 'direction-' + tw.direction },
    h('h3', {}, tw.direction + ': ' + tw.sourceRegion + ' → ' + tw.targetRegion, ' ', state(p.status)),
    h('div', { class: 'muted' }, current ? 'this project ' : h('a', { href: '#/project/' + encodeURIComponent(p.id) }, p.name), ' · ', p.id,
      ' · lag ', h('b', { class: 'lag' }, incr ? fmtDuration(incr.lagSeconds) : '-'), ' · ', fmtNum(tw.conflicts), ' conflicts'),
    p.errorCode ? h('div', { class: 'error' }, h('b', {}, p.errorCode), ': ', p.errorMessage) : null,
    table(['kind', 'region', 'host', 'state', 'position', 'lag'], comps.map((c) => [c.kind, c.region, c.host || '-', state(c.state), h('code', {}, c.position || '-'),
      c.kind === 'incr-sync' ? fmtDuration(c.lagSeconds) : '-']), 'No components yet.'));
}

// ruleText shows a conflict policy: "lww on updated_at (skew at most 500 ms)", "ignore", ...
export function ruleText(r) {
  if (!r || !r.policy) return 'stop';
  return r.policy + (r.column ? ' on ' + r.column : '') + (r.maxSkewMs ? ' (skew at most ' + r.maxSkewMs + ' ms)' : '');
}

// otherDDLText shows what the direction from the other region does with its DDL, per class.
function otherDDLText(m) {
  const named = Object.entries(m || {}).sort().map(([k, v]) => k + ' ' + v);
  return named.length ? named.join(', ') + '; other classes stop' : 'stops its direction';
}

// twoWayView is the section for project p (with its components) and its peer (loadPeer).
export function twoWayView(p, comps, peer) {
  const tw = p.twoWay;
  const dirs = [direction(p, comps, true), peer ? direction(peer.p, peer.comps, false) : h('div', { class: 'card' }, 'The other direction ' + tw.peerId + ' cannot be read.')];
  if (tw.direction === 'reverse') dirs.reverse();
  const conflicts = (tw.conflicts || 0) + (peer && peer.p.twoWay ? peer.p.twoWay.conflicts || 0 : 0);
  return h('div', { id: 'project-twoway' },
    h('h2', {}, 'Two-way sync'),
    h('div', { class: 'cards' },
      h('div', { class: 'card' }, h('div', { class: 'muted' }, 'DDL accepted from'), h('b', { id: 'twoway-ddl' }, tw.settings.ddlRegion || tw.sourceRegion)),
      h('div', { class: 'card' }, h('div', { class: 'muted' }, 'DDL from the other region'), h('span', { id: 'twoway-other-ddl' }, otherDDLText(tw.settings.otherRegionDdl))),
      h('div', { class: 'card' }, h('div', { class: 'muted' }, 'priority'), (tw.settings.priority || []).join(' > ') || '-'),
      h('div', { class: 'card', id: 'twoway-policies' }, h('div', { class: 'muted' }, 'conflict policies'), 'default ' + ruleText(tw.settings.defaultConflictPolicy),
        Object.entries(tw.settings.conflictPolicies || {}).sort().map(([k, r]) => h('div', {}, k + ': ' + ruleText(r)))),
      h('div', { class: 'card' }, h('div', { class: 'muted' }, 'clock skew'), h('span', { id: 'twoway-skew' }, skewText(tw))),
      h('div', { class: 'card' }, h('div', { class: 'muted' }, 'conflicts (both directions)'),
        h('a', { id: 'twoway-conflicts', href: '#/conflicts/' + encodeURIComponent(p.id) }, fmtNum(conflicts) + ' — show'))),
    h('div', { class: 'pair' }, dirs));
}
