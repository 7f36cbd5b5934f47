// The jobs page: every job, newest first, filtered by status, kind and
// cluster, refreshed every few seconds without a reload.  The table is also
// used on a cluster's page.

import {get, paths, ApiError} from './api.js';
import {h, replace, announce} from './dom.js';
import {STATUSES, statusBadge, timeAgo} from './format.js';
import {jobHref, clusterHref} from './links.js';
import {poller} from './poll.js';

const PAGE = 50;
const MAX_LIMIT = 500;
const FILTERS = ['status', 'kind', 'cluster'];

// The workflow kinds esaasd runs (GET /api/v1/workflows), asked once per
// page load and offered as suggestions; any kind may be typed.
let kinds = null;

function workflowKinds() {
	if (!kinds) {
		kinds = get(paths.workflows()).then((list) =>
			(list && Array.isArray(list.workflows) ? list.workflows : [])
				.map((w) => w.kind).filter((k) => typeof k === 'string'))
			.catch(() => {
				kinds = null;
				return [];
			});
	}
	return kinds;
}

const COLUMNS = [
	['id', 'Job'],
	['kind', 'Kind'],
	['cluster', 'Cluster'],
	['status', 'Status'],
	['state', 'Current state'],
	['attempt', 'Attempt'],
	['age', 'Age'],
	['submitted_by', 'Submitted by'],
];

// A table of jobs that updates rows in place, so that a link that has the
// keyboard focus keeps it across refreshes.
export class JobTable {
	constructor(caption, {showCluster = true} = {}) {
		this.columns = COLUMNS.filter(([key]) => showCluster || key !== 'cluster');
		this.rows = new Map();
		this.tbody = h('tbody');
		this.empty = h('p', {class: 'empty', hidden: true}, 'No jobs match.');
		this.table = h('table', {class: 'jobs'},
			h('caption', null, caption),
			h('thead', null, h('tr', null, this.columns.map(([key, label]) =>
				h('th', {scope: 'col', class: 'col-' + key}, label)))),
			this.tbody);
		this.el = h('div', {class: 'table-wrap'}, this.table, this.empty);
	}

	cell(job, key) {
		switch (key) {
		case 'id':
			return h('a', {href: jobHref(job.id)}, `#${job.id}`);
		case 'cluster':
			return job.cluster ? h('a', {href: clusterHref(job.cluster)}, job.cluster) : '';
		case 'status':
			return statusBadge(job.status);
		case 'age':
			return timeAgo(job.created_at);
		case 'attempt':
			return job.attempt === null || job.attempt === undefined ? '' : String(job.attempt);
		default:
			return job[key] === null || job[key] === undefined ? '' : String(job[key]);
		}
	}

	// Changes of status since the last update, as [job, old status].
	update(jobs) {
		const changed = [];
		const keep = new Set();
		let before = this.tbody.firstChild;
		for (const job of jobs) {
			keep.add(job.id);
			let entry = this.rows.get(job.id);
			if (!entry) {
				entry = {tr: h('tr'), sig: null, status: job.status};
				this.rows.set(job.id, entry);
			} else if (entry.status !== job.status) {
				changed.push([job, entry.status]);
				entry.status = job.status;
			}
			// The age moves on even when nothing else does.
			const sig = JSON.stringify([job.kind, job.cluster, job.status, job.state, job.attempt,
				job.submitted_by, job.created_at, timeAgo(job.created_at).textContent]);
			if (sig !== entry.sig) {
				entry.sig = sig;
				this.fill(entry.tr, job);
			}
			if (entry.tr !== before) {
				this.tbody.insertBefore(entry.tr, before);
			} else {
				before = before.nextSibling;
			}
		}
		for (const [id, entry] of this.rows) {
			if (!keep.has(id)) {
				entry.tr.remove();
				this.rows.delete(id);
			}
		}
		this.empty.hidden = jobs.length > 0;
		this.table.hidden = jobs.length === 0;
		return changed;
	}

	fill(tr, job) {
		tr.className = 'status-row-' + job.status;
		tr.dataset.jobId = String(job.id);
		tr.dataset.status = String(job.status);
		const cells = this.columns.map(([key]) =>
			h(key === 'id' ? 'th' : 'td', {class: 'col-' + key, scope: key === 'id' ? 'row' : null},
				this.cell(job, key)));
		tr.replaceChildren(...cells);
	}
}

function filtersFromQuery(query) {
	const f = {};
	for (const k of FILTERS) {
		f[k] = query.get(k) || '';
	}
	return f;
}

function filterSummary(f) {
	const parts = FILTERS.filter((k) => f[k]).map((k) => `${k} ${f[k]}`);
	return parts.length ? parts.join(', ') : 'all jobs';
}

