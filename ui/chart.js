// The cluster's health over time as a small SVG chart, drawn from the
// health history (GET /api/v1/clusters/{name}/health-history: the changes
// of status, newest first).  Each status holds until the next change, so
// the chart is a band per status with a step at each change.  The same
// facts are in the chart's title and description for screen readers, and
// in the table of changes under it.

import {s} from './dom.js';
import {absolute, duration} from './format.js';

const LEVELS = {green: 0, yellow: 1, red: 2};
const WIDTH = 600;
const HEIGHT = 120;
const LEFT = 56;
const RIGHT = 8;
const TOP = 8;
const ROW = 32;

// The periods of each status from the oldest change to now:
// [{status, from, to}], oldest first.
export function periods(history, now) {
	const changes = (Array.isArray(history) ? history : [])
		.map((e) => ({status: String(e.status || ''), at: Date.parse(e.at)}))
		.filter((e) => !Number.isNaN(e.at) && e.status in LEVELS)
		.sort((a, b) => a.at - b.at);
	return changes.map((e, i) => ({status: e.status, from: e.at,
		to: i + 1 < changes.length ? changes[i + 1].at : Math.max(now, e.at)}));
}

export function healthChart(history, now = Date.now()) {
	const ps = periods(history, now);
	if (ps.length === 0) {
		return null;
	}
	const start = ps[0].from;
	const span = Math.max(now - start, 1000);
	const x = (t) => LEFT + ((t - start) / span) * (WIDTH - LEFT - RIGHT);
	const y = (status) => TOP + LEVELS[status] * ROW;
	const total = {green: 0, yellow: 0, red: 0};
	for (const p of ps) {
		total[p.status] += p.to - p.from;
	}
	const summary = Object.entries(total).filter(([, ms]) => ms > 0)
		.map(([st, ms]) => `${st} ${Math.round((ms / span) * 100)}% (${duration(ms)})`).join(', ');
	const desc = `From ${absolute(new Date(start).toISOString())} to now: ${summary}. ` +
		`Now ${ps[ps.length - 1].status}.`;

	const svg = s('svg', {class: 'health-chart', viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: 'img',
		'aria-labelledby': 'health-chart-title health-chart-desc', focusable: 'false'},
	s('title', {id: 'health-chart-title'}, 'Health over time'),
	s('desc', {id: 'health-chart-desc'}, desc));
	for (const status of Object.keys(LEVELS)) {
		svg.append(s('text', {x: 0, y: y(status) + ROW / 2 + 4, class: 'axis'}, status),
			s('line', {x1: LEFT, x2: WIDTH - RIGHT, y1: y(status) + ROW / 2, y2: y(status) + ROW / 2, class: 'grid'}));
	}
	let prev = null;
	for (const p of ps) {
		const x1 = x(p.from);
		const x2 = Math.max(x(p.to), x1 + 1);
		svg.append(s('rect', {x: x1, y: y(p.status) + 6, width: x2 - x1, height: ROW - 12,
			class: `band health-${p.status}`, 'data-status': p.status}));
		if (prev) {
			svg.append(s('line', {x1, x2: x1, y1: y(prev.status) + ROW / 2, y2: y(p.status) + ROW / 2, class: 'step'}));
		}
		prev = p;
	}
	svg.append(s('text', {x: LEFT, y: HEIGHT - 4, class: 'axis'}, absolute(new Date(start).toISOString())),
		s('text', {x: WIDTH - RIGHT, y: HEIGHT - 4, class: 'axis end'}, 'now'));
	return svg;
}
