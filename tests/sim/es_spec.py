#!/usr/bin/env python3
"""Elasticsearch requests and responses against Elastic's own specifications.

    es_spec.py requests REFDIR STATE.json USER[,USER...]
        Every request USER sent to a simulated Elasticsearch node (the
        "es_requests" of esaas-sim's GET /_sim/state) must be one that the
        REST specification of the node's version accepts: a path of the
        API, a method of that path, and only the query parameters the API
        (or every API) takes, with values of their type.

    es_spec.py responses REFDIR MANIFEST.json
        MANIFEST is a list of {"version", "method", "path", "status",
        "file"}; each file's JSON must match the response schema that
        Elasticsearch's OpenAPI document gives for that path, method and
        status.

REFDIR is tests/reference/es-api (see tests/reference/README.md): the
_json_spec files of 7.17 and 8.17 and an extract of the 8.17 OpenAPI
document.  A 7.17.x node is checked against the 7.17 files and an 8.x node
against the 8.17 ones; other versions have no specification here and are
counted as not checked.  7.17's responses are checked against the 8.17
schemas with the exceptions listed in SCHEMA_AFTER_7_17, the fields 8.x
added.  Exit status 1 when anything disagrees, each disagreement on a line.
"""
import copy
import glob
import json
import os
import re
import sys
import urllib.parse

# Parameters every API takes: rest-api-spec/api/_common.json of
# elastic/elasticsearch (pretty, human, error_trace, source,
# source_content_type, filter_path).
COMMON_PARAMS = {
    "pretty": {"type": "boolean"},
    "human": {"type": "boolean"},
    "error_trace": {"type": "boolean"},
    "source": {"type": "string"},
    "source_content_type": {"type": "string"},
    "filter_path": {"type": "list"},
}

# Required fields of the 8.17 response schemas that a 7.17 node does not
# send, by schema name and field, with where the field came from.
SCHEMA_AFTER_7_17 = {
    # _cluster/health's unassigned_primary_shards: 8.16
    # (elastic/elasticsearch#112024).
    ("cluster.health:HealthResponseBody", "unassigned_primary_shards"),
    # The nodes' roles in _cluster/allocation/explain: 8.11
    # (elastic/elasticsearch#98550).
    ("cluster.allocation_explain:NodeAllocationExplanation", "roles"),
    ("cluster.allocation_explain:CurrentNode", "roles"),
}

# Enumerations the document writes in lower case where Elasticsearch
# answers in upper case: the node shutdown API's type and statuses are Java
# enum names ("type": "RESTART", "status": "COMPLETE" in the example of
# https://www.elastic.co/guide/en/elasticsearch/reference/8.17/get-shutdown.html).
UPPER_CASE_ENUMS = {
    "shutdown.get_node:ShutdownType",
    "shutdown.get_node:ShutdownStatus",
}

TIME = re.compile(r"^(-1|0|\d+(\.\d+)?(nanos|micros|ms|s|m|h|d))$")


def spec_dir(refdir, version):
    parts = version.split(".")
    if len(parts) < 2 or not parts[0].isdigit() or not parts[1].isdigit():
        return None
    major, minor = int(parts[0]), int(parts[1])
    if major == 7 and minor == 17:
        return os.path.join(refdir, "7.17")
    if major == 8 and minor <= 17:
        return os.path.join(refdir, "8.17")
    return None


def load_rest_spec(folder):
    apis = {}
    for name in sorted(glob.glob(os.path.join(folder, "_json_spec", "*.json"))):
        with open(name) as f:
            apis.update(json.load(f))
    return apis


def segments(path):
    return [urllib.parse.unquote(s) for s in path.strip("/").split("/") if s]


def match_template(template, segs):
    """The path parts of template when segs match it (literals first), else None."""
    tsegs = [s for s in template.strip("/").split("/") if s]
    if len(tsegs) != len(segs):
        return None
    parts = {}
    for t, s in zip(tsegs, segs):
        if t.startswith("{") and t.endswith("}"):
            if not s:
                return None
            parts[t[1:-1]] = s
        elif t != s:
            return None
    return parts


def literal_count(template):
    return sum(1 for s in template.strip("/").split("/") if s and not s.startswith("{"))


def value_ok(param, value):
    kind = param.get("type")
    if kind == "boolean":
        return value in ("", "true", "false")
    if kind == "enum":
        options = param.get("options", [])
        return all(v in options for v in value.split(","))
    if kind == "time":
        return bool(TIME.match(value))
    if kind in ("number", "int", "long", "integer"):
        return re.match(r"^-?\d+(\.\d+)?$", value) is not None
    return True


