#!/usr/bin/env python3
"""Check the Kubernetes manifests of deploy/kubernetes/.

    check.py [--root DIR] [--reference DIR] [--esaasd PROGRAM]

1. Every document of every YAML file in deploy/kubernetes/ is validated
   against the Kubernetes 1.29 standalone-strict JSON schema of its kind
   (unknown fields rejected).  Kinds without such a schema are validated
   against the official OpenAPI v3 document of their API group, made strict
   the same way, where there is one; the rest (RBAC, Kustomization) get a
   shape check written here, and are reported as "no schema".
2. RBAC least privilege: the set of (apiGroup, resource, verb) that esaasd's
   Kubernetes client can issue, read from the kube_resources[] table of
   kube/resources.c, must equal the set the ClusterRole grants (the
   cluster-scoped rows too: nodes, persistentvolumes, storageclasses, which
   only a ClusterRole can grant).  Anything
   extra or missing fails, with the difference printed.  The comparison is
   itself checked against a grant with one verb too many and one too few.
3. The pieces fit together: the Deployment runs the ServiceAccount, mounts
   the ConfigMap, reads the Secret of secret.example.yaml, is selected by the
   Service and the PodDisruptionBudget; its termination grace exceeds
   engine.shutdown_grace_seconds; the ConfigMap's esaasd.yaml has every key
   of deploy/esaasd.yaml, and esaasd --check-config accepts it (when an
   esaasd program is at hand); kustomization.yaml lists every manifest but
   the example Secrets and admission-policy.yaml, which is applied apart
   (its API is off by default before Kubernetes 1.30), and is still
   validated here like the others.
4. deploy/systemd/esaasd.service.in has its sandboxing settings, and
   systemd-analyze verify accepts it (where systemd-analyze is installed).
5. deploy/prometheus/: promtool check rules and promtool test rules pass;
   every alert has its severity, for:, summary, runbook and runbook_url
   (the runbook anchors of docs/operations.md, all of them used); every
   metric the rules read is one esaasd defines; each alert has a test that
   expects it and one that does not, and its tests fail when its
   expression never fires.  Without promtool only the checks that need
   none run, unless ESAAS_TEST_PROMETHEUS=1, when that fails.
6. docs/operations.md and deploy/Containerfile (tests/deploy/operations.py):
   the configuration reference is common/config.c's table, the runbook
   anchors are there, the metrics, routes and esaasctl commands it names
   exist; the image is multi-stage Debian 12, non-root, with the job
   viewer where the ConfigMap's http.ui_dir says; a Containerfile linter
   accepts it where one is installed.

One line per check; the last line is "N passed, N failed".  Exit status 0
when everything passed, 1 when something failed, 77 when the checks cannot
run here (no jsonschema or yaml module for this python3, no schemas).
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

SKIP = 77
NAMESPACE = "esaas-system"
# Manifests that kustomization.yaml leaves out, applied as a step of their
# own (docs/operations.md, "Installing"): validated all the same.
APPLIED_APART = {"admission-policy.yaml"}
RBAC_VERBS = {"get", "list", "watch", "create", "update", "patch", "delete",
              "deletecollection", "impersonate", "bind", "escalate", "use", "*"}


class Result:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def ok(self, what):
        self.passed += 1
        print("ok   %s" % what)

    def fail(self, what, details=()):
        self.failed += 1
        print("FAIL %s" % what)
        for d in list(details)[:20]:
            print("    %s" % d)

    def check(self, cond, what, details=()):
        if cond:
            self.ok(what)
        else:
            self.fail(what, details)
        return cond


# --- loading ---------------------------------------------------------------

def make_loader(yaml):
    """A safe loader that refuses duplicate keys (PyYAML keeps the last)."""

    class Loader(yaml.SafeLoader):
        pass

    def construct_mapping(loader, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = loader.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, "duplicate key %r" % (key,), key_node.start_mark)
            seen.add(key)
        return yaml.SafeLoader.construct_mapping(loader, node, deep)

    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)
    return Loader


def load_all(yaml, loader, path):
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.load_all(f, Loader=loader) if d is not None]


def describe(doc):
    meta = doc.get("metadata") or {}
    ns = meta.get("namespace")
    return "%s %s%s" % (doc.get("kind", "?"), ns + "/" if ns else "", meta.get("name", "?"))


# --- schemas ---------------------------------------------------------------

def schema_file(api_version, kind):
    """statefulset-apps-v1.json for apps/v1, namespace-v1.json for v1."""
    if "/" in api_version:
        group, version = api_version.split("/", 1)
        return "%s-%s-%s.json" % (kind.lower(), group.split(".")[0], version)
    return "%s-%s.json" % (kind.lower(), api_version)


def make_strict(node):
    """additionalProperties: false on every object schema with properties,
    which is what the standalone-strict schemas are."""
    if isinstance(node, dict):
        if "properties" in node and "additionalProperties" not in node:
            node["additionalProperties"] = False
        for v in node.values():
            make_strict(v)
    elif isinstance(node, list):
        for v in node:
            make_strict(v)


class Schemas:
    def __init__(self, jsonschema, reference):
        self.jsonschema = jsonschema
        self.strict_dir = os.path.join(reference, "k8s-schema", "v1.29.0-standalone-strict")
        self.openapi_dir = os.path.join(reference, "k8s-schema", "openapi-v3", "1.29")
        self.cache = {}

    def available(self):
        return os.path.isdir(self.strict_dir)

    def validator(self, api_version, kind):
        """(validator, source) or (None, None)."""
        key = (api_version, kind)
        if key in self.cache:
            return self.cache[key]
        found = (None, None)
        path = os.path.join(self.strict_dir, schema_file(api_version, kind))
        if os.path.isfile(path):
            with open(path, encoding="utf-8") as f:
                schema = json.load(f)
            # The schemas' $schema URI names no known draft: pick it.
            found = (self.jsonschema.Draft4Validator(schema),
                     "v1.29.0-standalone-strict/" + os.path.basename(path))
        else:
            found = self.openapi_validator(api_version, kind)
        self.cache[key] = found
        return found

    def openapi_validator(self, api_version, kind):
        if "/" in api_version:
            group, version = api_version.split("/", 1)
            path = os.path.join(self.openapi_dir, "apis", group, version + ".json")
            prefix = "io.k8s.api.%s.%s." % (group.split(".")[0], version)
        else:
            path = os.path.join(self.openapi_dir, "api", api_version + ".json")
            prefix = "io.k8s.api.core.%s." % api_version
        if not os.path.isfile(path):
            return (None, None)
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
        name = prefix + kind
        if name not in doc.get("components", {}).get("schemas", {}):
            return (None, None)
        make_strict(doc["components"]["schemas"])
        ref = {"$ref": "urn:k8s#/components/schemas/" + name}
        try:
            import referencing
            import referencing.jsonschema
            registry = referencing.Registry().with_resource(
                "urn:k8s", referencing.jsonschema.DRAFT7.create_resource(doc))
            validator = self.jsonschema.Draft7Validator(ref, registry=registry)
        except ImportError:
            # jsonschema before 4.18 (Debian 12's 4.10): the older resolver.
            resolver = self.jsonschema.RefResolver("urn:k8s", doc, store={"urn:k8s": doc})
            validator = self.jsonschema.Draft7Validator(ref, resolver=resolver)
        rel = os.path.relpath(path, os.path.dirname(os.path.dirname(self.openapi_dir)))
        return (validator, "%s %s (strict)" % (rel, name))


def check_admission_policy(r, find, sa, code, root):
    """admission-policy.yaml: the ValidatingAdmissionPolicy that keeps
    esaasd's ServiceAccount to the namespaces esaas manages is bound (Deny),
    names that ServiceAccount and the label kube/render.c puts on namespaces,
    and covers every resource esaasd writes (kube/resources.c)."""
    policy = find("ValidatingAdmissionPolicy")
    binding = find("ValidatingAdmissionPolicyBinding")
    if not r.check(policy is not None and binding is not None,
                   "admission: a ValidatingAdmissionPolicy and its binding"):
        return
    bspec = binding.get("spec") or {}
    r.check(bspec.get("policyName") == policy["metadata"]["name"]
            and "Deny" in (bspec.get("validationActions") or []),
            "admission: the binding binds the policy with Deny")
    pspec = policy.get("spec") or {}
    user = "system:serviceaccount:%s:%s" % (sa["metadata"].get("namespace"),
                                            sa["metadata"]["name"]) if sa else "?"
    conds = [c.get("expression", "") for c in pspec.get("matchConditions") or []]
    r.check(any("'%s'" % user in c for c in conds),
            "admission: the policy applies to %s" % user, conds)
    try:
        with open(os.path.join(root, "kube", "render.c"), encoding="utf-8") as f:
            render = f.read()
    except OSError as e:
        r.fail("admission: kube/render.c", [str(e)])
        return
    m = re.search(r'"app\.kubernetes\.io/managed-by",\s*json_string\("([^"]+)"\)', render)
    text = json.dumps(pspec)
    r.check(m is not None and ("'app.kubernetes.io/managed-by'" in text
                               and "== '%s'" % m.group(1) in text),
            "admission: the policy asks for the managed-by label esaas puts on namespaces (%s)"
            % (m.group(1) if m else "not found in kube/render.c"))
    # Every resource esaasd writes is matched, by its operations; the
    # service proxy by CONNECT.
    rules = (pspec.get("matchConstraints") or {}).get("resourceRules") or []
    writes = {"create": "CREATE", "patch": "UPDATE", "update": "UPDATE", "delete": "DELETE"}
    missing = []
    for group, resource, verb in sorted(code or ()):
        op = "CONNECT" if resource.endswith("/proxy") else writes.get(verb)
        if op is None:
            continue
        if not any(group in (rule.get("apiGroups") or []) and resource in (rule.get("resources") or [])
                   and op in (rule.get("operations") or []) for rule in rules):
            missing.append("%s %s/%s (%s)" % (op, group or "core", resource, verb))
    r.check(not missing, "admission: the policy matches every write of kube/resources.c",
            missing)


def where(error):
    path = "/".join(str(p) for p in error.absolute_path)
    return path or "(root)"


# --- shape checks for kinds without a schema ----------------------------------

def string_list(v):
    return isinstance(v, list) and all(isinstance(x, str) for x in v)


def check_meta(doc, errors, namespaced):
    meta = doc.get("metadata")
    if not isinstance(meta, dict):
        errors.append("metadata: missing")
        return
    extra = set(meta) - {"name", "namespace", "labels", "annotations"}
    if extra:
        errors.append("metadata: unexpected %s" % sorted(extra))
    if not isinstance(meta.get("name"), str) or not re.fullmatch(
            r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?", meta.get("name", "")):
        errors.append("metadata.name: not a DNS subdomain")
    if namespaced and meta.get("namespace") != NAMESPACE:
        errors.append("metadata.namespace: %r, not %s" % (meta.get("namespace"), NAMESPACE))
    if not namespaced and "namespace" in meta:
        errors.append("metadata.namespace: set on a cluster-scoped object")
    for field in ("labels", "annotations"):
        m = meta.get(field, {})
        if not isinstance(m, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in m.items()):
            errors.append("metadata.%s: not a map of strings" % field)


def shape_cluster_role(doc):
    errors = []
    if doc.get("apiVersion") != "rbac.authorization.k8s.io/v1":
        errors.append("apiVersion: %r" % doc.get("apiVersion"))
    check_meta(doc, errors, namespaced=False)
    extra = set(doc) - {"apiVersion", "kind", "metadata", "rules"}
    if extra:
        errors.append("unexpected %s (aggregationRule would grant more)" % sorted(extra))
    rules = doc.get("rules")
    if not isinstance(rules, list) or not rules:
        errors.append("rules: missing or empty")
        return errors
    for i, rule in enumerate(rules):
        at = "rules/%d" % i
        if not isinstance(rule, dict):
            errors.append("%s: not a map" % at)
            continue
        extra = set(rule) - {"apiGroups", "resources", "verbs", "resourceNames", "nonResourceURLs"}
        if extra:
            errors.append("%s: unexpected %s" % (at, sorted(extra)))
        for field in ("apiGroups", "resources", "verbs"):
            if not string_list(rule.get(field)) or not rule.get(field):
                errors.append("%s.%s: not a non-empty list of strings" % (at, field))
        for field in ("resourceNames", "nonResourceURLs"):
            if field in rule:
                errors.append("%s.%s: esaasd's client addresses no such grant" % (at, field))
        for verb in rule.get("verbs") or []:
            if verb not in RBAC_VERBS:
                errors.append("%s: unknown verb %r" % (at, verb))
        for field in ("apiGroups", "resources", "verbs"):
            if "*" in (rule.get(field) or []):
                errors.append("%s.%s: wildcard" % (at, field))
    return errors


def shape_cluster_role_binding(doc):
    errors = []
    if doc.get("apiVersion") != "rbac.authorization.k8s.io/v1":
        errors.append("apiVersion: %r" % doc.get("apiVersion"))
    check_meta(doc, errors, namespaced=False)
    extra = set(doc) - {"apiVersion", "kind", "metadata", "roleRef", "subjects"}
    if extra:
        errors.append("unexpected %s" % sorted(extra))
    ref = doc.get("roleRef")
    if not isinstance(ref, dict) or set(ref) != {"apiGroup", "kind", "name"}:
        errors.append("roleRef: must have exactly apiGroup, kind, name")
    elif ref["apiGroup"] != "rbac.authorization.k8s.io" or ref["kind"] != "ClusterRole":
        errors.append("roleRef: not a ClusterRole of rbac.authorization.k8s.io")
    subjects = doc.get("subjects")
    if not isinstance(subjects, list) or not subjects:
        errors.append("subjects: missing or empty")
    else:
        for i, s in enumerate(subjects):
            if not isinstance(s, dict) or set(s) - {"kind", "name", "namespace", "apiGroup"}:
                errors.append("subjects/%d: unexpected fields" % i)
            elif s.get("kind") != "ServiceAccount" or not s.get("name") or not s.get("namespace"):
                errors.append("subjects/%d: not a ServiceAccount with name and namespace" % i)
    return errors


def shape_generic(doc, allowed, namespaced=True):
    errors = []
    check_meta(doc, errors, namespaced)
    extra = set(doc) - allowed - {"apiVersion", "kind", "metadata"}
    if extra:
        errors.append("unexpected %s" % sorted(extra))
    return errors


SHAPES = {
    "ClusterRole": shape_cluster_role,
    "ClusterRoleBinding": shape_cluster_role_binding,
    "ServiceAccount": lambda d: shape_generic(
        d, {"automountServiceAccountToken", "secrets", "imagePullSecrets"}),
    "Secret": lambda d: shape_generic(d, {"type", "data", "stringData", "immutable"}),
}


# --- RBAC ------------------------------------------------------------------

ROW = re.compile(r'\{\s*"([A-Za-z]+)"\s*,\s*"([^"]+)"\s*,\s*"([^"]+)"\s*,\s*(true|false)\s*,'
                 r'\s*"([^"]*)"\s*\}')


def code_grants(resources_c):
    """(apiGroup, resource, verb) of every row of kube_resources[]."""
    with open(resources_c, encoding="utf-8") as f:
        text = f.read()
    # Comments out, then the initialiser of the table alone.
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    text = re.sub(r"//[^\n]*", "", text)
    m = re.search(r"kube_resources\s*\[\s*\]\s*=\s*\{(.*?)\n\s*\}\s*;", text, re.S)
    if not m:
        raise ValueError("no kube_resources[] initialiser in %s" % resources_c)
    body = m.group(1)
    rows = ROW.findall(body)
    # Every brace-enclosed entry must have been understood.
    entries = re.findall(r"\{[^{}]*\}", body)
    if len(entries) != len(rows) or not rows:
        raise ValueError("%d entries in kube_resources[], %d understood"
                         % (len(entries), len(rows)))
    grants = set()
    for _kind, api_version, plural, _namespaced, verbs in rows:
        group = api_version.split("/", 1)[0] if "/" in api_version else ""
        for verb in verbs.split():
            grants.add((group, plural, verb))
    return grants, len(rows)


def role_grants(role):
    grants = set()
    for rule in role.get("rules") or []:
        for group in rule.get("apiGroups") or []:
            for res in rule.get("resources") or []:
                for verb in rule.get("verbs") or []:
                    grants.add((group, res, verb))
    return grants


def fmt(grant):
    group, res, verb = grant
    return "%s %s%s" % (verb, group + "/" if group else "", res)


def compare(code, role):
    """The lines of the difference; empty when equal."""
    lines = []
    for g in sorted(role - code):
        lines.append("extra (granted, never issued): %s" % fmt(g))
    for g in sorted(code - role):
        lines.append("missing (issued, not granted): %s" % fmt(g))
    return lines


# --- main ------------------------------------------------------------------

def main():
    here = os.path.dirname(os.path.abspath(__file__))
    default_root = os.path.dirname(os.path.dirname(here))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=os.environ.get("ESAAS_SRCDIR", default_root),
                        help="the source tree")
    parser.add_argument("--reference", default=None,
                        help="the folder holding k8s-schema/ (default: ROOT/tests/reference)")
    parser.add_argument("--esaasd", default=os.environ.get("ESAAS_ESAASD"),
                        help="an esaasd to run --check-config with")
    args = parser.parse_args()
    root = os.path.abspath(args.root)
    reference = args.reference or os.path.join(root, "tests", "reference")

    try:
        import jsonschema
    except ImportError:
        print("skip: the python module jsonschema is not installed for %s" % sys.executable,
              file=sys.stderr)
        return SKIP
    try:
        import yaml
    except ImportError:
        print("skip: the python module yaml (Debian python3-yaml) is not installed for %s"
              % sys.executable, file=sys.stderr)
        return SKIP
    schemas = Schemas(jsonschema, reference)
    if not schemas.available():
        print("error: no schemas in %s" % schemas.strict_dir, file=sys.stderr)
        print("0 passed, 1 failed")
        return 1

    loader = make_loader(yaml)
    r = Result()
    kdir = os.path.join(root, "deploy", "kubernetes")
    files = sorted(f for f in os.listdir(kdir) if f.endswith((".yaml", ".yml")))
    docs = {}  # file -> [doc]
    objects = []  # (file, doc)

    # 1. every document against its schema
    for name in files:
        try:
            docs[name] = load_all(yaml, loader, os.path.join(kdir, name))
        except (OSError, yaml.YAMLError) as e:
            r.fail("%s: not valid YAML" % name, str(e).splitlines())
            continue
        if not docs[name]:
            r.fail("%s: no document" % name)
        for doc in docs[name]:
            if not isinstance(doc, dict) or not isinstance(doc.get("kind"), str) \
                    or not isinstance(doc.get("apiVersion"), str):
                r.fail("%s: a document without apiVersion and kind" % name)
                continue
            what = "%s: %s" % (name, describe(doc))
            if doc["kind"] == "Kustomization":
                continue  # checked below
            objects.append((name, doc))
            validator, source = schemas.validator(doc["apiVersion"], doc["kind"])
            if validator is not None:
                errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
                r.check(not errors, "%s valid against %s" % (what, source),
                        ["at %s: %s" % (where(e), e.message[:300]) for e in errors])
            elif doc["kind"] in SHAPES:
                errors = SHAPES[doc["kind"]](doc)
                r.check(not errors, "%s: no schema; shape checked" % what, errors)
            else:
                r.fail("%s: no schema and no shape check for this kind" % what)

    def find(kind, name=None):
        for f, d in objects:
            if d.get("kind") == kind and (name is None or d["metadata"].get("name") == name):
                return d
        return None

    # kustomization.yaml lists every manifest but the example Secrets (the
    # database's and the API's certificate), which an operator fills in, and
    # the admission policy: its API (admissionregistration.k8s.io/v1beta1) is
    # off unless enabled on Kubernetes 1.28 and 1.29, and one object of an
    # unknown kind fails the whole `kubectl apply -k`.
    kust = docs.get("kustomization.yaml", [None])[0]
    if r.check(isinstance(kust, dict) and kust.get("kind") == "Kustomization",
               "kustomization.yaml: a Kustomization"):
        listed = kust.get("resources") or []
        expected = [f for f in files if f != "kustomization.yaml"
                    and not f.endswith("secret.example.yaml") and f not in APPLIED_APART]
        r.check(sorted(listed) == sorted(expected) and len(set(listed)) == len(listed),
                "kustomization.yaml: lists every manifest but the *secret.example.yaml and %s"
                % ", ".join(sorted(APPLIED_APART)),
                ["not listed: %s" % f for f in sorted(set(expected) - set(listed))]
                + ["listed, no such manifest: %s" % f for f in sorted(set(listed) - set(expected))])
        r.check(not any(f.endswith("secret.example.yaml") for f in listed)
                and "secretGenerator" not in kust,
                "kustomization.yaml: applies no Secret")
        r.check(not any(f in APPLIED_APART for f in listed)
                and all(f in files for f in APPLIED_APART),
                "kustomization.yaml: leaves %s to its own step (and it is there)"
                % ", ".join(sorted(APPLIED_APART)))
        r.check(kust.get("namespace") in (None, NAMESPACE),
                "kustomization.yaml: namespace %s" % NAMESPACE)

    # 2. RBAC least privilege
    resources_c = os.path.join(root, "kube", "resources.c")
    try:
        code, nrows = code_grants(resources_c)
    except (OSError, ValueError) as e:
        r.fail("kube/resources.c: the table of calls", [str(e)])
        code, nrows = None, 0
    roles = [d for _, d in objects if d["kind"] in ("ClusterRole", "Role")]
    if code is not None and r.check(len(roles) == 1 and roles[0]["kind"] == "ClusterRole",
                                    "RBAC: exactly one ClusterRole and no Role"):
        role = roles[0]
        granted = role_grants(role)
        diff = compare(code, granted)
        r.check(not diff, "RBAC: the ClusterRole grants exactly the %d (apiGroup, resource, verb) "
                "of the %d rows of kube/resources.c" % (len(code), nrows), diff)
        # The comparison sees one verb too many and one too few.
        some = sorted(code)[0]
        plus = compare(code, granted | {(some[0], some[1], "watch" if some[2] != "watch"
                                         else "list")})
        minus = compare(code, granted - {some})
        r.check(bool(plus) and bool(minus) and not compare(code, set(code)),
                "RBAC: the comparison detects an extra and a missing grant",
                ["extra: %s" % plus, "missing: %s" % minus])
        # Every table row has its rule, and no rule mixes groups.
        r.check(all(len(rule.get("apiGroups") or []) == 1 for rule in role.get("rules") or []),
                "RBAC: one API group per rule")
        binding = find("ClusterRoleBinding")
        sa = find("ServiceAccount")
        if r.check(binding is not None and sa is not None,
                   "RBAC: a ClusterRoleBinding and a ServiceAccount"):
            subj = (binding.get("subjects") or [{}])
            r.check(binding["roleRef"].get("name") == role["metadata"]["name"]
                    and len(subj) == 1
                    and subj[0].get("name") == sa["metadata"]["name"]
                    and subj[0].get("namespace") == sa["metadata"].get("namespace"),
                    "RBAC: the binding gives the ClusterRole to the ServiceAccount, to it alone")
        check_admission_policy(r, find, sa, code, root)

    # 3. the pieces fit together
    esaasd = args.esaasd
    if not esaasd:
        built = os.path.join(os.environ.get("ESAAS_BUILDDIR", os.path.join(root, "build")),
                             "esaasd")
        esaasd = built if os.access(built, os.X_OK) else None
    dep = find("Deployment", "esaasd")
    cm = find("ConfigMap")
    config = None
    if cm is not None:
        try:
            config = yaml.load((cm.get("data") or {}).get("esaasd.yaml", ""), Loader=loader)
        except yaml.YAMLError as e:
            r.fail("ConfigMap: esaasd.yaml is not valid YAML", str(e).splitlines())
    if r.check(isinstance(config, dict), "ConfigMap: holds esaasd.yaml"):
        r.check(config.get("listen") == "0.0.0.0:8080", "esaasd.yaml: listen 0.0.0.0:8080")
        r.check((config.get("log") or {}).get("format") == "json", "esaasd.yaml: log.format json")
        kube = config.get("kubernetes") or {}
        r.check(not kube.get("kubeconfig"), "esaasd.yaml: no kubeconfig (in-cluster)")
        r.check("url" not in (config.get("database") or {}),
                "esaasd.yaml: no database.url (it comes from the Secret)")
        # Every key of the annotated sample is there, except database.url.
        with open(os.path.join(root, "deploy", "esaasd.yaml"), encoding="utf-8") as f:
            sample = yaml.load(f, Loader=loader)

        def keys(m, prefix=""):
            out = set()
            for k, v in (m or {}).items():
                out |= keys(v, prefix + k + ".") if isinstance(v, dict) else {prefix + k}
            return out
        missing = keys(sample) - keys(config) - {"database.url"}
        unknown = keys(config) - keys(sample)
        r.check(not missing and not unknown, "esaasd.yaml: every key of deploy/esaasd.yaml",
                ["missing: %s" % k for k in sorted(missing)]
                + ["unknown: %s" % k for k in sorted(unknown)])
        # The plugin repository is the Service of plugins-service.yaml.
        m = re.fullmatch(r"http://([a-z0-9-]+)\.([a-z0-9-]+)\.svc(?:\.cluster\.local)?:(\d+)/?",
                         kube.get("plugin_repository") or "")
        psvc = find("Service", m.group(1)) if m else None
        r.check(m is not None and psvc is not None and m.group(2) == NAMESPACE
                and any(p.get("port") == int(m.group(3)) for p in psvc["spec"]["ports"]),
                "esaasd.yaml: plugin_repository is the esaas-plugins Service")
        # esaasd itself accepts the file.
        if esaasd:
            with tempfile.NamedTemporaryFile("w", suffix=".yaml") as tmp:
                tmp.write(cm["data"]["esaasd.yaml"])
                tmp.flush()
                env = {k: v for k, v in os.environ.items() if not k.startswith("ESAAS_")}
                env["ESAAS_DATABASE_URL"] = "postgresql://esaas@db.invalid/esaas"
                p = subprocess.run([esaasd, "-c", tmp.name, "--check-config"], env=env,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   universal_newlines=True, timeout=30)
                r.check(p.returncode == 0, "esaasd --check-config accepts the ConfigMap's file",
                        p.stdout.splitlines())
        else:
            print("note: no esaasd built; --check-config not run (set ESAAS_ESAASD)")

    if r.check(dep is not None, "Deployment esaasd"):
        spec = dep["spec"]
        pod = spec["template"]["spec"]
        labels = spec["template"]["metadata"].get("labels") or {}
        c = pod["containers"][0]
        r.check(spec.get("replicas") == 2, "Deployment: 2 replicas")
        r.check(spec["selector"].get("matchLabels", {}).items() <= labels.items(),
                "Deployment: its selector matches its pods")
        r.check(sa is not None and pod.get("serviceAccountName") == sa["metadata"]["name"],
                "Deployment: runs as the bound ServiceAccount")
        grace = ((config or {}).get("engine") or {}).get("shutdown_grace_seconds", 20)
        pre = 0
        pre_cmd = ((c.get("lifecycle") or {}).get("preStop") or {}).get("exec", {}).get("command")
        if pre_cmd and pre_cmd[0] == "sleep":
            pre = int(pre_cmd[1])
        r.check(pod.get("terminationGracePeriodSeconds", 30) > grace + pre,
                "Deployment: terminationGracePeriodSeconds %s > shutdown_grace_seconds %s + "
                "preStop %s" % (pod.get("terminationGracePeriodSeconds", 30), grace, pre))
        probe = lambda p: (c.get(p) or {}).get("httpGet") or {}
        port = [p for p in c.get("ports", []) if p.get("containerPort") == 8080]
        r.check(probe("readinessProbe").get("path") == "/readyz"
                and probe("livenessProbe").get("path") == "/healthz"
                and all(probe(p).get("port") in (8080, port[0].get("name") if port else 8080)
                        for p in ("readinessProbe", "livenessProbe")),
                "Deployment: readiness /readyz and liveness /healthz on 8080")
        res = c.get("resources") or {}
        r.check(all(k in res.get("requests", {}) for k in ("cpu", "memory"))
                and "memory" in res.get("limits", {}), "Deployment: resource requests and limits")
        psc, csc = pod.get("securityContext") or {}, c.get("securityContext") or {}
        r.check((psc.get("runAsNonRoot") or csc.get("runAsNonRoot")) is True
                and csc.get("readOnlyRootFilesystem") is True
                and csc.get("allowPrivilegeEscalation") is False
                and (csc.get("capabilities") or {}).get("drop") == ["ALL"]
                and not (csc.get("capabilities") or {}).get("add")
                and ((psc.get("seccompProfile") or csc.get("seccompProfile") or {}).get("type")
                     == "RuntimeDefault"),
                "Deployment: non-root, read-only root, no privilege escalation, no "
                "capabilities, seccomp RuntimeDefault")
        spread = [t for t in pod.get("topologySpreadConstraints") or []
                  if t.get("topologyKey") == "kubernetes.io/hostname"]
        anti = ((pod.get("affinity") or {}).get("podAntiAffinity") or {})
        r.check(bool(spread) or bool(anti), "Deployment: replicas spread across nodes")
        secret_docs = docs.get("secret.example.yaml") or []
        secret = secret_docs[0] if secret_docs else None
        env = {e["name"]: e for e in c.get("env") or []}
        ref = ((env.get("ESAAS_DATABASE_URL") or {}).get("valueFrom") or {}).get("secretKeyRef")
        r.check(ref is not None and secret is not None
                and ref.get("name") == secret["metadata"]["name"]
                and ref.get("key") in (secret.get("stringData") or secret.get("data") or {}),
                "Deployment: ESAAS_DATABASE_URL from the Secret of secret.example.yaml")
        mounts = {m["name"]: m for m in c.get("volumeMounts") or []}
        cmvol = [v for v in pod.get("volumes") or []
                 if (v.get("configMap") or {}).get("name") == (cm or {}).get("metadata", {}).get("name")]
        cmd = (c.get("command") or []) + (c.get("args") or [])
        r.check(bool(cmvol) and cmvol[0]["name"] in mounts and "-c" in cmd
                and cmd[cmd.index("-c") + 1] == os.path.join(
                    mounts[cmvol[0]["name"]]["mountPath"], "esaasd.yaml"),
                "Deployment: esaasd -c reads the ConfigMap's esaasd.yaml")
        svc = find("Service", "esaasd")
        r.check(svc is not None and svc["spec"]["selector"].items() <= labels.items(),
                "Service esaasd selects the esaasd pods")
        pdb = find("PodDisruptionBudget")
        r.check(pdb is not None and pdb["spec"].get("minAvailable") == 1
                and pdb["spec"]["selector"].get("matchLabels", {}).items() <= labels.items(),
                "PodDisruptionBudget: minAvailable 1 of the esaasd pods")

    pdep = find("Deployment", "esaas-plugins")
    psvc = find("Service", "esaas-plugins")
    pvc = find("PersistentVolumeClaim")
    if r.check(pdep is not None and psvc is not None and pvc is not None,
               "plugin repository: Deployment, Service and PersistentVolumeClaim"):
        pod = pdep["spec"]["template"]["spec"]
        labels = pdep["spec"]["template"]["metadata"].get("labels") or {}
        claims = [v["persistentVolumeClaim"]["claimName"] for v in pod.get("volumes") or []
                  if "persistentVolumeClaim" in v]
        r.check(claims == [pvc["metadata"]["name"]], "plugin repository: serves the claim")
        r.check(psvc["spec"]["selector"].items() <= labels.items(),
                "plugin repository: the Service selects its pod")
        csc = pod["containers"][0].get("securityContext") or {}
        r.check(csc.get("readOnlyRootFilesystem") is True
                and csc.get("allowPrivilegeEscalation") is False
                and (csc.get("capabilities") or {}).get("drop") == ["ALL"]
                and (pod.get("securityContext") or {}).get("runAsNonRoot") is True,
                "plugin repository: non-root, read-only root, no capabilities")

    check_unit(r, root, esaasd)
    check_prometheus(r, root, yaml, loader)
    # 6. tests/deploy/operations.py: docs/operations.md and deploy/Containerfile
    import operations
    operations.check_operations_doc(
        r, root, os.path.dirname(esaasd) if esaasd
        else os.environ.get("ESAAS_BUILDDIR", os.path.join(root, "build")))
    operations.check_containerfile(r, root, dep, config)

    print("%d passed, %d failed" % (r.passed, r.failed))
    return 0 if r.failed == 0 else 1


# --- the systemd unit --------------------------------------------------------

UNIT_REQUIRED = {
    "Type": "simple", "DynamicUser": "yes", "ProtectSystem": "strict", "ProtectHome": "yes",
    "PrivateTmp": "yes", "PrivateDevices": "yes", "NoNewPrivileges": "yes",
    "ProtectKernelTunables": "yes", "ProtectKernelModules": "yes", "ProtectKernelLogs": "yes",
    "ProtectControlGroups": "yes", "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
    "RestrictNamespaces": "yes", "LockPersonality": "yes", "MemoryDenyWriteExecute": "yes",
    "SystemCallFilter": "@system-service", "CapabilityBoundingSet": "",
    "KillSignal": "SIGTERM", "Restart": "on-failure", "ExecReload": "/bin/kill -HUP $MAINPID",
    "LogsDirectory": "esaas",
}


def check_unit(r, root, esaasd):
    """deploy/systemd/esaasd.service.in: the sandbox is all there, the stop
    timeout exceeds the drain, and systemd-analyze verify accepts it."""
    path = os.path.join(root, "deploy", "systemd", "esaasd.service.in")
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        r.fail("deploy/systemd/esaasd.service.in", [str(e)])
        return
    settings = {}
    for line in text.splitlines():
        m = re.match(r"^([A-Za-z]+)=(.*)$", line)
        if m:
            settings.setdefault(m.group(1), []).append(m.group(2).strip())
    wrong = ["%s=%s (has %s)" % (k, v, settings.get(k)) for k, v in UNIT_REQUIRED.items()
             if v not in settings.get(k, [])]
    r.check(not wrong, "esaasd.service: sandboxing and service settings", wrong)
    stop = settings.get("TimeoutStopSec", ["90"])[-1]
    r.check(stop.isdigit() and int(stop) > 20,
            "esaasd.service: TimeoutStopSec %s > engine.shutdown_grace_seconds 20" % stop)
    r.check(settings.get("ExecStart") == ["@bindir@/esaasd -c @sysconfdir@/esaas/esaasd.yaml"],
            "esaasd.service: ExecStart=@bindir@/esaasd -c @sysconfdir@/esaas/esaasd.yaml")
    analyze = None
    for d in os.environ.get("PATH", "").split(os.pathsep) + ["/usr/bin", "/bin"]:
        if os.access(os.path.join(d, "systemd-analyze"), os.X_OK):
            analyze = os.path.join(d, "systemd-analyze")
            break
    if not analyze:
        if os.environ.get("ESAAS_TEST_TOOLS") == "1":
            r.fail("esaasd.service: no systemd-analyze to verify it (apt-get install systemd)")
        else:
            print("note: no systemd-analyze here; the unit is not verified")
        return
    with tempfile.TemporaryDirectory() as tmp:
        # verify wants ExecStart's program to exist: the built esaasd, or a stand-in.
        if esaasd and os.access(esaasd, os.X_OK):
            bindir = os.path.dirname(os.path.abspath(esaasd))
        else:
            bindir = os.path.join(tmp, "bin")
            os.mkdir(bindir)
            with open(os.path.join(bindir, "esaasd"), "w") as f:
                f.write("#!/bin/sh\n")
            os.chmod(os.path.join(bindir, "esaasd"), 0o755)
        unit = os.path.join(tmp, "esaasd.service")
        with open(unit, "w", encoding="utf-8") as f:
            f.write(text.replace("@bindir@", bindir).replace("@sysconfdir@", "/etc")
                    .replace("@docdir@", "/usr/share/doc/esaas"))
        p = subprocess.run([analyze, "verify", unit], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, universal_newlines=True, timeout=60)
        r.check(p.returncode == 0 and not p.stdout.strip(),
                "esaasd.service: systemd-analyze verify accepts it",
                p.stdout.splitlines())


# --- the Prometheus alerting rules -------------------------------------------

RUNBOOK_ANCHORS = {
    "runbook-cluster-red", "runbook-cluster-yellow", "runbook-cluster-unreachable",
    "runbook-job-failed", "runbook-job-past-deadline", "runbook-esaasd-down",
    "runbook-esaasd-not-ready", "runbook-no-sweeper", "runbook-lease-takeovers",
}
SEVERITIES = {"page", "ticket"}
NEVER_FIRES = "vector(1) == 0"


def find_program(name):
    for d in os.environ.get("PATH", "").split(os.pathsep) + ["/usr/bin", "/bin"]:
        if d and os.access(os.path.join(d, name), os.X_OK):
            return os.path.join(d, name)
    return None


def defined_metrics(root):
    """The metric names quoted in esaasd's C sources."""
    import operations
    return operations.code_metrics(root)


