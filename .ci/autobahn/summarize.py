#!/usr/bin/env python3
"""Grade an Autobahn|Testsuite report (index.json) for one agent.

    summarize.py --role server|client [--agent protoswitch]
                 [--expect-cases FILE] INDEX_JSON SUMMARY_OUT

Rules:
* 1.* to 11.*: behavior == OK and behaviorClose == OK (NON-STRICT, FAILED,
  UNIMPLEMENTED, ... are misses), except the cases the suite itself grades
  only INFORMATIONAL (7.1.6, 7.13.1, 7.13.2), which pass with INFORMATIONAL
  or OK for both.
* 12.* and 13.* (permessage-deflate) like any other category: OK / OK
  (both examples negotiate compression; UNIMPLEMENTED is a miss).
* with --expect-cases (one case id a line), a case missing from the report
  is a miss, and so is a case that was not expected.

Prints one line per miss, then `<role>: N passed, N failed` (last). Writes
SUMMARY_OUT with one line per case, sorted numerically by case id:
`case_id behavior behaviorClose` (spaces inside a value, as in
`WRONG CODE`, become `_`; a missing case reads `MISSING MISSING`).
Exits 1 on any miss, 2 when the report cannot be read.
"""

import argparse
import json
import sys

OK = "OK"
INFORMATIONAL = "INFORMATIONAL"
INFORMATIONAL_CASES = {"7.1.6", "7.13.1", "7.13.2"}


def case_key(case_id):
    """'9.1.10' -> (9, 1, 10); sorts numerically by dotted components."""
    parts = []
    for p in case_id.split("."):
        try:
            parts.append((0, int(p), ""))
        except ValueError:
            parts.append((1, 0, p))
    return tuple(parts)


def column(value):
    """'WRONG CODE' -> 'WRONG_CODE': one word per column in the summary file."""
    return "_".join(str(value).split()) or "-"


def passes(case_id, behavior, behavior_close):
    if case_id in INFORMATIONAL_CASES:
        allowed = {INFORMATIONAL, OK}
        return behavior in allowed and behavior_close in allowed
    return behavior == OK and behavior_close == OK


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--role", required=True, help="label of the line printed: server or client")
    ap.add_argument("--agent", default="protoswitch")
    ap.add_argument("--expect-cases", metavar="FILE",
                    help="file with the case ids the run should have, one a line")
    ap.add_argument("index_json")
    ap.add_argument("summary_out")
    args = ap.parse_args()

    try:
        with open(args.index_json, encoding="utf-8") as f:
            index = json.load(f)
    except (OSError, ValueError) as e:
        print(f"{args.role}: cannot read report {args.index_json}: {e}", file=sys.stderr)
        return 2
    if args.agent not in index:
        agents = ", ".join(sorted(index)) or "none"
        print(f"{args.role}: agent {args.agent!r} not in {args.index_json} (agents: {agents})",
              file=sys.stderr)
        return 2
    results = index[args.agent]

    expected = None
    if args.expect_cases:
        with open(args.expect_cases, encoding="utf-8") as f:
            expected = {line.strip() for line in f if line.strip()}

    rows = []
    misses = []
    for case_id in sorted(results, key=case_key):
        r = results[case_id]
        behavior = r.get("behavior", "?")
        behavior_close = r.get("behaviorClose", "?")
        # No duration: it changes every run and would hide real changes.
        rows.append(f"{case_id} {column(behavior)} {column(behavior_close)}")
        outcome = f"behavior={behavior} behaviorClose={behavior_close}"
        if expected is not None and case_id not in expected:
            misses.append(f"{case_id} {outcome} (not expected in this run)")
        elif not passes(case_id, behavior, behavior_close):
            misses.append(f"{case_id} {outcome}")
    missing = sorted(expected - set(results), key=case_key) if expected is not None else []
    for case_id in missing:
        rows.append(f"{case_id} MISSING MISSING")
        misses.append(f"{case_id} MISSING: no result in the report")

    rows.sort(key=lambda line: case_key(line.split(" ", 1)[0]))
    with open(args.summary_out, "w", encoding="utf-8") as f:
        f.write("\n".join(rows) + "\n")

    total = len(rows)
    failed = len(misses)
    for m in sorted(misses, key=lambda line: case_key(line.split(" ", 1)[0])):
        print(f"  {args.role} miss: {m}")
    # Last, so that it is the closing line of the output.
    print(f"{args.role}: {total - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
