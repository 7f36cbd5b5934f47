// Operating a cluster from its page: pause or resume it, scale a role,
// restart every node, a role or one node, upgrade it to another version,
// install or remove a plugin, change settings, Kibana, take a snapshot,
// restore indices from one, and delete it (typing its name to confirm).
// Every action first shows its plan (the request with ?dry_run=true:
// what would hold it up, the pods in order, the quota, the states); the
// person then confirms it, and the job it starts opens on its own page.
// The disruptive ones (restart, upgrade, plugins, settings) may be marked
// urgent, with a reason, to run outside the maintenance windows.  The
// panel is offered only to roles that may operate (GET /api/v1/me:
// may.operate), so that no button ends in 403.

import {request, paths, withQuery, ApiError} from './api.js';
import {h, replace, announce} from './dom.js';
import {jobHref} from './links.js';
import {field, clearRefusal, showRefusal, fieldError, parseSettings} from './forms.js';
import {planParts, planTitle} from './plan.js';

const ROLES = [['masters', 'Masters'], ['data', 'Data nodes'], ['clients', 'Clients']];

// A checkbox with its label after it, as a checkbox reads, its hint and
// the place of its error: {control, error, el}, as field() makes.
function checkField(id, label, hint) {
	const control = h('input', {type: 'checkbox', id, 'aria-describedby': `${id}-hint ${id}-error`});
	const error = h('p', {id: `${id}-error`, class: 'field-error', hidden: true});
	return {control, error, el: h('div', {class: 'field check'}, control, h('label', {for: id}, label),
		h('p', {id: `${id}-hint`, class: 'hint'}, hint), error)};
}

// What a disruptive operation (one that restarts nodes) may add, each a
// field by the API's name for it: "allow_yellow" to let the nodes go while
// the cluster is yellow, and "urgent": {"reason"} to run outside the
// maintenance windows, the reason required with it.
function urgentFields(id) {
	const yellow = checkField(`${id}-allow-yellow`, 'Go on while the cluster is yellow',
		'Otherwise each node waits for green, as the plan\'s health gate says.');
	const box = checkField(`${id}-urgent`, 'Urgent: run outside the maintenance windows',
		'Skips the windows; the job\'s history keeps who and why.');
	const reason = field(`${id}-urgent-reason`, 'Why it cannot wait',
		h('input', {type: 'text', autocomplete: 'off'}), 'Required when urgent.');
	return {allow_yellow: yellow, urgent: box, 'urgent.reason': reason};
}

// The body with what the fields urgentFields() made ask for.
function withUrgency(fields, body) {
	let out = body;
	if (fields.allow_yellow && fields.allow_yellow.control.checked) {
		out = {...(out || {}), allow_yellow: true};
	}
	if (!fields.urgent || !fields.urgent.control.checked) {
		return out;
	}
	const reason = fields['urgent.reason'].control.value.trim();
	if (!reason) {
		throw fieldError('urgent.reason', 'Say why it cannot wait for the window: the job\'s history records it.');
	}
	return {...(out || {}), urgent: {reason}};
}

