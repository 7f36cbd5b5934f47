#!/usr/bin/env python3
"""Extract from Elasticsearch's OpenAPI document the paths esaas and esaas-sim
use, with every component they reference (transitively), unchanged.

    extract-openapi.py elasticsearch-openapi.json > 8.17/openapi-extract.json

The whole document (elastic/elasticsearch-specification,
output/openapi/elasticsearch-openapi.json, about 4 MB) is too big to keep in
the tree; this extract is what tests/sim/es_spec.py reads.  Its objects are
the document's own, byte for byte as JSON values: nothing is edited, only
left out.  Run it again on a newer document to refresh the extract.
"""
import json
import sys

# The Elasticsearch APIs that esaas calls (es/, states/, monitor/) and
# esaas-sim answers (sim/es.c), as the document names their paths.
PATHS = [
    "/",
    "/_cluster/health",
    "/_cluster/health/{index}",
    "/_cluster/settings",
    "/_cluster/state",
    "/_cluster/allocation/explain",
    "/_cluster/voting_config_exclusions",
    "/_cat/nodes",
    "/_cat/shards",
    "/_cat/shards/{index}",
    "/_cat/plugins",
    "/_cat/indices",
    "/_cat/indices/{index}",
    "/_cat/master",
    "/_cat/health",
    "/_nodes",
    "/_nodes/{node_id}",
    "/_nodes/{metric}",
    "/_nodes/{node_id}/shutdown",
    "/_nodes/shutdown",
    "/_flush",
    "/{index}/_flush",
    "/{index}",
    "/{index}/_settings",
    "/_settings",
]


def refs(value, out):
    if isinstance(value, dict):
        ref = value.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/"):
            out.append(ref)
        for v in value.values():
            refs(v, out)
    elif isinstance(value, list):
        for v in value:
            refs(v, out)


def main():
    doc = json.load(open(sys.argv[1]))
    paths = {}
    for p in PATHS:
        if p not in doc["paths"]:
            sys.exit("no path %s in %s" % (p, sys.argv[1]))
        paths[p] = doc["paths"][p]
    components = {}
    todo = []
    refs(paths, todo)
    while todo:
        ref = todo.pop()
        _, _, kind, name = ref.split("/", 3)
        if name in components.get(kind, {}):
            continue
        obj = doc["components"][kind][name]
        components.setdefault(kind, {})[name] = obj
        refs(obj, todo)
    out = {
        "openapi": doc["openapi"],
        "info": doc["info"],
        "paths": paths,
        "components": {k: dict(sorted(v.items())) for k, v in sorted(components.items())},
    }
    json.dump(out, sys.stdout, indent=1, sort_keys=False, ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
