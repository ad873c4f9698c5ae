#!/usr/bin/env python3
"""Regenerates oracle.json from oracle.txt by running real Helm (3.17.3, installed by
/work/main/.ci/install-helm at .tools/bin/helm3) on every case.

Each case becomes a chart whose `templates/_x.tpl` holds the case's template and whose
`templates/y.yaml` is `{{ fail (include "x/templates/_x.tpl" .) }}`, so Helm reports the raw
Go text/template output (no YAML parsing, no "<no value>" stripping) inside its error message.
Usage: python3 gen_oracle.py [HELM]; ORACLE_IN/ORACLE_OUT override the case and output files."""
import json, os, subprocess, sys, tempfile

HELM = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "../../../.tools/bin/helm3")
SUFFIX = "\n\nUse --debug flag to render out invalid YAML\n"

def parse_cases(text):
    cases, cur, mode = [], None, None
    for line in text.splitlines(keepends=True):
        if line.startswith("### "):
            if cur: cases.append(cur)
            cur = {"name": line[4:].strip(), "template": "", "values": ""}
            mode = "template"
        elif line.rstrip("\n") == "--- values" and cur:
            mode = "values"
        elif cur:
            cur[mode] += line
    if cur: cases.append(cur)
    for c in cases:
        if c["template"].endswith("\n"): c["template"] = c["template"][:-1]
        c["values"] = c["values"].strip() or "{}"
    return cases

def run(case):
    with tempfile.TemporaryDirectory() as d:
        os.makedirs(f"{d}/templates")
        open(f"{d}/Chart.yaml", "w").write("apiVersion: v2\nname: x\nversion: 0.1.0\n")
        open(f"{d}/values.yaml", "w").write(case["values"])
        open(f"{d}/templates/_x.tpl", "w").write(case["template"])
        open(f"{d}/templates/y.yaml", "w").write('{{ fail (include "x/templates/_x.tpl" .) }}')
        p = subprocess.run([HELM, "template", "x", d], capture_output=True)
    err = p.stderr.decode("utf-8", errors="replace")
    if "\ufffd" in err:
        # Output that is not UTF-8 (e.g. `trunc` splitting a character) is not comparable.
        return {"helm": "non-UTF-8 output"}
    if err.endswith(SUFFIX): err = err[: -len(SUFFIX)]
    ok_prefix = "Error: execution error at (x/templates/y.yaml:1:3): "
    inc_prefix = 'Error: template: x/templates/y.yaml:1:9: executing "x/templates/y.yaml" at <include "x/templates/_x.tpl" .>: error calling include: '
    parse_prefix = "Error: parse error at ("
    if err.startswith(ok_prefix):
        return {"output": err[len(ok_prefix):]}
    if err.startswith(inc_prefix):
        return {"error": err[len(inc_prefix):].rstrip("\n")}
    if err.startswith(parse_prefix):
        loc, msg = err[len(parse_prefix):].split("): ", 1)
        return {"error": f"template: {loc}: {msg.rstrip(chr(10))}"}
    return {"helm": (p.stdout.decode("utf-8", errors="replace") + err)}

def main():
    here = os.path.dirname(os.path.abspath(__file__))
    src = os.environ.get("ORACLE_IN", os.path.join(here, "oracle.txt"))
    dst = os.environ.get("ORACLE_OUT", os.path.join(here, "oracle.json"))
    cases = parse_cases(open(src).read())
    out = []
    for c in cases:
        r = run(c)
        c.update(r)
        out.append(c)
        print(c["name"], "->", json.dumps(r)[:150], file=sys.stderr)
    json.dump(out, open(dst, "w"), indent=1, ensure_ascii=False)
    open(dst, "a").write("\n")

main()
