// The clusters: a list with each one's version, phase, health, nodes and
// active job; and one cluster's page: its health now and over time, its
// nodes and their hosts, endpoint, Kibana, spec, jobs, and (for a role
// that may operate) the actions on it.

import {get, paths, ApiError} from './api.js';
import {h, replace, defList, jsonTree, jsonText} from './dom.js';
import {healthChart} from './chart.js';
import {operatePanel, busyNote, pausePanel} from './operate.js';
import {maintenancePanel} from './maintenance.js';
import {statusBadge, timeAgo, timeExact, duration, maintenanceText} from './format.js';
import {formatMeasure} from './quantity.js';
import {JobTable} from './jobs.js';
import {jobHref, clusterHref} from './links.js';
import {poller} from './poll.js';

const ROLES = [['masters', 'Masters'], ['data', 'Data'], ['clients', 'Clients']];

function nodesText(spec) {
	return ROLES.map(([key, label]) => {
		const n = spec && spec[key] ? spec[key].replicas : null;
		return n === null || n === undefined ? null : `${n} ${label.toLowerCase()}`;
	}).filter(Boolean).join(', ');
}

// The health sweep's last look at the cluster ("health"), or what its
// last job recorded; '' when nobody has looked yet.
function healthOf(c) {
	if (c.health && c.health.status) {
		return String(c.health.status);
	}
	const o = c.observed;
	return o && typeof o.health === 'string' ? o.health : '';
}

function healthBadge(status) {
	if (!status) {
		return h('span', {class: 'muted'}, 'not observed yet');
	}
	return h('span', {class: 'badge health-' + status.replace(/[^a-z]/g, '')}, status);
}

function plural(n, one, many) {
	return `${n} ${n === 1 ? one : many}`;
}

// "green, 5 nodes, 0 unassigned shards, checked 20s ago" and its error.
function healthFacts(c) {
	const hl = c.health;
	const parts = [healthBadge(healthOf(c))];
	if (hl) {
		if (hl.nodes !== null && hl.nodes !== undefined) {
			parts.push(`, ${plural(hl.nodes, 'node', 'nodes')}`);
		}
		if (hl.unassigned_shards !== null && hl.unassigned_shards !== undefined) {
			parts.push(`, ${plural(hl.unassigned_shards, 'unassigned shard', 'unassigned shards')}`);
		}
		if (hl.checked_at) {
			parts.push(', checked ', timeAgo(hl.checked_at));
		}
		if (hl.error) {
			parts.push(h('pre', {class: 'error-text'}, hl.error));
		}
	}
	return parts;
}

function activeJob(job) {
	if (!job) {
		return 'none';
	}
	return [h('a', {href: jobHref(job.id)}, `#${job.id} ${job.kind}`), ' ', statusBadge(job.status),
		job.state ? [' ', h('code', null, job.state)] : ''];
}

// The list.  Returns a disposer.
export function clustersPage(main, app) {
	const heading = h('h1', {tabindex: '-1'}, 'Clusters');
	const problem = h('p', {class: 'problem', hidden: true});
	const tbody = h('tbody');
	const table = h('table', {class: 'clusters'},
		h('caption', null, 'Clusters, by name'),
		h('thead', null, h('tr', null, ['Name', 'Version', 'Phase', 'Health', 'Nodes', 'Active job', 'Created']
			.map((t) => h('th', {scope: 'col'}, t)))),
		tbody);
	const empty = h('p', {class: 'empty', hidden: true}, 'No clusters yet.');
	const note = h('p', {class: 'refresh-note'});
	replace(main, heading, problem, h('div', {class: 'table-wrap'}, table), empty, note);
	app.setTitle('Clusters');

	let sig = null;
	const load = async () => {
		const list = await get(paths.clusters());
		const clusters = Array.isArray(list.clusters) ? list.clusters : [];
		problem.hidden = true;
		const s = JSON.stringify([clusters, Math.floor(Date.now() / 60000)]);
		if (s !== sig) {
			sig = s;
			replace(tbody, clusters.map((c) => h('tr', {dataset: {cluster: String(c.name)}},
				h('th', {scope: 'row'}, h('a', {href: clusterHref(c.name)}, c.name)),
				h('td', null, c.spec && c.spec.version ? String(c.spec.version) : ''),
				h('td', null, c.observed && c.observed.phase ? String(c.observed.phase) : ''),
				h('td', null, healthBadge(healthOf(c)),
					c.health && c.health.nodes !== null && c.health.nodes !== undefined ?
						` (${plural(c.health.nodes, 'node', 'nodes')} up)` : ''),
				h('td', null, nodesText(c.spec)),
				h('td', null, activeJob(c.active_job)),
				h('td', null, timeAgo(c.created_at)))));
			table.hidden = clusters.length === 0;
			empty.hidden = clusters.length > 0;
		}
		note.textContent = `Updated ${new Date().toLocaleTimeString()}; refreshed every ${app.pollSeconds} seconds.`;
	};
	const poll = poller(load, app.pollSeconds * 1000, (err) => {
		problem.hidden = false;
		problem.textContent = `Could not refresh the clusters: ${err.message}`;
	});
	poll.start();
	return () => poll.stop();
}

