// The plan of a change as the API answers it to ?dry_run=true
// (docs/operations.md, "Previewing a change"): what would hold it up now,
// how long such jobs took, the pods in the order the job takes them, the
// shard copies that move, the quota before and after, and its states.  The
// apply page's preview and the operate panel's show the same parts, under
// ids that start with prefix ("preview" gives preview-gates,
// preview-pods, preview-states...).

import {h} from './dom.js';
import {formatMeasure, MEASURES} from './quantity.js';

const MEASURE_LABELS = Object.fromEntries(MEASURES);

const KINDS = {
	create: 'creating', delete: 'deleting', scale: 'scaling', restart: 'restarting', upgrade: 'upgrading',
	config_update: 'changing the settings of', plugin_install: 'installing the plugin on',
	plugin_remove: 'removing the plugin from', kibana: 'changing Kibana of', snapshot: 'a snapshot of',
	restore: 'restoring into',
};

// What the plan's gates mean, for a person.
const GATES = {
	health: 'health',
	maintenance_window: 'maintenance window',
	job_active: 'another job',
	placement: 'placement',
	copies: 'shard copies',
	no_pods: 'no pod',
	unread: 'not read',
};

function text(v) {
	return v === null || v === undefined ? 'none' : String(v);
}

// The tenant's quota before and after, as rows: measure, limit, before, after.
function tenantQuota(prefix, q) {
	if (!q || typeof q !== 'object' || !q.before || !q.after) {
		return null;
	}
	const measures = Object.keys(q.after).filter((m) => q.before[m] !== q.after[m]);
	if (measures.length === 0) {
		return h('p', {id: `${prefix}-quota`}, 'The tenant\'s quota use does not change.');
	}
	return h('div', {class: 'table-wrap'}, h('table', {class: 'quota', id: `${prefix}-quota`},
		h('caption', null, 'The tenant\'s quota, before and after'),
		h('thead', null, h('tr', null, ['Measure', 'Limit', 'Before', 'After'].map((t) => h('th', {scope: 'col'}, t)))),
		h('tbody', null, measures.map((m) => h('tr', {dataset: {measure: m}},
			h('th', {scope: 'row'}, MEASURE_LABELS[m] || m.replace(/_/g, ' ')),
			h('td', null, q.limit && q.limit[m] !== null && q.limit[m] !== undefined ?
				formatMeasure(m, q.limit[m]) : 'no limit'),
			h('td', null, formatMeasure(m, q.before[m])),
			h('td', null, formatMeasure(m, q.after[m])))))));
}

// The namespace's ResourceQuota before and after: the entries that change.
function namespaceQuota(prefix, q) {
	if (!q || typeof q !== 'object') {
		return null;
	}
	const before = q.before || {};
	const after = q.after || {};
	const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])]
		.filter((k) => before[k] !== after[k]);
	if (keys.length === 0) {
		return null;
	}
	return h('ul', {id: `${prefix}-namespace-quota`}, keys.map((k) =>
		h('li', null, h('code', null, k), `: ${text(before[k])} → ${text(after[k])}`)));
}

// The parts of plan, for a section whose heading the caller gives; their
// headings are of level.
export function planParts(plan, prefix, level = 3) {
	const hn = `h${level}`;
	const states = Array.isArray(plan.states) ? plan.states : null;
	const pods = Array.isArray(plan.pods) ? plan.pods : [];
	const gates = Array.isArray(plan.gates) ? plan.gates : [];
	const warnings = Array.isArray(plan.warnings) ? plan.warnings : [];
	const est = plan.estimate_seconds;
	const why = plan.estimate && plan.estimate.reason ? plan.estimate.reason : 'no similar job has succeeded yet';
	const shards = plan.shards;
	const quota = plan.quota || {};
	const restartish = pods.some((p) => p.action === 'restart' || p.action === 'upgrade');
	return [
		h('p', {id: `${prefix}-estimate`}, typeof est === 'number' ?
			`About ${Math.max(1, Math.round(est))} s, the median of the last similar jobs.` :
			`No estimate: ${why}.`),
		h(hn, null, 'What would hold it up now'),
		gates.length ?
			h('ul', {id: `${prefix}-gates`, class: 'gates'}, gates.map((g) => h('li', {dataset: {gate: String(g.gate)}},
				h('strong', null, GATES[g.gate] || String(g.gate)), `: ${g.reason}`))) :
			h('p', {id: `${prefix}-gates`}, 'Nothing would hold it up now.'),
		warnings.length ? [h(hn, null, 'Warnings'),
			h('ul', {id: `${prefix}-warnings`}, warnings.map((w) => h('li', null, String(w))))] : null,
		h(hn, null, restartish ? `The pods it restarts, in this order (${pods.length})` :
			`The pods it makes or removes (${pods.length})`),
		pods.length ?
			h('ol', {id: `${prefix}-pods`}, pods.map((p) => h('li', null,
				`${p.name || 'a ' + p.role + ' pod'} (${p.role}): ${p.action}`))) :
			h('p', {id: `${prefix}-pods`}, 'No pod is restarted, made or removed.'),
		shards && typeof shards === 'object' ? [h(hn, null, 'Shard copies that move'),
			h('p', {id: `${prefix}-shards`}, `${shards.count} copies, ${formatMeasure('disk_bytes', Number(shards.bytes) || 0)}` +
				(Array.isArray(shards.copies) && shards.copies.length ? `: ${shards.copies.join(', ')}` : ''))] : null,
		quota.tenant || quota.namespace ? [h(hn, null, 'Quota'),
			tenantQuota(prefix, quota.tenant), namespaceQuota(prefix, quota.namespace)] : null,
		h(hn, null, states ? `Its states, in order (${states.length})` : 'Its states'),
		states ?
			h('ol', {id: `${prefix}-states`, class: 'states'}, states.map((st) => h('li', null, h('code', null, st)))) :
			h('p', {id: `${prefix}-states`}, 'The path cannot be told before it runs.'),
	];
}

// "What upgrading logs would do"
export function planTitle(plan) {
	const verb = KINDS[plan.kind] || String(plan.kind || 'this change');
	return `What ${verb} ${plan.cluster || 'the cluster'} would do`;
}
