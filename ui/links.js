// Where the viewer's pages are: the hrefs every page links to.

export function jobHref(id) {
	return `#/jobs/${encodeURIComponent(id)}`;
}

export function clusterHref(name) {
	return `#/clusters/${encodeURIComponent(name)}`;
}
