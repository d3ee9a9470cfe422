"""Peer baseline for `cargo bench -p kiro-benches --bench schema_gen`.

Set up: python3 -m venv /tmp/hj && /tmp/hj/bin/pip install hypothesis==6.98.0 hypothesis-jsonschema==0.23.1 jsonschema
Run:    /tmp/hj/bin/python benches/peers/hypothesis_jsonschema.py ../shared

hypothesis-jsonschema on the same workloads as kiro-proptest's schema_gen bench:
the three realistic schemas (values/s, invalid with formats asserted) and the
JSON-Schema-Test-Suite (20 values per satisfiable case, median time per value,
cases with invalid values, errors), validated with python-jsonschema."""
import json, os, sys, time, statistics, warnings
from hypothesis import given, settings, HealthCheck, Phase, seed
from hypothesis_jsonschema import from_schema
import jsonschema
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7, DRAFT202012

warnings.filterwarnings("ignore")
S = sys.argv[1]
N_SUITE = 20

def collect(strategy, n):
    out = []
    @seed(1)
    @settings(max_examples=n, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def t(v):
        out.append(v)
    t()
    return out

def realistic():
    d = os.path.join(S, "bench/jsf/schemas")
    for f in sorted(os.listdir(d)):
        schema = json.load(open(os.path.join(d, f)))
        v = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
        try:
            st = from_schema(schema)
            collect(st, 50)
            t0 = time.perf_counter(); vals = collect(st, 1000); dt = time.perf_counter() - t0
            bad = sum(1 for x in vals if not v.is_valid(x))
            print(f"{f}: {len(vals)} values in {dt:.2f} s = {len(vals)/dt:.0f} values/s ({dt*1e6/len(vals):.0f} us/value), {bad} invalid (formats asserted), {len(set(json.dumps(x, sort_keys=True) for x in vals))} distinct", flush=True)
        except Exception as e:
            print(f"{f}: error {type(e).__name__}: {str(e)[:200]}", flush=True)

def remotes(draft):
    root = os.path.join(S, "fixtures/json-schema-test-suite/remotes")
    others = ["draft3", "draft4", "draft6", "draft7", "draft2019-09", "draft2020-12", "v1"]
    res = []
    for dp, _, fs in os.walk(root):
        for f in fs:
            if not f.endswith(".json"): continue
            p = os.path.join(dp, f); rel = os.path.relpath(p, root)
            if any(rel.startswith(o + "/") for o in others if o != draft): continue
            res.append(("http://localhost:1234/" + rel, json.load(open(p))))
    return res

def suite():
    for draft, cls, spec in [("draft7", jsonschema.Draft7Validator, DRAFT7), ("draft2020-12", jsonschema.Draft202012Validator, DRAFT202012)]:
        reg = Registry().with_resources([(u, Resource.from_contents(d, default_specification=spec)) for u, d in remotes(draft)])
        base = os.path.join(S, "fixtures/json-schema-test-suite/tests", draft)
        cases = ok = invalid = errors = 0; times = []
        for f in sorted(x for x in os.listdir(base) if x.endswith(".json")):
            for g in json.load(open(os.path.join(base, f))):
                if not any(t["valid"] for t in g["tests"]): continue
                cases += 1
                schema = g["schema"]
                if draft == "draft7" and isinstance(schema, dict) and "$schema" not in schema:
                    schema = dict(schema, **{"$schema": "http://json-schema.org/draft-07/schema#"})
                try:
                    v = cls(g["schema"], registry=reg)
                    st = from_schema(schema)
                    t0 = time.perf_counter(); vals = collect(st, N_SUITE); dt = time.perf_counter() - t0
                except Exception as e:
                    errors += 1; continue
                if not vals: errors += 1; continue
                bad = sum(1 for x in vals if not v.is_valid(x))
                if bad: invalid += 1
                else:
                    ok += 1; times.extend([dt * 1e6 / len(vals)] * len(vals))
        print(f"suite {draft}: {cases} cases, {ok} all-valid, {invalid} with invalid values, {errors} errors; median {statistics.median(times):.0f} us per value", flush=True)

if "--suite-only" not in sys.argv: realistic()
if "--realistic-only" not in sys.argv: suite()