function nodesTable(spec) {
	const rows = ROLES.filter(([key]) => spec && spec[key]).map(([key, label]) => {
		const r = spec[key];
		return h('tr', null, h('th', {scope: 'row'}, label),
			['replicas', 'cpu', 'memory', 'disk'].map((k) =>
				h('td', null, r[k] === null || r[k] === undefined ? '' : String(r[k]))));
	});
	if (rows.length === 0) {
		return h('p', {class: 'empty'}, 'No nodes in the spec.');
	}
	return h('div', {class: 'table-wrap'}, h('table', {class: 'nodes'},
		h('caption', null, 'Nodes by role, as asked for'),
		h('thead', null, h('tr', null, ['Role', 'Replicas', 'CPU', 'Memory', 'Disk']
			.map((t) => h('th', {scope: 'col'}, t)))),
		h('tbody', null, rows)));
}

// The cluster's HTTP endpoint inside Kubernetes: its service's address.
function endpointText(endpoint) {
	if (!endpoint) {
		return '';
	}
	if (typeof endpoint !== 'object') {
		return String(endpoint);
	}
	if (endpoint.service && endpoint.namespace) {
		return `http://${endpoint.service}.${endpoint.namespace}.svc:${endpoint.port || 9200}`;
	}
	return jsonTree(endpoint);
}

// Kibana's address next to the cluster (kube/render.h: the service
// "kibana" on port 5601 of the cluster's namespace), when it has one.
function kibanaLink(c) {
	const spec = c.spec || {};
	const ns = c.observed && c.observed.namespace;
	if (!spec.kibana || !spec.kibana.replicas || !ns) {
		return 'none';
	}
	const url = `http://kibana.${ns}.svc:5601`;
	return h('a', {href: url, id: 'kibana-link', rel: 'noopener noreferrer'}, url);
}

// The pods as Kubernetes has them now: role, host, phase, ready.
function podsTable(nodes) {
	if (!Array.isArray(nodes)) {
		return h('p', {class: 'empty'}, 'The nodes could not be read from Kubernetes.');
	}
	if (nodes.length === 0) {
		return h('p', {class: 'empty'}, 'No nodes are running.');
	}
	return h('div', {class: 'table-wrap'}, h('table', {class: 'pods', id: 'cluster-pods'},
		h('caption', null, 'Nodes and their hosts, now'),
		h('thead', null, h('tr', null, ['Node', 'Role', 'Host', 'Phase', 'Ready']
			.map((t) => h('th', {scope: 'col'}, t)))),
		h('tbody', null, nodes.map((n) => h('tr', {dataset: {pod: String(n.name)}},
			h('th', {scope: 'row'}, n.name),
			h('td', null, n.role || ''),
			h('td', {class: 'host'}, n.host || 'not scheduled'),
			h('td', null, n.deleting ? 'terminating' : n.phase || ''),
			h('td', null, n.ready ? 'yes' : 'no'))))));
}

function drawCluster(el, c) {
	const spec = c.spec || {};
	const observed = c.observed || {};
	replace(el,
		defList([
			['Version', spec.version ? String(spec.version) : ''],
			['Phase', observed.phase ? String(observed.phase) : ''],
			['Health', healthFacts(c)],
			['Endpoint', h('code', {id: 'cluster-endpoint'}, endpointText(observed.endpoint))],
			['Kibana', kibanaLink(c)],
			['Paused', c.paused ? h('span', {id: 'cluster-paused'},
				`since ${c.paused.at} by ${c.paused.by}: ${c.paused.reason}`) : ''],
			['Maintenance windows', h('span', {id: 'cluster-maintenance'}, maintenanceText(c.maintenance))],
			['Active job', activeJob(c.active_job)],
			['Created by', c.created_by],
			['Created', c.created_at ? [timeExact(c.created_at), ' (', timeAgo(c.created_at), ')'] : ''],
			['Updated', timeExact(c.updated_at)],
		], 'facts summary'),
		h('section', {class: 'panel', 'aria-labelledby': 'cluster-nodes-h'},
			h('h2', {id: 'cluster-nodes-h'}, 'Nodes'), nodesTable(spec)),
		h('section', {class: 'panel', 'aria-labelledby': 'cluster-spec-h'},
			h('h2', {id: 'cluster-spec-h'}, 'Spec'),
			defList([
				['Plugins', Array.isArray(spec.plugins) && spec.plugins.length ? jsonTree(spec.plugins) : 'none'],
				['Settings', spec.config && Object.keys(spec.config).length ? jsonTree(spec.config) : 'none'],
				['Placement', spec.placement ? jsonTree(spec.placement) : ''],
			]),
			h('details', null, h('summary', null, 'The whole spec as JSON'), jsonText(spec))),
		h('section', {class: 'panel', 'aria-labelledby': 'cluster-observed-h'},
			h('h2', {id: 'cluster-observed-h'}, 'Observed'),
			jsonTree(observed)));
}

