// Apply for a cluster: a form of the spec (kube/spec.h) with a visible
// label on every control.  The versions come from GET /api/v1/versions,
// the plugins from the plugin repository's list for the version chosen
// (GET /api/v1/versions/V/plugins); what the cluster would take of the
// tenant's quota is shown as the form changes; the API's own 422 is shown beside the field
// it names.  "Preview" asks the API for the create's plan (?dry_run=true:
// every check the create makes, nothing queued) and shows its states, the
// pods it makes, what would hold it up and how long such creates took
// (ui/plan.js).  A cluster may start from a snapshot of another of the
// tenant's clusters.
// Once accepted, the create job's page follows the job.

import {get, post, paths, withQuery, ApiError} from './api.js';
import {h, replace, announce} from './dom.js';
import {field, clearRefusal, showRefusal, parseSettings} from './forms.js';
import {jobHref} from './links.js';
import {planParts, planTitle} from './plan.js';
import {specUsage, MEASURES, formatMeasure} from './quantity.js';

const ROLES = [
	{key: 'masters', title: 'Masters', one: 'master', disk: false},
	{key: 'data', title: 'Data nodes', one: 'data node', disk: true},
	{key: 'clients', title: 'Clients', one: 'client', disk: false},
];

// What the form starts with: the spec's own defaults (kube/spec.c), but
// no clients, the smallest cluster that is still highly available.
const START = {
	masters: {replicas: 3, cpu: '1', memory: '2Gi'},
	data: {replicas: 3, cpu: '2', memory: '8Gi', disk: '100Gi'},
	clients: {replicas: 0, cpu: '1', memory: '2Gi'},
};

// A field of the form, by the API's name for the field it answers for.
function apiField(key, label, control, hint) {
	const f = field('f-' + key.replace(/[^a-z0-9]+/gi, '-'), label, control, hint);
	f.key = key;
	f.el.dataset.field = key;
	return f;
}

// The form field an API error's field belongs to.
function fieldOf(name) {
	if (!name) {
		return null;
	}
	const f = String(name);
	if (f === 'restore.snapshot') {
		return 'restore.snapshot';
	}
	for (const [prefix, key] of [['restore', 'restore.cluster'], ['plugins', 'plugins'], ['config', 'settings'], ['settings', 'settings'],
		['placement', 'placement'], ['kibana', 'kibana'], ['image', 'version'], ['version', 'version'],
		['name', 'name']]) {
		if (f === prefix || f.startsWith(prefix + '.') || f.startsWith(prefix + '[')) {
			return key;
		}
	}
	const [role, sub] = f.split('.');
	if (ROLES.some((r) => r.key === role)) {
		if (['replicas', 'cpu', 'memory', 'disk'].includes(sub)) {
			return `${role}.${sub}`;
		}
		return sub === 'heap' ? `${role}.memory` : `${role}.replicas`;
	}
	return null;
}