// The page.  query: URLSearchParams of the route.  Returns a disposer.
export function jobsPage(main, query, app) {
	const filters = filtersFromQuery(query);
	let limit = PAGE;

	const statusSelect = h('select', {id: 'filter-status', name: 'status'},
		h('option', {value: ''}, 'any'),
		STATUSES.map((s) => h('option', {value: s}, s)));
	statusSelect.value = filters.status;
	const kindInput = h('input', {id: 'filter-kind', name: 'kind', type: 'text', list: 'kinds',
		autocomplete: 'off', spellcheck: 'false', placeholder: 'any', value: filters.kind});
	const kindList = h('datalist', {id: 'kinds'});
	const clusterInput = h('input', {id: 'filter-cluster', name: 'cluster', type: 'text', list: 'cluster-names',
		autocomplete: 'off', spellcheck: 'false', placeholder: 'any', value: filters.cluster});
	const clusterList = h('datalist', {id: 'cluster-names'});
	const clearButton = h('button', {type: 'button', id: 'filter-clear'}, 'Clear filters');
	const failedButton = h('button', {type: 'button', id: 'show-failed', class: 'failed-shortcut'}, 'Show failed jobs');

	const form = h('form', {class: 'filters', role: 'search', 'aria-label': 'Filter jobs'},
		h('div', {class: 'field'}, h('label', {for: 'filter-status'}, 'Status'), statusSelect),
		h('div', {class: 'field'}, h('label', {for: 'filter-kind'}, 'Kind'), kindInput, kindList),
		h('div', {class: 'field'}, h('label', {for: 'filter-cluster'}, 'Cluster'), clusterInput, clusterList),
		h('div', {class: 'field buttons'}, failedButton, clearButton));

	const table = new JobTable('Jobs, newest first');
	const note = h('p', {class: 'refresh-note', id: 'jobs-refresh'});
	const more = h('button', {type: 'button', id: 'jobs-more', hidden: true}, 'Show more jobs');
	const problem = h('p', {class: 'problem', hidden: true});
	const heading = h('h1', {tabindex: '-1'}, 'Jobs');

	replace(main, heading, form, problem, table.el, h('div', {class: 'after-table'}, more, note));

	const refreshFailedCount = (count, capped) => {
		failedButton.textContent = count === 0 ? 'No failed jobs' :
			`Show failed jobs (${count}${capped ? '+' : ''})`;
		failedButton.classList.toggle('has-failed', count > 0);
	};

	// Filters live in the address, so that a view can be shared; replacing
	// the entry does not trigger a new route.
	const syncAddress = () => {
		const q = new URLSearchParams();
		for (const k of FILTERS) {
			if (filters[k]) {
				q.set(k, filters[k]);
			}
		}
		const s = q.toString();
		history.replaceState(null, '', s ? `#/jobs?${s}` : '#/jobs');
		app.setTitle(filters.status || filters.kind || filters.cluster ? `Jobs: ${filterSummary(filters)}` : 'Jobs');
	};

	let first = true;
	const load = async () => {
		const want = {...filters};
		const [page, failed] = await Promise.all([
			get(paths.jobs({...want, limit})),
			get(paths.jobs({status: 'failed', kind: want.kind, cluster: want.cluster, limit: MAX_LIMIT}))
				.catch(() => null),
		]);
		// Filters changed while this was in flight: the next refresh is due.
		if (FILTERS.some((k) => want[k] !== filters[k])) {
			return;
		}
		const jobs = Array.isArray(page.jobs) ? page.jobs : [];
		const changed = table.update(jobs);
		more.hidden = !page.next_cursor || limit >= MAX_LIMIT;
		if (failed && Array.isArray(failed.jobs)) {
			refreshFailedCount(failed.jobs.length, Boolean(failed.next_cursor));
		}
		problem.hidden = true;
		note.textContent = `${jobs.length} ${jobs.length === 1 ? 'job' : 'jobs'} (${filterSummary(filters)}); ` +
			`updated ${new Date().toLocaleTimeString()}, refreshed every ${app.pollSeconds} seconds.`;
		if (first) {
			first = false;
		} else if (changed.length === 1) {
			const [job, old] = changed[0];
			announce(`Job ${job.id} (${job.kind} ${job.cluster}) is now ${job.status}, was ${old}.`);
		} else if (changed.length > 1) {
			announce(`${changed.length} jobs changed status.`);
		}
	};

	const onError = (err) => {
		problem.hidden = false;
		problem.textContent = err instanceof ApiError && err.status === 422 ?
			`The filter is not valid: ${err.message}` : `Could not refresh the jobs: ${err.message}`;
	};

	const poll = poller(load, app.pollSeconds * 1000, onError);

	const applyFilters = () => {
		filters.status = statusSelect.value;
		filters.kind = kindInput.value.trim();
		filters.cluster = clusterInput.value.trim();
		limit = PAGE;
		syncAddress();
		announce(`Showing ${filterSummary(filters)}.`);
		poll.now();
	};

	let typing = null;
	const applySoon = () => {
		window.clearTimeout(typing);
		typing = window.setTimeout(applyFilters, 400);
	};
	form.addEventListener('submit', (e) => {
		e.preventDefault();
		applyFilters();
	});
	statusSelect.addEventListener('change', applyFilters);
	kindInput.addEventListener('input', applySoon);
	clusterInput.addEventListener('input', applySoon);
	clearButton.addEventListener('click', () => {
		statusSelect.value = '';
		kindInput.value = '';
		clusterInput.value = '';
		applyFilters();
	});
	failedButton.addEventListener('click', () => {
		statusSelect.value = 'failed';
		applyFilters();
		statusSelect.focus();
	});
	more.addEventListener('click', () => {
		limit = Math.min(limit + PAGE, MAX_LIMIT);
		poll.now();
	});

	// Workflow kinds for the kind filter's suggestions.
	workflowKinds().then((names) => {
		replace(kindList, names.map((k) => h('option', {value: k})));
	});

	// Cluster names for the cluster filter's suggestions.
	get(paths.clusters()).then((list) => {
		const names = (list && Array.isArray(list.clusters) ? list.clusters : []).map((c) => c.name);
		replace(clusterList, names.map((n) => h('option', {value: n})));
	}).catch(() => {});

	syncAddress();
	poll.start();
	return () => {
		window.clearTimeout(typing);
		poll.stop();
	};
}