def promtool(args, cwd=None):
    p = subprocess.run(args, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True, timeout=120)
    return p.returncode, p.stdout.splitlines()


def check_prometheus(r, root, yaml, loader):
    """deploy/prometheus/: the rule files and their promtool unit tests."""
    pdir = os.path.join(root, "deploy", "prometheus")
    tdir = os.path.join(pdir, "tests")
    rule_files = sorted(f for f in os.listdir(pdir) if f.endswith((".yaml", ".yml"))) \
        if os.path.isdir(pdir) else []
    test_files = sorted(f for f in os.listdir(tdir) if f.endswith((".yaml", ".yml"))) \
        if os.path.isdir(tdir) else []
    if not r.check(rule_files and test_files,
                   "deploy/prometheus: rule files and their tests in tests/"):
        return
    alerts = []  # (file, rule)
    for name in rule_files:
        try:
            doc = load_all(yaml, loader, os.path.join(pdir, name))
        except (OSError, yaml.YAMLError) as e:
            r.fail("deploy/prometheus/%s: not valid YAML" % name, str(e).splitlines())
            continue
        for group in (doc[0] if doc else {}).get("groups") or []:
            alerts += [(name, rule) for rule in group.get("rules") or [] if "alert" in rule]
    names = sorted({rule["alert"] for _, rule in alerts})

    # The shape on-call relies on.
    wrong = []
    used = set()
    for name, rule in alerts:
        what = "%s: %s" % (name, rule.get("alert"))
        labels = rule.get("labels") or {}
        ann = rule.get("annotations") or {}
        if not re.fullmatch(r"[A-Z][a-z0-9]+(?:[A-Z][a-z0-9]*)*", str(rule["alert"])):
            wrong.append("%s: not a CamelCase name" % what)
        if not re.fullmatch(r"\d+[smhd]", str(rule.get("for", ""))):
            wrong.append("%s: no for: duration" % what)
        if labels.get("severity") not in SEVERITIES:
            wrong.append("%s: severity %r, not page or ticket" % (what, labels.get("severity")))
        for key in ("summary", "runbook"):
            if not isinstance(ann.get(key), str) or not ann[key].strip() or "\n" in ann[key]:
                wrong.append("%s: no one-line %s annotation" % (what, key))
        m = re.fullmatch(r"docs/operations\.md#(runbook-[a-z-]+)", str(ann.get("runbook_url")))
        if not m or m.group(1) not in RUNBOOK_ANCHORS:
            wrong.append("%s: runbook_url %r is not one of docs/operations.md's runbook anchors"
                         % (what, ann.get("runbook_url")))
        else:
            used.add(m.group(1))
    r.check(alerts and not wrong, "deploy/prometheus: %d alerts (%s) each with severity page or "
            "ticket, for:, summary, runbook and runbook_url" % (len(alerts), ", ".join(names)),
            wrong)
    r.check(used == RUNBOOK_ANCHORS, "deploy/prometheus: every runbook anchor has its alert",
            ["no alert links %s" % a for a in sorted(RUNBOOK_ANCHORS - used)])

    # Every esaas_ metric of an expression exists.
    defined = defined_metrics(root)
    unknown = set()
    for _, rule in alerts:
        for metric in re.findall(r"\besaas_[a-z0-9_]+", str(rule.get("expr", ""))):
            base = re.sub(r"_(bucket|count|sum)$", "", metric)
            if metric not in defined and base not in defined:
                unknown.add(metric)
    r.check(not unknown, "deploy/prometheus: the rules read only metrics esaasd defines",
            ["no such metric in the sources: %s" % m for m in sorted(unknown)])

    # Each alert is expected somewhere, and expected absent somewhere.
    expected, absent = set(), set()
    for name in test_files:
        try:
            doc = load_all(yaml, loader, os.path.join(tdir, name))
        except (OSError, yaml.YAMLError) as e:
            r.fail("deploy/prometheus/tests/%s: not valid YAML" % name, str(e).splitlines())
            continue
        for test in (doc[0] if doc else {}).get("tests") or []:
            for t in test.get("alert_rule_test") or []:
                (expected if t.get("exp_alerts") else absent).add(t.get("alertname"))
    r.check(set(names) <= expected and set(names) <= absent,
            "deploy/prometheus/tests: each alert tested firing and not firing",
            ["%s: never expected to fire" % a for a in names if a not in expected]
            + ["%s: never expected not to fire" % a for a in names if a not in absent])

    tool = find_program("promtool")
    if not tool:
        if os.environ.get("ESAAS_TEST_PROMETHEUS") == "1":
            r.fail("promtool: not installed (apt-get install prometheus)")
        else:
            print("note: no promtool here (apt-get install prometheus); the rules are not "
                  "checked nor tested by it")
        return
    rc, out = promtool([tool, "check", "rules"] + rule_files, cwd=pdir)
    r.check(rc == 0, "deploy/prometheus: promtool check rules %s" % " ".join(rule_files), out)
    rc, out = promtool([tool, "test", "rules"] + test_files, cwd=tdir)
    r.check(rc == 0, "deploy/prometheus/tests: promtool test rules %s" % " ".join(test_files),
            [l for l in out if l.strip()])

    # The tests see an alert that never fires: one copy of the rules per
    # alert, its expressions replaced, must fail them.
    passed = []
    with tempfile.TemporaryDirectory() as tmp:
        copy = os.path.join(tmp, "prometheus")
        os.makedirs(os.path.join(copy, "tests"))
        for name in test_files:
            with open(os.path.join(tdir, name), encoding="utf-8") as f, \
                    open(os.path.join(copy, "tests", name), "w", encoding="utf-8") as g:
                g.write(f.read())
        for alert in names:
            for name in rule_files:
                with open(os.path.join(pdir, name), encoding="utf-8") as f:
                    doc = yaml.load(f, Loader=loader)
                for group in doc.get("groups") or []:
                    for rule in group.get("rules") or []:
                        if rule.get("alert") == alert:
                            rule["expr"] = NEVER_FIRES
                with open(os.path.join(copy, name), "w", encoding="utf-8") as g:
                    yaml.safe_dump(doc, g, sort_keys=False)
            rc, out = promtool([tool, "test", "rules"] + test_files,
                               cwd=os.path.join(copy, "tests"))
            # Failed, and for the want of this alert (not a file not found).
            if rc == 0 or not any("alertname: %s," % alert in l for l in out):
                passed.append(alert)
    r.check(not passed, "deploy/prometheus/tests: fail when any one alert never fires",
            ["%s: the tests do not miss it with expr %s" % (a, NEVER_FIRES) for a in passed])


if __name__ == "__main__":
    sys.exit(main())