export function applyPage(main, app) {
	const heading = h('h1', {tabindex: '-1'}, 'Apply for a cluster');
	app.setTitle('Apply for a cluster');
	const me = app.me;
	if (!me || me.may.operate === 'none') {
		replace(main, heading, h('p', {class: 'problem'}, me ?
			`Your role (${me.role}) may not create clusters: ask a member or an admin of your tenant.` :
			'Sign in to apply for a cluster.'));
		return null;
	}
	const fields = {};
	const add = (f) => {
		fields[f.key] = f;
		return f.el;
	};
	const version = h('select', {name: 'version'});
	const plugins = h('div', {class: 'checks', id: 'f-plugins-list'});
	const pluginsNote = h('p', {class: 'hint', id: 'f-plugins-note', 'aria-live': 'polite'});
	const pluginsError = h('p', {id: 'f-plugins-error', class: 'field-error', hidden: true});
	const pluginsSet = h('fieldset', {class: 'field', dataset: {field: 'plugins'}, 'aria-describedby': 'f-plugins-error'},
		h('legend', null, 'Plugins'), plugins, pluginsNote, pluginsError);
	fields.plugins = {key: 'plugins', el: pluginsSet, control: pluginsSet, error: pluginsError};

	const roleSets = ROLES.map((r) => {
		const start = START[r.key];
		return h('fieldset', {class: 'role'}, h('legend', null, r.title),
			add(apiField(`${r.key}.replicas`, `Number of ${r.title.toLowerCase()}`,
				h('input', {type: 'number', min: r.key === 'clients' ? 0 : 1, step: 1, value: start.replicas, required: true}),
				r.key === 'masters' ? 'An odd number: 1, 3 or 5.' : null)),
			add(apiField(`${r.key}.cpu`, `CPU per ${r.one}`,
				h('input', {type: 'text', value: start.cpu, spellcheck: 'false', autocomplete: 'off'}),
				'Cores, such as 1, 2 or 500m.')),
			add(apiField(`${r.key}.memory`, `Memory per ${r.one}`,
				h('input', {type: 'text', value: start.memory, spellcheck: 'false', autocomplete: 'off'}),
				'Such as 2Gi; the heap is half of it.')),
			r.disk ? add(apiField(`${r.key}.disk`, `Disk per ${r.one}`,
				h('input', {type: 'text', value: start.disk, spellcheck: 'false', autocomplete: 'off'}),
				'Such as 100Gi.')) : null);
	});

	const placement = h('select', null,
		h('option', {value: 'host'}, 'one node of a role per host'),
		h('option', {value: 'rack'}, 'one node of a role per rack'));
	const settings = h('textarea', {rows: 4, spellcheck: 'false', placeholder: 'indices.query.bool.max_clause_count = 4096'});
	const kibana = h('input', {type: 'number', min: 0, max: 10, step: 1, value: 0});
	// Restore: a snapshot of another cluster of the tenant, once the new
	// one is green ("restore": {"cluster", "snapshot"}).
	const restoreFrom = h('select', null, h('option', {value: ''}, 'none: start empty'));
	const restoreSnapshot = h('select', {disabled: true});
	const restoreNote = h('p', {class: 'hint', id: 'f-restore-note', 'aria-live': 'polite'});
	const restoreSet = h('fieldset', {class: 'role', id: 'f-restore'}, h('legend', null, 'Restore from a snapshot'),
		add(apiField('restore.cluster', 'Source cluster', restoreFrom,
			'A cluster of the tenant whose snapshot the new cluster starts from.')),
		add(apiField('restore.snapshot', 'Snapshot', restoreSnapshot, 'Its snapshots that succeeded, newest first.')),
		restoreNote);
	const formError = h('div', {id: 'apply-error', class: 'form-error', role: 'alert', hidden: true});
	const submit = h('button', {type: 'submit'}, 'Apply for the cluster');
	const previewButton = h('button', {type: 'button'}, 'Preview');
	const previewSec = h('section', {class: 'panel', id: 'preview', 'aria-labelledby': 'preview-h', 'aria-live': 'polite', hidden: true});
	const quotaBody = h('tbody');
	const quotaNote = h('p', {id: 'quota-note', class: 'hint'});
	const quotaSec = h('section', {class: 'panel', id: 'quota', 'aria-labelledby': 'quota-h'},
		h('h2', {id: 'quota-h'}, `Quota of tenant ${me.tenant}`),
		h('div', {class: 'table-wrap'}, h('table', {class: 'quota'},
			h('caption', null, 'What this cluster would take of the quota'),
			h('thead', null, h('tr', null, ['Measure', 'Limit', 'In use', 'This cluster', 'After']
				.map((t) => h('th', {scope: 'col'}, t)))),
			quotaBody)),
		quotaNote);

	const form = h('form', {id: 'apply-form', class: 'apply', novalidate: true, 'aria-labelledby': 'apply-h'},
		h('h2', {id: 'apply-h', class: 'visually-hidden'}, 'The cluster'),
		formError,
		h('fieldset', {class: 'role'}, h('legend', null, 'Cluster'),
			add(apiField('name', 'Name', h('input', {type: 'text', required: true, spellcheck: 'false', autocomplete: 'off', maxlength: 40}),
				'Lower-case letters, digits and "-", at most 40 characters.')),
			add(apiField('version', 'Version', version, null))),
		roleSets,
		pluginsSet,
		restoreSet,
		h('fieldset', {class: 'role'}, h('legend', null, 'More'),
			add(apiField('placement', 'Placement', placement, 'Which failure domain no two nodes of a role share.')),
			add(apiField('settings', 'Settings', settings, 'One setting per line: key = value.')),
			add(apiField('kibana', 'Kibana', kibana, 'Kibana instances next to the cluster; 0 for none.'))),
		h('div', {class: 'buttons'}, previewButton, submit));
	replace(main, heading, h('p', null, 'The cluster is created by a job; its page follows the job as it runs.'),
		quotaSec, form, previewSec);

	let versions = [];
	let tenant = null;
	let stopped = false;

	// The repository's plugins for the version chosen; those esaas knows
	// but the repository lacks are named, not offered.
	let pluginsFor = null;
	const showPlugins = async () => {
		const wanted = version.value;
		pluginsFor = wanted;
		const was = new Set([...plugins.querySelectorAll('input:checked')].map((i) => i.value));
		replace(plugins);
		pluginsNote.textContent = `Reading the plugin repository's list for ${wanted}…`;
		let list;
		try {
			list = await get(paths.versionPlugins(wanted));
		} catch (err) {
			if (pluginsFor === wanted && !stopped) {
				pluginsNote.textContent = `The plugin repository's list could not be read: ${err.message}`;
			}
			return;
		}
		if (pluginsFor !== wanted || stopped) {
			return;
		}
		const offered = Array.isArray(list.plugins) ? list.plugins : [];
		const missing = Array.isArray(list.missing) ? list.missing : [];
		replace(plugins, offered.map((p) => {
			const id = 'plugin-' + p;
			return h('div', {class: 'check'},
				h('input', {type: 'checkbox', id, value: p, checked: was.has(p)}),
				h('label', {for: id}, p));
		}));
		pluginsNote.textContent = (offered.length ? '' : `The plugin repository has no plugin for ${wanted}. `) +
			(missing.length ? `Not in the repository for ${wanted}: ${missing.join(', ')}.` : '');
	};

	const value = (key) => fields[key].control.value.trim();

	// The spec the form describes; throws with the field when it cannot be built.
	const spec = () => {
		const out = {name: value('name'), version: version.value};
		for (const r of ROLES) {
			const n = Number(value(`${r.key}.replicas`));
			out[r.key] = {replicas: Number.isInteger(n) ? n : value(`${r.key}.replicas`),
				cpu: value(`${r.key}.cpu`), memory: value(`${r.key}.memory`)};
			if (r.disk) {
				out[r.key].disk = value(`${r.key}.disk`);
			}
		}
		out.plugins = [...plugins.querySelectorAll('input:checked')].map((i) => i.value);
		out.placement = {spread: placement.value};
		let config;
		try {
			config = parseSettings(settings.value);
		} catch (err) {
			err.field = 'settings';
			throw err;
		}
		if (Object.keys(config).length) {
			out.config = config;
		}
		if (restoreFrom.value) {
			out.restore = {cluster: restoreFrom.value, snapshot: restoreSnapshot.value};
		}
		const k = Number(value('kibana'));
		if (k > 0) {
			out.kibana = {replicas: Number.isInteger(k) ? k : value('kibana')};
		}
		return out;
	};

	const showQuota = () => {
		if (!tenant) {
			return;
		}
		let take = null;
		try {
			take = specUsage(spec());
		} catch {
			take = null;
		}
		const over = [];
		replace(quotaBody, MEASURES.map(([m, label]) => {
			const limit = tenant.quota ? tenant.quota[m] : null;
			const used = tenant.usage ? Number(tenant.usage[m]) || 0 : 0;
			const adds = take ? take[m] : null;
			const after = adds === null ? null : used + adds;
			const tooMuch = limit !== null && limit !== undefined && after !== null && after > Number(limit);
			if (tooMuch) {
				over.push(label.toLowerCase());
			}
			return h('tr', {dataset: {measure: m}, class: tooMuch ? 'over' : null},
				h('th', {scope: 'row'}, label),
				h('td', null, formatMeasure(m, limit)),
				h('td', null, formatMeasure(m, used)),
				h('td', null, adds === null ? 'unknown' : formatMeasure(m, adds)),
				h('td', null, after === null ? 'unknown' : formatMeasure(m, after),
					tooMuch ? h('strong', null, ' (over the limit)') : ''));
		}));
		quotaNote.textContent = over.length ?
			`This cluster does not fit in the quota: ${over.join(', ')}. Make it smaller, or ask an admin for more.` :
			'This cluster fits in the quota.';
	};

	const clearErrors = () => clearRefusal(fields, formError);

	const showError = (err) => {
		const key = err.field === 'settings' ? 'settings' : fieldOf(err.field);
		showRefusal(key ? fields[key] : null, formError, err);
	};

	// The plan as the API gives it (docs/operations.md, "Previewing a change").
	const showPlan = (plan) => {
		replace(previewSec, h('h2', {id: 'preview-h'}, planTitle(plan)), planParts(plan, 'preview', 3));
		previewSec.hidden = false;
	};

	previewButton.addEventListener('click', async () => {
		clearErrors();
		let body;
		try {
			body = spec();
		} catch (err) {
			showError(err);
			return;
		}
		previewButton.disabled = true;
		try {
			const plan = await post(withQuery(paths.clusters(), {dry_run: 'true'}), body);
			if (!stopped) {
				showPlan(plan);
				announce(`The plan of cluster ${body.name}: ${(plan.states || []).length} states, ` +
					`${(plan.gates || []).length} gates.`);
			}
		} catch (err) {
			if (!stopped) {
				previewSec.hidden = true;
				showError(err instanceof ApiError ? err : {message: String(err.message || err)});
			}
		} finally {
			previewButton.disabled = false;
		}
	});

	form.addEventListener('input', () => {
		previewSec.hidden = true;
		showQuota();
	});
	// The source's snapshots that succeeded, newest first.
	let snapshotsFor = null;
	restoreFrom.addEventListener('change', async () => {
		const src = restoreFrom.value;
		snapshotsFor = src;
		replace(restoreSnapshot);
		restoreSnapshot.disabled = true;
		if (!src) {
			restoreNote.textContent = '';
			return;
		}
		restoreNote.textContent = `Reading the snapshots of ${src}…`;
		let list;
		try {
			list = await get(paths.clusterSnapshots(src));
		} catch (err) {
			if (snapshotsFor === src && !stopped) {
				restoreNote.textContent = `The snapshots of ${src} could not be read: ${err.message}`;
			}
			return;
		}
		if (snapshotsFor !== src || stopped) {
			return;
		}
		const done = (Array.isArray(list.snapshots) ? list.snapshots : [])
			.filter((sn) => sn.state === 'SUCCESS').map((sn) => String(sn.name)).reverse();
		replace(restoreSnapshot, done.map((sn) => h('option', {value: sn}, sn)));
		restoreSnapshot.disabled = done.length === 0;
		restoreNote.textContent = done.length ? `${done.length} snapshots of ${src} to start from.` :
			`${src} has no snapshot that succeeded.`;
	});
	version.addEventListener('change', () => {
		showPlugins();
		showQuota();
	});
	form.addEventListener('submit', async (e) => {
		e.preventDefault();
		clearErrors();
		let body;
		try {
			body = spec();
		} catch (err) {
			showError(err);
			return;
		}
		submit.disabled = true;
		try {
			const job = await post(paths.clusters(), body);
			announce(`Accepted: job ${job.id} creates cluster ${body.name}.`);
			window.location.hash = jobHref(job.id);
		} catch (err) {
			if (!stopped) {
				showError(err instanceof ApiError ? err : {message: String(err.message || err)});
			}
		} finally {
			submit.disabled = false;
		}
	});

	(async () => {
		try {
			const [vs, t, cl] = await Promise.all([get(paths.versions()), get(paths.tenant(me.tenant)),
				get(paths.clusters()).catch(() => null)]);
			if (stopped) {
				return;
			}
			versions = Array.isArray(vs.versions) ? vs.versions : [];
			replace(version, versions.map((v) => h('option', {value: v.version, selected: v.version === vs.default},
				v.version === vs.default ? `${v.version} (the default)` : v.version)));
			tenant = t;
			for (const c of cl && Array.isArray(cl.clusters) ? cl.clusters : []) {
				restoreFrom.append(h('option', {value: c.name}, c.name));
			}
			showPlugins();
			showQuota();
		} catch (err) {
			if (!stopped) {
				formError.hidden = false;
				formError.textContent = `Could not load the versions or the quota: ${err.message}`;
			}
		}
	})();
	return () => {
		stopped = true;
	};
}