def check_request(apis, req):
    """The reasons the request is not in the specification ([] when it is)."""
    segs = segments(req["path"])
    method = req["method"]
    query = urllib.parse.parse_qsl(req.get("query") or "", keep_blank_values=True)
    candidates = []
    for name, api in apis.items():
        for p in api["url"]["paths"]:
            parts = match_template(p["path"], segs)
            if parts is not None:
                candidates.append((literal_count(p["path"]), name, api, p, parts))
    if not candidates:
        return ["no API has the path %s" % req["path"]]
    # Elasticsearch's router prefers literal segments over path parts.
    best = max(c[0] for c in candidates)
    candidates = [c for c in candidates if c[0] == best]
    with_method = [c for c in candidates if method in c[3]["methods"]]
    if not with_method:
        return [
            "%s %s: the path is %s's, which takes %s"
            % (method, req["path"], candidates[0][1], ",".join(candidates[0][3]["methods"]))
        ]
    errors = []
    for _, name, api, p, parts in with_method:
        errors = []
        params = dict(COMMON_PARAMS)
        params.update(api.get("params", {}))
        for key, value in query:
            if key not in params:
                errors.append("%s %s: %s takes no parameter %s" % (method, req["path"], name, key))
            elif not value_ok(params[key], value):
                errors.append(
                    "%s %s: %s=%s is not a %s for %s"
                    % (method, req["path"], key, value, params[key].get("type"), name)
                )
        if not errors:
            return []
    return errors


def cmd_requests(refdir, state_file, user):
    with open(state_file) as f:
        state = json.load(f)
    specs = {}
    bad = checked = unchecked = 0
    for req in state.get("es_requests", []):
        if req.get("user") not in user.split(","):
            continue
        folder = spec_dir(refdir, req["version"])
        if not folder:
            unchecked += 1
            continue
        if folder not in specs:
            specs[folder] = load_rest_spec(folder)
        checked += 1
        for e in check_request(specs[folder], req):
            bad += 1
            print("%s (Elasticsearch %s): %s" % (os.path.basename(folder), req["version"], e))
    print("%d distinct requests checked, %d of versions without a specification here"
          % (checked, unchecked))
    return 1 if bad else 0


# --- responses -------------------------------------------------------------------


def openapi_to_jsonschema(node):
    """OpenAPI 3.0's nullable as JSON Schema's type null.  The document
    writes a union as oneOf, also where its branches overlap (a string, or
    a string that may be null): read as anyOf, what the union means."""
    if isinstance(node, list):
        return [openapi_to_jsonschema(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: openapi_to_jsonschema(v) for k, v in node.items()}
    if "oneOf" in out:
        out["anyOf"] = out.pop("oneOf")
    if out.pop("nullable", False) is True:
        if isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
        else:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


def find_operation(doc, method, path):
    segs = segments(path)
    best = None
    for template, item in doc["paths"].items():
        if match_template(template, segs) is None or method.lower() not in item:
            continue
        if best is None or literal_count(template) > literal_count(best[0]):
            best = (template, item[method.lower()])
    return best


def resolve(doc, obj):
    while isinstance(obj, dict) and "$ref" in obj:
        _, _, kind, name = obj["$ref"].split("/", 3)
        obj = doc["components"][kind][name]
    return obj


def schemas_of_7_17(root):
    """The schemas without the required fields that only 8.x sends."""
    out = copy.deepcopy(root)
    for name, field in SCHEMA_AFTER_7_17:
        schema = out["components"]["schemas"][name]
        schema["required"] = [r for r in schema.get("required", []) if r != field]
    return out


def cmd_responses(refdir, manifest_file):
    import jsonschema  # only here: the requests need python3 alone

    with open(os.path.join(refdir, "8.17", "openapi-extract.json")) as f:
        doc = json.load(f)
    roots = {"8": openapi_to_jsonschema(doc)}
    for name in UPPER_CASE_ENUMS:
        schema = roots["8"]["components"]["schemas"][name]
        schema["enum"] = schema["enum"] + [v.upper() for v in schema["enum"]]
    roots["7"] = schemas_of_7_17(roots["8"])
    with open(manifest_file) as f:
        manifest = json.load(f)
    bad = 0
    for entry in manifest:
        where = "%s %s %s (Elasticsearch %s)" % (
            entry["method"], entry["path"], entry["status"], entry["version"])
        found = find_operation(doc, entry["method"], entry["path"])
        if not found:
            print("%s: no such operation in the OpenAPI document" % where)
            bad += 1
            continue
        template, op = found
        response = resolve(doc, op.get("responses", {}).get(str(entry["status"])))
        if response is None:
            print("%s: the OpenAPI document gives no response %s for %s"
                  % (where, entry["status"], template))
            bad += 1
            continue
        schema = response.get("content", {}).get("application/json", {}).get("schema")
        with open(entry["file"]) as f:
            body = json.load(f)
        if schema is None:
            # No schema: the answer has no body (null stands for none).
            if body is not None:
                print("%s: a body where %s answers none" % (where, template))
                bad += 1
            else:
                print("%s: ok (no body)" % where)
            continue
        major = entry["version"].split(".")[0]
        if major not in roots:
            print("%s: no schema for this version here" % where)
            bad += 1
            continue
        check = copy.copy(roots[major])
        check["x-response"] = openapi_to_jsonschema(schema)
        check["$ref"] = "#/x-response"
        n = 0
        for e in jsonschema.Draft4Validator(check).iter_errors(body):
            n += 1
            print("%s: at %s: %s" % (where, "/".join(str(p) for p in e.absolute_path),
                                     e.message[:300]))
        bad += n
        print("%s: %s" % (where, "ok" if n == 0 else "%d errors" % n))
    return 1 if bad else 0


def main(argv):
    if len(argv) == 5 and argv[1] == "requests":
        return cmd_requests(argv[2], argv[3], argv[4])
    if len(argv) == 4 and argv[1] == "responses":
        return cmd_responses(argv[2], argv[3])
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
