// Operating a cluster from its page: pause or resume it, scale a role,
// restart every node, a role or one node, upgrade it to another version,
// install or remove a plugin,
// change settings, Kibana, take a snapshot, and delete it (typing its name to confirm).  Every action is one
// request to the cluster's API; the job it starts opens at once, on its
// own page.  The panel is offered only to roles that may operate (GET
// /api/v1/me: may.operate), so that no button ends in 403.

import {request, paths, ApiError} from './api.js';
import {h, announce} from './dom.js';
import {jobHref} from './links.js';
import {field, clearRefusal, showRefusal, fieldError, parseSettings} from './forms.js';

const ROLES = [['masters', 'Masters'], ['data', 'Data nodes'], ['clients', 'Clients']];

// One action's form.  send() returns [method, path, body]; fields maps
// the API's field names to the controls answering for them.
function actionForm(id, title, fields, button, send, extra) {
	const formError = h('p', {id: `${id}-problem`, class: 'form-error', role: 'alert', hidden: true});
	const submit = h('button', {type: 'submit', id: `${id}-submit`}, button);
	const form = h('form', {id, class: 'action', novalidate: true, 'aria-labelledby': `${id}-h`},
		h('h3', {id: `${id}-h`}, title), formError, Object.values(fields).map((f) => f.el), extra || null,
		h('div', {class: 'buttons'}, submit));
	// A field the form does not have is one its only control answers for
	// ("settings.no.such.key" for the settings).
	const fail = (err) => showRefusal(err.field ? fields[err.field] || Object.values(fields)[0] : null,
		formError, err);
	form.addEventListener('submit', async (e) => {
		e.preventDefault();
		clearRefusal(fields, formError);
		let req;
		try {
			req = send();
		} catch (err) {
			fail(err);
			return;
		}
		submit.disabled = true;
		try {
			const job = await request(...req);
			announce(`Accepted: job ${job.id}, ${job.kind} of cluster ${job.cluster}.`);
			window.location.hash = jobHref(job.id);
		} catch (err) {
			fail(err instanceof ApiError ? err : {message: String(err.message || err)});
			submit.disabled = false;
		}
	});
	return {form, submit};
}

