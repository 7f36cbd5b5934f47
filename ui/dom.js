// Building the page.  Every value from the server goes in as text
// (textContent, attribute values), never as markup: this module is the only
// way the viewer makes elements, and it has no way to parse HTML.

// h('a', {href: '#/jobs', class: 'x'}, 'text', child, [more, children])
// Attributes: class, text, on<event> (a function), dataset (an object),
// hidden/disabled/required/checked/selected (booleans) and any other name
// as a string attribute.  null and undefined children and attributes are
// left out.
export function h(tag, attrs, ...children) {
	const el = document.createElement(tag);
	for (const [name, value] of Object.entries(attrs || {})) {
		if (value === null || value === undefined || value === false) {
			continue;
		}
		if (name.startsWith('on') && typeof value === 'function') {
			el.addEventListener(name.slice(2), value);
		} else if (name === 'dataset') {
			Object.assign(el.dataset, value);
		} else if (name === 'text') {
			el.textContent = String(value);
		} else if (value === true) {
			el.setAttribute(name, '');
		} else {
			el.setAttribute(name, String(value));
		}
	}
	append(el, children);
	return el;
}

// The same for SVG elements (a chart): s('rect', {x: 0, width: 4}).
const SVG_NS = 'http://www.w3.org/2000/svg';
export function s(tag, attrs, ...children) {
	const el = document.createElementNS(SVG_NS, tag);
	for (const [name, value] of Object.entries(attrs || {})) {
		if (value !== null && value !== undefined && value !== false) {
			el.setAttribute(name, String(value));
		}
	}
	append(el, children);
	return el;
}

// Append children (nodes, strings, numbers, nested arrays) as nodes or text.
export function append(el, children) {
	for (const child of children.flat(Infinity)) {
		if (child === null || child === undefined || child === false) {
			continue;
		}
		el.append(child instanceof Node ? child : document.createTextNode(String(child)));
	}
	return el;
}

// Replace every child of el.
export function replace(el, ...children) {
	el.replaceChildren();
	return append(el, children);
}

// Text for screen readers only.
export function srOnly(text) {
	return h('span', {class: 'visually-hidden'}, text);
}

// Say something to screen readers through the page's one polite live region.
// The same text twice in a row is still read: the region is emptied first.
export function announce(text) {
	const region = document.getElementById('announcer');
	if (!region) {
		return;
	}
	region.textContent = '';
	window.setTimeout(() => {
		region.textContent = text;
	}, 50);
}

// A definition list of [term, value] pairs, leaving out empty values.
export function defList(pairs, cls) {
	const dl = h('dl', {class: cls || 'facts'});
	for (const [term, value] of pairs) {
		if (value === null || value === undefined || value === '') {
			continue;
		}
		dl.append(h('dt', null, term), h('dd', null, value));
	}
	return dl;
}

// Any JSON value as nested lists, readable without knowing its shape:
// objects become definition lists, arrays numbered lists, the rest text.
export function jsonTree(value, depth = 0) {
	if (value === null || value === undefined) {
		return h('span', {class: 'json-null'}, 'null');
	}
	if (Array.isArray(value)) {
		if (value.length === 0) {
			return h('span', {class: 'json-empty'}, 'none');
		}
		if (depth > 6) {
			return h('code', null, JSON.stringify(value));
		}
		return h('ol', {class: 'json-list'}, value.map((v) => h('li', null, jsonTree(v, depth + 1))));
	}
	if (typeof value === 'object') {
		const keys = Object.keys(value);
		if (keys.length === 0) {
			return h('span', {class: 'json-empty'}, 'none');
		}
		if (depth > 6) {
			return h('code', null, JSON.stringify(value));
		}
		const dl = h('dl', {class: 'json-object'});
		for (const key of keys) {
			dl.append(h('dt', null, key), h('dd', null, jsonTree(value[key], depth + 1)));
		}
		return dl;
	}
	return h('code', {class: 'json-' + typeof value}, String(value));
}

// The same value as indented JSON text, for copying.
export function jsonText(value) {
	return h('pre', {class: 'json'}, JSON.stringify(value, null, 2));
}
