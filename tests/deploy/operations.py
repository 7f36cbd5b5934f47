"""Checks of docs/operations.md and deploy/Containerfile, for check.py.

docs/operations.md, so that it cannot drift from the code:
- its configuration reference is the one dev/config-doc makes from
  common/config.c's table of keys (every key, its default, its limits, its
  variable), and that comparison is itself seen to fail on a wrong table;
- every runbook anchor the alert rules link to is there, before a heading;
  every link inside the page leads somewhere;
- every metric it names is one esaasd defines, every "METHOD /path" one
  the API routes, every esaasctl command and --flag one esaasctl knows
  (when an esaasctl is built);
- README.md links it, and Makefile.am ships it.

deploy/Containerfile: multi-stage from Debian 12, the last stage slim with
runtime libraries only, non-root as the Deployment runs it, the job
viewer's files installed where the ConfigMap's http.ui_dir says, the
Deployment's command as its entry point, one version everywhere; and a
Containerfile linter accepts it, where one is installed (hadolint or
dockerfilelint on PATH, or $ESAAS_HADOLINT / $ESAAS_DOCKERFILELINT), after
it was seen to flag a bad file.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

RUNBOOKS = [
    "runbook-cluster-red", "runbook-cluster-yellow", "runbook-cluster-unreachable",
    "runbook-job-failed", "runbook-job-past-deadline", "runbook-esaasd-down",
    "runbook-esaasd-not-ready", "runbook-no-sweeper", "runbook-lease-takeovers",
]

# Flags esaasctl takes before its command, with their value.
CTL_GLOBAL_VALUED = {"--url", "--token", "--timeout", "--output", "-o"}


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


# --- docs/operations.md ---------------------------------------------------------

def slug(heading):
    """The anchor GitHub gives a heading."""
    s = heading.strip().lower()
    s = re.sub(r"[^a-z0-9 _-]", "", s)
    return s.replace(" ", "-")


def anchors(text):
    ids = set(re.findall(r'<a id="([^"]+)"></a>', text))
    for line in text.splitlines():
        m = re.match(r"^#{1,6} (.+)$", line)
        if m:
            ids.add(slug(m.group(1)))
    return ids


def esaasd_sources(root):
    """The C files esaasd is built from: libesaas_a_SOURCES and
    esaasd_SOURCES of Makefile.am, so that a folder added there is read
    here too."""
    text = read(os.path.join(root, "Makefile.am")).replace("\\\n", " ")
    files = []
    for var in ("libesaas_a_SOURCES", "esaasd_SOURCES"):
        m = re.search(r"^%s\s*=(.*)$" % var, text, re.M)
        if m:
            files += [f for f in m.group(1).split() if f.endswith(".c")]
    if not files:
        raise ValueError("no libesaas_a_SOURCES in Makefile.am")
    return [os.path.join(root, f) for f in files]


def code_metrics(root):
    """The metric names quoted in esaasd's C sources."""
    names = set()
    for path in esaasd_sources(root):
        names |= set(re.findall(r'"(esaas_[a-z0-9_]+)"', read(path)))
    return names


def sql_names(root):
    """Tables and functions of the migrations, which share the esaas_ prefix."""
    names = {"esaas_schema_migrations"}
    mdir = os.path.join(root, "storage", "migrations")
    for f in os.listdir(mdir):
        if f.endswith(".sql"):
            names |= set(re.findall(r"(?i)create (?:table|function|index|sequence) "
                                    r"(?:if not exists )?(esaas_[a-z0-9_]+)",
                                    read(os.path.join(mdir, f))))
    return names


def api_routes(root):
    routes = []
    adir = os.path.join(root, "api")
    for f in sorted(os.listdir(adir)):
        if f.endswith(".c"):
            for method, pattern in re.findall(
                    r'(?:http_server|api)_route(?:_with)?\(\s*[^,]+,\s*"([A-Z]+)",\s*"([^"]+)"',
                    read(os.path.join(adir, f)), re.S):
                routes.append((method, pattern.split("/")))
    return routes


def route_known(routes, method, path):
    segs = path.split("?", 1)[0].split("/")
    for m, pat in routes:
        if m != method or len(pat) != len(segs):
            continue
        if all(p == s or (p.startswith("{") and s) for p, s in zip(pat, segs)):
            return True
    return False