// Its changes of health, newest first; null when this esaasd keeps none.
function historyTable(history) {
	if (!Array.isArray(history) || history.length === 0) {
		return h('p', {class: 'empty'}, 'No change of health recorded.');
	}
	return h('div', {class: 'table-wrap'}, h('table', {class: 'health-history'},
		h('caption', null, 'Changes of health, newest first'),
		h('thead', null, h('tr', null, ['When', 'Health', 'Was', 'Nodes', 'Unassigned shards', 'Error']
			.map((t) => h('th', {scope: 'col'}, t)))),
		h('tbody', null, history.map((e) => h('tr', null,
			h('td', null, timeExact(e.at)),
			h('td', null, healthBadge(e.status ? String(e.status) : '')),
			h('td', null, e.previous ? String(e.previous) : ''),
			h('td', null, e.nodes === null || e.nodes === undefined ? '' : String(e.nodes)),
			h('td', null, e.unassigned_shards === null || e.unassigned_shards === undefined ?
				'' : String(e.unassigned_shards)),
			h('td', null, e.error ? String(e.error) : ''))))));
}

// The snapshots in the cluster's repository, oldest first (GET .../snapshots);
// null when they could not be read.
function snapshotsTable(list) {
	if (!Array.isArray(list)) {
		return h('p', {class: 'empty'}, 'The snapshots could not be read from the cluster.');
	}
	if (list.length === 0) {
		return h('p', {class: 'empty'}, 'No snapshot taken.');
	}
	return h('div', {class: 'table-wrap'}, h('table', {class: 'snapshots', id: 'cluster-snapshots'},
		h('caption', null, 'Snapshots in the cluster\'s repository, oldest first'),
		h('thead', null, h('tr', null, ['Snapshot', 'State', 'Started', 'Took', 'Indices', 'Shards', 'Size']
			.map((t) => h('th', {scope: 'col'}, t)))),
		h('tbody', null, list.map((s) => h('tr', {dataset: {snapshot: String(s.name)}},
			h('th', {scope: 'row'}, String(s.name)),
			h('td', null, s.state ? String(s.state) : ''),
			h('td', null, s.start_time ? timeExact(s.start_time) : ''),
			h('td', null, typeof s.duration_ms === 'number' && s.state !== 'IN_PROGRESS' ?
				duration(s.duration_ms) : ''),
			h('td', null, Array.isArray(s.indices) ? String(s.indices.length) : ''),
			h('td', null, s.shards ? `${s.shards.successful ?? 0} of ${s.shards.total ?? 0}` : ''),
			h('td', null, typeof s.size_bytes === 'number' ? formatMeasure('disk_bytes', s.size_bytes) : ''))))));
}

