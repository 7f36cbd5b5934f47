// Kubernetes quantities ("500m", "2", "8Gi") as numbers, and what a
// cluster spec takes of a tenant's quota: the same sums as the database's
// esaas_spec_usage() (storage/migrations/0007_quota.sql), so that the form
// shows before submitting what the API will count.

const SUFFIX = {
	'': 1, n: 1e-9, u: 1e-6, m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
	Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4, Pi: 1024 ** 5, Ei: 1024 ** 6,
};

// The value of a quantity, or null when it is not one.
export function quantity(text) {
	const m = /^([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]?)$/.exec(String(text).trim());
	return m ? Number(m[1]) * SUFFIX[m[2]] : null;
}

// Kibana's pods at their limits in kube/render.c: 1 CPU and 1Gi each.
const KIBANA_CPU_MILLIS = 1000;
const KIBANA_MEMORY_BYTES = 1024 ** 3;

// {clusters, nodes, cpu_millis, memory_bytes, disk_bytes} of a spec whose
// roles give replicas, cpu, memory (and disk for data); null for a measure
// whose quantity does not parse.
export function specUsage(spec) {
	const use = {clusters: 1, nodes: 0, cpu_millis: 0, memory_bytes: 0, disk_bytes: 0};
	for (const role of ['masters', 'data', 'clients']) {
		const r = spec[role] || {};
		const n = Number(r.replicas) || 0;
		const cpu = quantity(r.cpu);
		const mem = quantity(r.memory);
		use.nodes += n;
		use.cpu_millis = cpu === null || use.cpu_millis === null ? null : use.cpu_millis + n * Math.ceil(cpu * 1000);
		use.memory_bytes = mem === null || use.memory_bytes === null ? null : use.memory_bytes + n * Math.ceil(mem);
		if (role === 'data') {
			const disk = quantity(r.disk);
			use.disk_bytes = disk === null ? null : n * Math.ceil(disk);
		}
	}
	const k = spec.kibana ? Number(spec.kibana.replicas) || 0 : 0;
	if (use.cpu_millis !== null) {
		use.cpu_millis += k * KIBANA_CPU_MILLIS;
	}
	if (use.memory_bytes !== null) {
		use.memory_bytes += k * KIBANA_MEMORY_BYTES;
	}
	return use;
}

export const MEASURES = [
	['clusters', 'Clusters'],
	['nodes', 'Nodes'],
	['cpu_millis', 'CPU'],
	['memory_bytes', 'Memory'],
	['disk_bytes', 'Disk'],
];

// A measure's amount as people read it: "4.5 CPU", "12 GiB", "3".
export function formatMeasure(measure, value) {
	if (value === null || value === undefined) {
		return 'no limit';
	}
	const v = Number(value);
	if (measure === 'cpu_millis') {
		return `${Number((v / 1000).toFixed(3))} CPU`;
	}
	if (measure === 'memory_bytes' || measure === 'disk_bytes') {
		const units = [['TiB', 1024 ** 4], ['GiB', 1024 ** 3], ['MiB', 1024 ** 2], ['KiB', 1024]];
		for (const [unit, size] of units) {
			if (v >= size) {
				return `${Number((v / size).toFixed(2))} ${unit}`;
			}
		}
		return `${v} B`;
	}
	return String(v);
}