def ctl_help(esaasctl, words):
    p = subprocess.run([esaasctl] + words + ["--help"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, universal_newlines=True, timeout=30)
    return p.returncode, p.stdout


def ctl_commands(esaasctl):
    """The commands esaasctl --help lists: "jobs list", "create", ..."""
    rc, out = ctl_help(esaasctl, [])
    cmds, inside = set(), False
    for line in out.splitlines():
        if line.startswith("Commands:"):
            inside = True
            continue
        if inside:
            m = re.match(r"^  (\S+(?: \S+)?)  +\S", line)
            if not m:
                break
            cmds.add(m.group(1))
    return cmds


def ctl_uses(text):
    """(line number, [tokens]) of each "esaasctl ..." the page shows."""
    uses = []
    for n, line in enumerate(text.splitlines(), 1):
        for m in re.finditer(r"\besaasctl((?: +[^\s`;|&]+)*)", line):
            tokens = m.group(1).split()
            if tokens:
                uses.append((n, tokens))
    return uses


def check_ctl(r, esaasctl, text):
    cmds = ctl_commands(esaasctl)
    if not r.check(len(cmds) >= 5, "esaasctl --help lists its commands", sorted(cmds)):
        return
    wrong, helps = [], {}
    for n, tokens in ctl_uses(text):
        i = 0
        while i < len(tokens) and tokens[i] in CTL_GLOBAL_VALUED:
            i += 2
        rest = tokens[i:]
        cmd = " ".join(rest[:2]) if " ".join(rest[:2]) in cmds else rest[0] if rest else ""
        if cmd not in cmds:
            wrong.append("line %d: esaasctl %s: no such command" % (n, " ".join(tokens)))
            continue
        if cmd not in helps:
            helps[cmd] = ctl_help(esaasctl, cmd.split())[1]
        for t in rest:
            flag = t.split("=", 1)[0]
            if flag.startswith("--") and not re.search(r"(^|\s)%s(\s|$)" % re.escape(flag),
                                                       helps[cmd], re.M):
                wrong.append("line %d: esaasctl %s: no flag %s" % (n, cmd, flag))
    r.check(not wrong, "docs/operations.md: every esaasctl command and flag exists", wrong)


def check_operations_doc(r, root, builddir):
    path = os.path.join(root, "docs", "operations.md")
    try:
        text = read(path)
    except OSError as e:
        r.fail("docs/operations.md", [str(e)])
        return

    # The configuration reference, against common/config.c's table.
    tool = os.path.join(root, "dev", "config-doc")
    p = subprocess.run([sys.executable, tool, "--root", root, "--check", path],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True, timeout=60)
    r.check(p.returncode == 0, "docs/operations.md: the configuration reference is common/config.c's "
            "table (dev/config-doc --check)", p.stdout.splitlines())
    # ... and that comparison notices a key gone and a default changed.
    lines = text.split("\n")
    broken = [l for l in lines if not l.startswith("| `engine.poll_seconds` |")]
    broken = [re.sub(r"^(\| `engine.workers` \| )`64`", r"\1`65`", l) for l in broken]
    with tempfile.NamedTemporaryFile("w", suffix=".md", encoding="utf-8") as tmp:
        tmp.write("\n".join(broken))
        tmp.flush()
        q = subprocess.run([sys.executable, tool, "--root", root, "--check", tmp.name],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           universal_newlines=True, timeout=60)
    r.check(q.returncode == 1 and "engine.poll_seconds" in q.stdout
            and "engine.workers" in q.stdout,
            "dev/config-doc --check: fails on a missing key and a wrong default",
            q.stdout.splitlines())

    # The runbooks the alert rules link to.
    wrong = []
    for a in RUNBOOKS:
        marks = [i for i, l in enumerate(lines) if l.strip() == '<a id="%s"></a>' % a]
        if len(marks) != 1:
            wrong.append("%s: %d anchors" % (a, len(marks)))
        elif marks[0] + 1 >= len(lines) or not lines[marks[0] + 1].startswith("#"):
            wrong.append("%s: not right before a heading" % a)
    r.check(not wrong, "docs/operations.md: the %d runbook anchors, each before its heading"
            % len(RUNBOOKS), wrong)
    ids = anchors(text)
    dangling = sorted(set(re.findall(r"\]\(#([^)]+)\)", text)) - ids)
    r.check(not dangling, "docs/operations.md: every link within the page has its target",
            dangling)

    # Metrics, routes and commands it names exist.
    defined = code_metrics(root)
    named = set(re.findall(r"\b(esaas_[a-z0-9_]+)", text)) - sql_names(root)
    r.check(not named - defined, "docs/operations.md: every metric it names is esaasd's",
            sorted(named - defined))
    undocumented = sorted(defined - named)
    if undocumented:
        print("note: metrics docs/operations.md does not name: %s" % ", ".join(undocumented))
    routes = api_routes(root)
    used = set(re.findall(r"\b(GET|POST|PATCH|PUT|DELETE) (/[^\s`),]+)", text))
    unknown = sorted("%s %s" % u for u in used if not route_known(routes, *u))
    r.check(routes and not unknown, "docs/operations.md: every METHOD /path it names is routed "
            "by api/", unknown)
    esaasctl = os.path.join(builddir, "esaasctl")
    if os.access(esaasctl, os.X_OK):
        check_ctl(r, esaasctl, text)
    else:
        print("note: no esaasctl built; the commands of docs/operations.md are not checked")

    readme = read(os.path.join(root, "README.md"))
    r.check("(docs/operations.md)" in readme, "README.md links docs/operations.md")
    makefile = read(os.path.join(root, "Makefile.am"))
    r.check(all(re.search(r"\s%s(\s|$)" % re.escape(f), makefile, re.M)
                for f in ("docs/operations.md", "dev/config-doc", "tests/deploy/operations.py")),
            "Makefile.am ships docs/operations.md, dev/config-doc and tests/deploy/operations.py")


# --- deploy/Containerfile ------------------------------------------------------------

def instructions(text):
    """[(stage, INSTRUCTION, arguments)], continuation lines joined."""
    out, stage, cur = [], -1, ""
    for line in text.splitlines():
        if not cur and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            cur += line.rstrip()[:-1] + " "
            continue
        cur += line
        m = re.match(r"^\s*([A-Za-z]+)\s+(.*)$", cur.strip(), re.S)
        cur = ""
        if not m:
            continue
        instr = m.group(1).upper()
        if instr == "FROM":
            stage += 1
        out.append((stage, instr, re.sub(r"\s+", " ", m.group(2)).strip()))
    return out


def find_linter(root):
    """(name, argv prefix) of a Containerfile linter here, or None: hadolint,
    or npm's dockerfilelint (tests/deploy/package.json installs it)."""
    local = os.path.join(root, "tests", "deploy", "node_modules", ".bin", "dockerfilelint")
    for env, name in (("ESAAS_HADOLINT", "hadolint"), ("ESAAS_DOCKERFILELINT", "dockerfilelint")):
        prog = os.environ.get(env) or shutil.which(name)
        if not prog and name == "dockerfilelint":
            prog = local
        if prog and os.access(prog, os.X_OK):
            return name, [prog]
    return None


def lint(linter, path):
    p = subprocess.run(linter[1] + [path], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True, timeout=120)
    return p.returncode, p.stdout.splitlines()


BAD_CONTAINERFILE = "FROM debian:latest\nRUN apt-get update && apt-get install curl\n"


def check_containerfile(r, root, dep, config):
    path = os.path.join(root, "deploy", "Containerfile")
    try:
        text = read(path)
    except OSError as e:
        r.fail("deploy/Containerfile", [str(e)])
        return
    ins = instructions(text)
    froms = [(s, a) for s, i, a in ins if i == "FROM"]
    last = froms[-1][0] if froms else -1
    stage_names = [a.split()[-1] for _, a in froms if " as " in a.lower()]
    r.check(len(froms) >= 2 and froms[0][1].split()[0] == "debian:12"
            and froms[-1][1] == "debian:12-slim",
            "Containerfile: built on debian:12, run on debian:12-slim",
            ["FROM %s" % a for _, a in froms])
    final = [(i, a) for s, i, a in ins if s == last]
    installs = " ".join(a for i, a in final if i == "RUN" and "apt-get install" in a)
    heavy = re.findall(r"\b(\S+-dev|build-essential|gcc|g\+\+|make|autoconf|automake|libtool)\b",
                       installs)
    r.check(installs and not heavy, "Containerfile: the last stage installs runtime libraries only",
            heavy)
    r.check(any(i == "COPY" and a.startswith("--from=") and a.split()[0][7:] in stage_names
                for i, a in final),
            "Containerfile: the last stage copies the build stage's install")
    users = [a for i, a in final if i == "USER"]
    pod = ((dep or {}).get("spec") or {}).get("template", {}).get("spec", {})
    psc = pod.get("securityContext") or {}
    m = re.fullmatch(r"(\d+):(\d+)", users[-1]) if users else None
    r.check(m is not None and int(m.group(1)) != 0
            and int(m.group(1)) == psc.get("runAsUser") and int(m.group(2)) == psc.get("runAsGroup"),
            "Containerfile: USER is the Deployment's numeric, non-root runAsUser:runAsGroup",
            ["USER %s; the Deployment runs %s:%s" % (users[-1] if users else "(none)",
                                                      psc.get("runAsUser"), psc.get("runAsGroup"))])

    # The viewer: installed under the prefix, where the configurations point.
    prefix = re.search(r"\./configure\b[^&]*--prefix=(\S+)", text)
    uidir = prefix.group(1).rstrip("/") + "/share/esaas/ui" if prefix else None
    cm_ui = ((config or {}).get("http") or {}).get("ui_dir")
    r.check(uidir is not None and cm_ui == uidir,
            "Containerfile and ConfigMap: the viewer's files at %s, http.ui_dir %s" % (uidir, cm_ui))
    r.check(uidir is not None and ("ui_dir: %s" % uidir) in text
            and ("test -s /out%s/index.html" % uidir) in text,
            "Containerfile: the image's esaasd.yaml names the viewer's folder, and the build "
            "checks its files are there")

    # The Deployment runs what the image's entry point runs, on its port.
    c = (pod.get("containers") or [{}])[0]
    entry = [a for i, a in final if i == "ENTRYPOINT"]
    try:
        entry_argv = json.loads(entry[-1]) if entry else None
    except ValueError:
        entry_argv = None
    r.check(entry_argv is not None and entry_argv == c.get("command"),
            "Containerfile: ENTRYPOINT is the Deployment's command",
            ["ENTRYPOINT %s; command %s" % (entry[-1] if entry else "(none)", c.get("command"))])
    ports = [str(p.get("containerPort")) for p in c.get("ports") or []]
    exposed = [a for i, a in final if i == "EXPOSE"]
    r.check(exposed and exposed[-1] in ports, "Containerfile: EXPOSE is the Deployment's port")
    version = re.search(r"AC_INIT\(\[[^]]+\],\s*\[([^]]+)\]", read(os.path.join(root, "configure.ac")))
    label = re.search(r'org\.opencontainers\.image\.version="([^"]+)"', text)
    image = c.get("image") or ""
    r.check(version and label and label.group(1) == version.group(1)
            and image.endswith(":" + version.group(1)),
            "Containerfile label, configure.ac and the Deployment's image: one version",
            ["configure.ac %s, label %s, image %s" % (version.group(1) if version else None,
                                                      label.group(1) if label else None, image)])

    linter = find_linter(root)
    if not linter:
        if os.environ.get("ESAAS_TEST_TOOLS") == "1":
            r.fail("deploy/Containerfile: no linter (npm ci --prefix tests/deploy)")
        else:
            print("note: no Containerfile linter here (hadolint, or npm's dockerfilelint); "
                  "deploy/Containerfile is not linted")
        return
    with tempfile.NamedTemporaryFile("w", suffix=".Containerfile") as tmp:
        tmp.write(BAD_CONTAINERFILE)
        tmp.flush()
        rc, _ = lint(linter, tmp.name)
    if r.check(rc != 0, "%s flags a bad Containerfile" % linter[0]):
        rc, out = lint(linter, path)
        r.check(rc == 0, "%s accepts deploy/Containerfile" % linter[0], out)