// One cluster.  Returns a disposer.
export function clusterPage(main, name, app) {
	const heading = h('h1', {tabindex: '-1'}, `Cluster ${name}`);
	const problem = h('p', {class: 'problem', hidden: true});
	const body = h('div', {class: 'cluster'});
	const chart = h('div', {id: 'health-chart'});
	const historyBody = h('div');
	const historySec = h('section', {class: 'panel', 'aria-labelledby': 'cluster-history-h', hidden: true},
		h('h2', {id: 'cluster-history-h'}, 'Health over time'), chart,
		h('details', null, h('summary', null, 'The changes of health'), historyBody));
	const podsBody = h('div');
	const podsSec = h('section', {class: 'panel', 'aria-labelledby': 'cluster-pods-h'},
		h('h2', {id: 'cluster-pods-h'}, 'Nodes and hosts'), podsBody);
	const snapshotsBody = h('div');
	const snapshotsSec = h('section', {class: 'panel', 'aria-labelledby': 'cluster-snapshots-h'},
		h('h2', {id: 'cluster-snapshots-h'}, 'Snapshots'), snapshotsBody);
	const operate = h('div', {id: 'operate-place'});
	const jobs = new JobTable(`Jobs of cluster ${name}, newest first`, {showCluster: false});
	const allJobs = h('a', {href: `#/jobs?cluster=${encodeURIComponent(name)}`}, `All jobs of ${name}`);
	const jobsSec = h('section', {class: 'panel', 'aria-labelledby': 'cluster-jobs-h'},
		h('h2', {id: 'cluster-jobs-h'}, 'Active and recent jobs'), jobs.el, h('p', null, allJobs));
	const note = h('p', {class: 'refresh-note'});
	replace(main, heading, problem, body, historySec, podsSec, snapshotsSec, operate, jobsSec, note);
	app.setTitle(`Cluster ${name}`);
	const mayOperate = Boolean(app.me && app.me.may && app.me.may.operate && app.me.may.operate !== 'none');
	let historySig = null;
	let podsSig = null;
	let snapshotsSig = null;
	let operateSig = null;
	let repoPlugins = null; // the repository's plugins for the cluster's version
	let repoVersion = null;

	let sig = null;
	let missing = false;
	const load = async () => {
		if (missing) {
			return;
		}
		let c;
		let page;
		try {
			[c, page] = await Promise.all([get(paths.cluster(name)),
				get(paths.jobs({cluster: name, limit: 20}))]);
		} catch (err) {
			if (err instanceof ApiError && err.status === 404) {
				missing = true;
				problem.hidden = false;
				problem.textContent = `Cluster ${name} was not found (it may have been deleted).`;
				replace(operate);
				return;
			}
			throw err;
		}
		problem.hidden = true;
		const s = JSON.stringify([c, Math.floor(Date.now() / 60000)]);
		if (s !== sig) {
			sig = s;
			drawCluster(body, c);
		}
		jobs.update(Array.isArray(page.jobs) ? page.jobs : []);
		const [history, pods, snapshots] = await Promise.all([
			// An esaasd without the health sweep has no history: the part stays hidden.
			get(paths.healthHistory(name, 100)).catch(() => null),
			get(paths.clusterNodes(name)).then((r) => r.nodes).catch(() => null),
			get(paths.clusterSnapshots(name)).then((r) => r.snapshots).catch(() => null),
		]);
		if (JSON.stringify(snapshots) !== snapshotsSig) {
			snapshotsSig = JSON.stringify(snapshots);
			replace(snapshotsBody, snapshotsTable(snapshots));
		}
		if (history && JSON.stringify(history) !== historySig) {
			historySig = JSON.stringify(history);
			replace(historyBody, historyTable(history.history));
			historySec.hidden = false;
		}
		if (history) {
			replace(chart, healthChart(history.history) || h('p', {class: 'empty'}, 'No health recorded yet.'));
		}
		if (JSON.stringify(pods) !== podsSig) {
			podsSig = JSON.stringify(pods);
			replace(podsBody, podsTable(pods));
		}
		if (mayOperate) {
			const version = c.spec && c.spec.version;
			if (version && version !== repoVersion) {
				const list = await get(paths.versionPlugins(version)).catch(() => null);
				if (list) {
					repoVersion = version;
					repoPlugins = Array.isArray(list.plugins) ? list.plugins : [];
				}
			}
			const active = c.active_job;
			// Redrawn only when what the forms offer changes, so that what a
			// person types (or a plan shown) stays while the page refreshes.
			const succeeded = (snapshots || []).filter((sn) => sn.state === 'SUCCESS').map((sn) => sn.name);
			const windows = c.maintenance ? [c.maintenance.windows, c.maintenance.source] : null;
			const opSig = JSON.stringify([c.spec, (pods || []).map((p) => p.name), active && active.id, repoPlugins,
				c.paused, succeeded, windows]);
			if (opSig !== operateSig) {
				operateSig = opSig;
				replace(operate, active ? busyNote(active) : null, pausePanel(c, load), maintenancePanel(c, load),
					operatePanel(c, pods, repoPlugins || [], snapshots));
			}
		}
		note.textContent = `Updated ${new Date().toLocaleTimeString()}; refreshed every ${app.pollSeconds} seconds.`;
	};
	const poll = poller(load, app.pollSeconds * 1000, (err) => {
		problem.hidden = false;
		problem.textContent = `Could not refresh cluster ${name}: ${err.message}`;
	});
	poll.start();
	return () => poll.stop();
}
