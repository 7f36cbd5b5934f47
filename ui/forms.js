// The portal's forms share one way of labelling a control and one way of
// showing what the API (or the page) refused: beside the field it names,
// with the field marked invalid and focused, else at the top of the form.

import {h, announce} from './dom.js';

// A labelled control with its hint and the place of its error:
// {control, error, el}.  id becomes the control's.
export function field(id, label, control, hint) {
	control.id = id;
	const error = h('p', {id: `${id}-error`, class: 'field-error', hidden: true});
	control.setAttribute('aria-describedby', [hint ? `${id}-hint` : null, `${id}-error`].filter(Boolean).join(' '));
	const el = h('div', {class: 'field'}, h('label', {for: id}, label), control,
		hint ? h('p', {id: `${id}-hint`, class: 'hint'}, hint) : null, error);
	return {control, error, el};
}

// Forget the errors shown by showRefusal().
export function clearRefusal(fields, formError) {
	formError.hidden = true;
	for (const f of Object.values(fields)) {
		f.error.hidden = true;
		f.error.textContent = '';
		f.control.removeAttribute('aria-invalid');
	}
}

// Show err ({message}) beside f (a field() of the form), or in formError
// when it names none.
export function showRefusal(f, formError, err) {
	if (f) {
		f.error.textContent = err.message;
		f.error.hidden = false;
		f.control.setAttribute('aria-invalid', 'true');
		const target = f.control.matches('fieldset') ? f.control.querySelector('input') : f.control;
		(target || f.control).focus();
		announce(`Not accepted: ${err.message}`);
	} else {
		formError.textContent = `Not accepted: ${err.message}`;
		formError.hidden = false;
	}
}

// An error the page finds itself, for a field by the API's name for it.
export function fieldError(fieldName, message) {
	const err = new Error(message);
	err.field = fieldName;
	return err;
}

// "key = value" lines as a settings object; numbers and booleans as such.
export function parseSettings(text) {
	const settings = {};
	const lines = text.split('\n');
	for (let i = 0; i < lines.length; i++) {
		const line = lines[i].trim();
		if (!line || line.startsWith('#')) {
			continue;
		}
		const eq = line.indexOf('=');
		if (eq <= 0) {
			throw new Error(`line ${i + 1} is not "key = value": ${line}`);
		}
		const key = line.slice(0, eq).trim();
		const raw = line.slice(eq + 1).trim();
		let value = raw;
		if (/^-?[0-9]+(\.[0-9]+)?$/.test(raw)) {
			value = Number(raw);
		} else if (raw === 'true' || raw === 'false') {
			value = raw === 'true';
		}
		settings[key] = value;
	}
	return settings;
}