// One action's form.  send() returns [method, path, body]; fields maps
// the API's field names to the controls answering for them.  The button
// first asks the API for the plan (?dry_run=true) and shows it; the
// action is sent only once the person confirms it.
function actionForm(id, title, fields, button, send, extra) {
	const formError = h('p', {id: `${id}-problem`, class: 'form-error', role: 'alert', hidden: true});
	const submit = h('button', {type: 'submit', id: `${id}-submit`}, button);
	const plan = h('div', {id: `${id}-plan`, class: 'plan', role: 'region', 'aria-labelledby': `${id}-plan-h`,
		hidden: true});
	const form = h('form', {id, class: 'action', novalidate: true, 'aria-labelledby': `${id}-h`},
		h('h3', {id: `${id}-h`}, title), formError, Object.values(fields).map((f) => f.el), extra || null,
		h('div', {class: 'buttons'}, submit), plan);
	// A field the form does not have is one its only control answers for
	// ("settings.no.such.key" for the settings).
	const fail = (err) => showRefusal(err.field ? fields[err.field] || Object.values(fields)[0] : null,
		formError, err);
	const apiFail = (err) => fail(err instanceof ApiError ? err : {message: String(err.message || err)});
	const back = () => {
		plan.hidden = true;
		replace(plan);
		submit.disabled = form.dataset.idle === 'disabled';
	};
	// The plan of req, then Confirm (the request itself) or Back.
	const preview = async (req, what) => {
		clearRefusal(fields, formError);
		back();
		submit.disabled = true;
		const [method, path, body] = req;
		let answer;
		try {
			answer = await request(method, withQuery(path, {dry_run: 'true'}), body);
		} catch (err) {
			submit.disabled = form.dataset.idle === 'disabled';
			apiFail(err);
			return;
		}
		const confirm = h('button', {type: 'button', id: `${id}-confirm`}, `Confirm: ${what || button}`);
		const cancel = h('button', {type: 'button', id: `${id}-back`, class: 'secondary'}, 'Back');
		const heading = h('h4', {id: `${id}-plan-h`, tabindex: '-1'}, planTitle(answer));
		replace(plan, heading, planParts(answer, `${id}-plan`, 5),
			h('div', {class: 'buttons'}, confirm, cancel));
		plan.hidden = false;
		heading.focus();
		const gates = Array.isArray(answer.gates) ? answer.gates.length : 0;
		announce(`${planTitle(answer)}: ${gates === 0 ? 'nothing' : gates === 1 ? 'one thing' : `${gates} things`} ` +
			'would hold it up now. Confirm, or go back.');
		cancel.addEventListener('click', () => {
			back();
			submit.focus();
		});
		confirm.addEventListener('click', async () => {
			confirm.disabled = true;
			cancel.disabled = true;
			try {
				const job = await request(method, path, body);
				announce(`Accepted: job ${job.id}, ${job.kind} of cluster ${job.cluster}.`);
				window.location.hash = jobHref(job.id);
			} catch (err) {
				back();
				apiFail(err);
			}
		});
	};
	// What the plan says is of the form as it was: a change hides it.
	form.addEventListener('input', () => {
		if (!plan.hidden) {
			back();
		}
	});
	form.addEventListener('submit', (e) => {
		e.preventDefault();
		clearRefusal(fields, formError);
		let req;
		try {
			req = send();
		} catch (err) {
			fail(err);
			return;
		}
		preview(req);
	});
	return {form, submit, preview, fail};
}

