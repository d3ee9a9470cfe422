#!/usr/bin/env python3
"""textkit: a small JSON-lines service with a correct implementation and seeded bugs.

The fixture of kiro-proptest's runner tests: the properties of
.kiro/specs/textkit/design.md must all hold for the correct version, and each
seeded bug must break at least one of them.

Protocol: one request per line on stdin, {"op": "<name>", "input": <json>};
one answer per line on stdout, {"ok": <json>} or {"error": "<message>"}.
An exception is not caught: the process dies, as a real service would.

    python3 textkit.py              # correct, unless TEXTKIT_BUG names a bug
    TEXTKIT_BUG=unstable-sort python3 textkit.py
    python3 textkit.py --reference  # the reference implementations, never buggy
"""

import json
import os
import re
import sys

REFERENCE = "--reference" in sys.argv[1:]
BUG = "" if REFERENCE else os.environ.get("TEXTKIT_BUG", "")

# Every bug, with the mistake it stands for.
BUGS = {
    "wrong-escape": "escape forgets to escape the escape character itself",
    "unstable-sort": "sort_records uses selection sort, which reorders equal keys",
    "sort-off-by-one": "sort_records' insertion sort never inserts the last record",
    "lost-element": "dedupe's loop stops one element early",
    "dedupe-hang": "dedupe forgets to advance past a duplicate and loops forever",
    "normalize-once": "normalize replaces double spaces once instead of collapsing runs",
    "crash-on-empty": "stats calls min() on an empty list and crashes",
    "chunk-off-by-one": "chunk slices four items per chunk while stepping by three",
    "median-unsorted": "median takes the middle element without sorting",
    "lenient-parse": "parse_int trusts int(), which accepts numbers, signs and spaces",
}
if BUG and BUG not in BUGS:
    sys.exit(f"unknown TEXTKIT_BUG {BUG!r}; known: {', '.join(BUGS)}")


class Refused(Exception):
    """The input is refused: answered with {"error": ...}."""


def escape(s):
    out = []
    for c in s:
        if c == "\\" and BUG != "wrong-escape":
            out.append("\\\\")
        elif c == ",":
            out.append("\\,")
        elif c == "\n":
            out.append("\\n")
        else:
            out.append(c)
    return "".join(out)


def unescape(s):
    out = []
    i = 0
    while i < len(s):
        c = s[i]
        if c == "\\":
            if i + 1 == len(s):
                raise Refused("dangling escape at the end")
            nxt = s[i + 1]
            if nxt == "n":
                out.append("\n")
            elif nxt in "\\,":
                out.append(nxt)
            else:
                raise Refused(f"unknown escape \\{nxt}")
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def sort_records(records):
    if REFERENCE:
        return sorted(records, key=lambda r: r["k"])
    items = list(records)
    if BUG == "unstable-sort":
        for i in range(len(items)):
            least = i
            for j in range(i + 1, len(items)):
                if items[j]["k"] < items[least]["k"]:
                    least = j
            items[i], items[least] = items[least], items[i]
        return items
    last = len(items) - 1 if BUG == "sort-off-by-one" else len(items)
    for i in range(1, last):
        current = items[i]
        j = i - 1
        while j >= 0 and items[j]["k"] > current["k"]:
            items[j + 1] = items[j]
            j -= 1
        items[j + 1] = current
    return items


def dedupe(xs):
    if REFERENCE:
        seen = []
        return [x for x in xs if not (x in seen or seen.append(x))]
    seen = set()
    out = []
    end = len(xs) - 1 if BUG == "lost-element" else len(xs)
    i = 0
    while i < end:
        x = json.dumps(xs[i], sort_keys=True)
        if x in seen:
            if BUG != "dedupe-hang":
                i += 1
            continue
        seen.add(x)
        out.append(xs[i])
        i += 1
    return out


def normalize(s):
    if BUG == "normalize-once":
        return s.strip().replace("  ", " ")
    return " ".join(s.split())


def stats(xs):
    if not xs and BUG != "crash-on-empty":
        return {"count": 0, "sum": 0, "min": None, "max": None}
    return {"count": len(xs), "sum": sum(xs), "min": min(xs), "max": max(xs)}


def chunk(xs):
    width = 4 if BUG == "chunk-off-by-one" else 3
    return [xs[i : i + width] for i in range(0, len(xs), 3)]


def median(xs):
    if not xs:
        raise Refused("the median of nothing")
    ordered = xs if BUG == "median-unsorted" else sorted(xs)
    mid = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[mid]
    return (ordered[mid - 1] + ordered[mid]) / 2


INTEGER = re.compile(r"-?(0|[1-9][0-9]{0,8})")


def parse_int(s):
    if BUG == "lenient-parse":
        try:
            return int(s)
        except (TypeError, ValueError) as e:
            raise Refused(str(e))
    if not isinstance(s, str) or not INTEGER.fullmatch(s):
        raise Refused(f"not an integer literal: {json.dumps(s)}")
    return int(s)


OPS = {
    f.__name__: f
    for f in (escape, unescape, sort_records, dedupe, normalize, stats, chunk, median, parse_int)
}


def main():
    for line in sys.stdin:
        request = json.loads(line)
        op = OPS.get(request.get("op"))
        if op is None:
            answer = {"error": f"unknown op {request.get('op')!r}"}
        else:
            try:
                answer = {"ok": op(request.get("input"))}
            except Refused as e:
                answer = {"error": str(e)}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