// The panel of actions for cluster c; nodes: its pods (GET .../nodes) or
// null; plugins: the plugin repository's for its version.
export function operatePanel(c, nodes, plugins) {
	const name = c.name;
	const spec = c.spec || {};
	const installed = Array.isArray(spec.plugins) ? spec.plugins.map(String) : [];

	// Scale.
	const scaleRole = field('scale-role', 'Role', h('select', null, ROLES.map(([k, l]) => h('option', {value: k}, l))));
	const scaleCount = field('scale-replicas', 'Number of nodes', h('input', {type: 'number', min: 0, step: 1}),
		'Masters stay odd.');
	const syncCount = () => {
		const r = spec[scaleRole.control.value];
		scaleCount.control.value = r && r.replicas !== undefined ? String(r.replicas) : '0';
	};
	scaleRole.control.addEventListener('change', syncCount);
	syncCount();
	const scale = actionForm('scale-form', 'Scale a role', {role: scaleRole, replicas: scaleCount}, 'Scale', () => {
		const n = Number(scaleCount.control.value);
		if (!Number.isInteger(n) || n < 0) {
			throw fieldError('replicas', 'Enter a whole number of nodes.');
		}
		return ['POST', paths.clusterOp(name, 'scale'), {role: scaleRole.control.value, replicas: n}];
	});

	// Restart.
	const targets = [h('option', {value: 'all'}, 'every node, one at a time'),
		...ROLES.filter(([k]) => spec[k] && spec[k].replicas > 0)
			.map(([k, l]) => h('option', {value: `role:${k}`}, `the ${l.toLowerCase()}`)),
		...(nodes || []).filter((n) => n.role !== 'kibana' && n.name)
			.map((n) => h('option', {value: `node:${n.name}`}, `node ${n.name}`))];
	const restartWhat = field('restart-target', 'What to restart', h('select', null, targets));
	const restart = actionForm('restart-form', 'Restart', {nodes: restartWhat}, 'Restart', () => {
		const v = restartWhat.control.value;
		const body = v === 'all' ? {} : v.startsWith('role:') ? {role: v.slice(5)} : {nodes: [v.slice(5)]};
		return ['POST', paths.clusterOp(name, 'restart'), body];
	});

	// Upgrade: a version typed, the offered ones suggested; the API
	// refuses a path Elasticsearch refuses and names the version between.
	const offered = h('datalist', {id: 'upgrade-versions'});
	const upgradeVersion = field('upgrade-version', 'Version',
		h('input', {type: 'text', list: 'upgrade-versions', autocomplete: 'off', spellcheck: 'false'}),
		`Now ${spec.version || 'unknown'}; one node at a time, data nodes first, masters last.`);
	request('GET', paths.versions()).then((vs) => {
		for (const v of Array.isArray(vs.versions) ? vs.versions : []) {
			offered.append(h('option', {value: v.version}));
		}
	}).catch(() => {});
	const upgrade = actionForm('upgrade-form', 'Upgrade', {version: upgradeVersion}, 'Upgrade', () => {
		const v = upgradeVersion.control.value.trim();
		if (!v) {
			throw fieldError('version', 'Enter a version such as 7.17.10.');
		}
		return ['POST', paths.clusterOp(name, 'upgrade'), {version: v}];
	}, offered);

	// Plugins.
	const available = (plugins || []).filter((p) => !installed.includes(p));
	const pluginName = field('plugin-name', 'Plugin', h('select', null, available.map((p) => h('option', {value: p}, p))));
	const removals = installed.length ?
		h('ul', {class: 'plugins'}, installed.map((p) => {
			const b = h('button', {type: 'button', class: 'small', 'aria-label': `Remove plugin ${p}`,
				dataset: {plugin: p}}, 'Remove');
			b.addEventListener('click', async () => {
				b.disabled = true;
				try {
					const job = await request('DELETE', paths.clusterPlugin(name, p));
					announce(`Accepted: job ${job.id} removes plugin ${p}.`);
					window.location.hash = jobHref(job.id);
				} catch (err) {
					b.disabled = false;
					pluginName.error.textContent = `Not accepted: ${err.message}`;
					pluginName.error.hidden = false;
				}
			});
			return h('li', null, h('code', null, p), ' ', b);
		})) :
		h('p', {class: 'hint'}, 'No plugin installed.');
	const plugin = actionForm('plugin-form', 'Plugins', {name: pluginName}, 'Install the plugin', () => {
		if (!pluginName.control.value) {
			throw fieldError('name', 'Every plugin this version offers is installed.');
		}
		return ['POST', paths.clusterOp(name, 'plugins'), {name: pluginName.control.value}];
	}, h('div', {class: 'installed'}, h('h4', null, 'Installed'), removals));
	if (available.length === 0) {
		plugin.submit.disabled = true;
	}

	// Settings.
	const settingsText = field('config-settings', 'Settings', h('textarea', {rows: 3, spellcheck: 'false'}),
		'One setting per line: key = value; key = null resets it.');
	const config = actionForm('config-form', 'Change settings', {settings: settingsText}, 'Change the settings', () => {
		let settings;
		try {
			settings = parseSettings(settingsText.control.value);
		} catch (err) {
			throw fieldError('settings', err.message);
		}
		for (const [k, v] of Object.entries(settings)) {
			if (v === 'null') {
				settings[k] = null;
			}
		}
		if (Object.keys(settings).length === 0) {
			throw fieldError('settings', 'Enter at least one setting.');
		}
		return ['PATCH', paths.clusterOp(name, 'config'), {settings}];
	});

	// Kibana.
	const kibanaCount = field('kibana-replicas', 'Kibana instances',
		h('input', {type: 'number', min: 0, max: 10, step: 1,
			value: spec.kibana && spec.kibana.replicas ? spec.kibana.replicas : 0}), '0 removes Kibana.');
	const kibana = actionForm('kibana-form', 'Kibana', {replicas: kibanaCount}, 'Set Kibana', () =>
		['POST', paths.clusterOp(name, 'kibana'), {replicas: Number(kibanaCount.control.value)}]);

	// Snapshot: named, or snapshot-<job id>.
	const snapshotName = field('snapshot-name', 'Snapshot name',
		h('input', {type: 'text', autocomplete: 'off', spellcheck: 'false'}),
		'Optional: lowercase; left empty, the job names it.');
	const snapshot = actionForm('snapshot-form', 'Snapshot', {name: snapshotName}, 'Take a snapshot', () => {
		const n = snapshotName.control.value.trim();
		return ['POST', paths.clusterOp(name, 'snapshots'), n ? {name: n} : {}];
	});

	// Delete.
	const confirm = field('delete-confirm', `Type ${name} to confirm`,
		h('input', {type: 'text', autocomplete: 'off', spellcheck: 'false'}),
		'Deleting removes the cluster and its data.');
	const remove = actionForm('delete-form', 'Delete the cluster', {confirm}, 'Delete the cluster', () => {
		if (confirm.control.value.trim() !== name) {
			throw fieldError('confirm', `Type the cluster's name, ${name}, to delete it.`);
		}
		return ['DELETE', paths.cluster(name)];
	});
	remove.form.classList.add('danger');

	return h('section', {class: 'panel operate', id: 'operate', 'aria-labelledby': 'operate-h'},
		h('h2', {id: 'operate-h'}, 'Operate'),
		h('div', {class: 'actions'}, scale.form, restart.form, upgrade.form, plugin.form, config.form,
			kibana.form, snapshot.form, remove.form));
}