// The panel of actions for cluster c; nodes: its pods (GET .../nodes) or
// null; plugins: the plugin repository's for its version; snapshots: its
// repository's (GET .../snapshots) or null.
export function operatePanel(c, nodes, plugins, snapshots) {
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
	const restartFields = {nodes: restartWhat, ...urgentFields('restart')};
	const restart = actionForm('restart-form', 'Restart', restartFields, 'Restart', () => {
		const v = restartWhat.control.value;
		const body = v === 'all' ? {} : v.startsWith('role:') ? {role: v.slice(5)} : {nodes: [v.slice(5)]};
		return ['POST', paths.clusterOp(name, 'restart'), withUrgency(restartFields, body)];
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
	// Where snapshots are configured the upgrade takes one first; the plan
	// says so, or warns that none can be taken.
	const noSnapshot = checkField('upgrade-no-snapshot', 'Without a snapshot first',
		'Leaves out the snapshot of every index taken before the first node goes.');
	const upgradeFields = {version: upgradeVersion, snapshot: noSnapshot, ...urgentFields('upgrade')};
	const upgrade = actionForm('upgrade-form', 'Upgrade', upgradeFields, 'Upgrade', () => {
		const v = upgradeVersion.control.value.trim();
		if (!v) {
			throw fieldError('version', 'Enter a version such as 7.17.10.');
		}
		const body = noSnapshot.control.checked ? {version: v, snapshot: false} : {version: v};
		return ['POST', paths.clusterOp(name, 'upgrade'), withUrgency(upgradeFields, body)];
	}, offered);

	// Plugins.
	const available = (plugins || []).filter((p) => !installed.includes(p));
	const pluginName = field('plugin-name', 'Plugin', h('select', null, available.map((p) => h('option', {value: p}, p))));
	const pluginFields = {name: pluginName, ...urgentFields('plugin')};
	// Each installed plugin's Remove shows the removal's plan in the form.
	let plugin = null;
	const removals = installed.length ?
		h('ul', {class: 'plugins'}, installed.map((p) => {
			const b = h('button', {type: 'button', class: 'small', 'aria-label': `Remove plugin ${p}`,
				dataset: {plugin: p}}, 'Remove');
			b.addEventListener('click', () => {
				let body;
				try {
					body = withUrgency(pluginFields, undefined);
				} catch (err) {
					plugin.fail(err);
					return;
				}
				plugin.preview(['DELETE', paths.clusterPlugin(name, p), body], `Remove plugin ${p}`);
			});
			return h('li', null, h('code', null, p), ' ', b);
		})) :
		h('p', {class: 'hint'}, 'No plugin installed.');
	plugin = actionForm('plugin-form', 'Plugins', pluginFields, 'Install the plugin', () => {
		if (!pluginName.control.value) {
			throw fieldError('name', 'Every plugin this version offers is installed.');
		}
		return ['POST', paths.clusterOp(name, 'plugins'), withUrgency(pluginFields, {name: pluginName.control.value})];
	}, h('div', {class: 'installed'}, h('h4', null, 'Installed'), removals));
	if (available.length === 0) {
		plugin.form.dataset.idle = 'disabled';
		plugin.submit.disabled = true;
	}

	// Settings.
	const settingsText = field('config-settings', 'Settings', h('textarea', {rows: 3, spellcheck: 'false'}),
		'One setting per line: key = value; key = null resets it.');
	const configFields = {settings: settingsText, ...urgentFields('config')};
	const config = actionForm('config-form', 'Change settings', configFields, 'Change the settings', () => {
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
		return ['PATCH', paths.clusterOp(name, 'config'), withUrgency(configFields, {settings})];
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

	// Restore chosen indices of a snapshot into this cluster, renamed as
	// Elasticsearch renames them (a Java regular expression, $1 its first
	// group).
	const done = (snapshots || []).filter((sn) => sn.state === 'SUCCESS').map((sn) => String(sn.name));
	const restoreSnapshot = field('restore-snapshot', 'Snapshot', h('select', null,
		done.slice().reverse().map((sn) => h('option', {value: sn}, sn))),
	done.length ? 'The newest first.' : 'No snapshot of this cluster has succeeded yet.');
	const restoreIndices = field('restore-indices', 'Indices',
		h('input', {type: 'text', autocomplete: 'off', spellcheck: 'false'}),
		'Comma-separated names or patterns; empty for every index of the snapshot.');
	const renamePattern = field('restore-rename-pattern', 'Rename pattern',
		h('input', {type: 'text', autocomplete: 'off', spellcheck: 'false', placeholder: '(.+)'}),
		'Optional; an open index of the same name is never restored over.');
	const renameReplacement = field('restore-rename-replacement', 'Rename replacement',
		h('input', {type: 'text', autocomplete: 'off', spellcheck: 'false', placeholder: 'restored-$1'}),
		'With the pattern: $1 is its first group.');
	const restore = actionForm('restore-form', 'Restore indices', {snapshot: restoreSnapshot,
		indices: restoreIndices, rename_pattern: renamePattern, rename_replacement: renameReplacement},
	'Restore', () => {
		const body = {snapshot: restoreSnapshot.control.value};
		if (!body.snapshot) {
			throw fieldError('snapshot', 'Take a snapshot first: none of this cluster has succeeded.');
		}
		const indices = restoreIndices.control.value.split(',').map((x) => x.trim()).filter(Boolean);
		if (indices.length) {
			body.indices = indices;
		}
		const pattern = renamePattern.control.value.trim();
		const replacement = renameReplacement.control.value.trim();
		if (pattern && !replacement) {
			throw fieldError('rename_replacement', 'Enter what the pattern\'s names become, such as restored-$1.');
		}
		if (replacement && !pattern) {
			throw fieldError('rename_pattern', 'Enter the pattern the replacement applies to, such as (.+).');
		}
		if (pattern) {
			body.rename_pattern = pattern;
			body.rename_replacement = replacement;
		}
		return ['POST', paths.clusterOp(name, 'restore'), body];
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
			kibana.form, snapshot.form, restore.form, remove.form));
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