// Where the panel goes while the cluster is being changed: the active job.
export function busyNote(job) {
	return h('p', {class: 'hint', id: 'operate-busy'}, `Job #${job.id} (${job.kind}) is ${job.status}: `,
		h('a', {href: jobHref(job.id)}, 'follow it'), '. Further actions wait for it to end.');
}

// Pause or resume cluster c, with a reason.  A pause answers where the job
// in progress stops (its next safe boundary) or that none is; the page
// shows the answer and reloads (reload) to show the pause.
export function pausePanel(c, reload) {
	const paused = Boolean(c.paused);
	const op = paused ? 'resume' : 'pause';
	const reason = field(`${op}-reason`, 'Reason', h('input', {type: 'text', autocomplete: 'off'}),
		paused ? 'Why the cluster may go on.' :
			'Why: the job in progress stops at its next safe boundary, queued jobs wait.');
	const formError = h('p', {id: `${op}-problem`, class: 'form-error', role: 'alert', hidden: true});
	const done = h('p', {id: `${op}-done`, class: 'hint', hidden: true});
	const submit = h('button', {type: 'submit', id: `${op}-submit`}, paused ? 'Resume' : 'Pause');
	const form = h('form', {id: `${op}-form`, class: 'action', novalidate: true, 'aria-labelledby': `${op}-h`},
		h('h3', {id: `${op}-h`}, paused ? 'Resume the cluster' : 'Pause the cluster'), formError, reason.el,
		h('div', {class: 'buttons'}, submit), done);
	form.addEventListener('submit', async (e) => {
		e.preventDefault();
		clearRefusal({reason}, formError);
		const text = reason.control.value.trim();
		if (!text) {
			showRefusal(reason, formError, fieldError('reason', 'Say why: the audit log records it.'));
			return;
		}
		submit.disabled = true;
		try {
			const answer = await request('POST', paths.clusterOp(c.name, op), {reason: text});
			done.textContent = answer && answer.message ? answer.message : `Cluster ${c.name}: ${op} accepted.`;
			done.hidden = false;
			announce(done.textContent);
			Promise.resolve(reload()).catch(() => {});
		} catch (err) {
			showRefusal(err.field ? reason : null, formError,
				err instanceof ApiError ? err : {message: String(err.message || err)});
			submit.disabled = false;
		}
	});
	return h('section', {class: 'panel operate', id: 'pause', 'aria-labelledby': 'pause-h'},
		h('h2', {id: 'pause-h'}, paused ? 'Paused' : 'Pause'), form);
}
