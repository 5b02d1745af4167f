#!/usr/bin/env python3
"""Differential tests: doorman's /auth/ against Djoser 2.3.5.

  run.py --capture                          Djoser only -> djoser-capture.json
  run.py --compare --doorman-bin PATH       both, side by side -> report.txt
  run.py --list                             the scenarios, by profile

See README.md. Every server started here is stopped before exit, also on
errors and Ctrl-C.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import OrderedDict
from pathlib import Path

import harness
from harness import (DjoserTarget, DoormanTarget, HarnessError, compare_outcomes, classify,
                     endpoint_of, render_json, run_scenario, verdict)
from scenarios import EXPECTED_DIFFERENCES, PROFILES, SCENARIOS

HERE = Path(__file__).resolve().parent
DEFAULT_PYTHON = "/tmp/diffenv/bin/python"
DEFAULT_SECRET = "doorman-differential-tests-secret-key-0123456789"
DEFAULT_DOORMAN_ENV = {
    # Weak Argon2 parameters: no effect on the wire, much faster debug builds.
    "DOORMAN_SECURITY__DANGER_FAST_HASHING_FOR_TESTS": "true",
}


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--capture", action="store_true", help="run against Djoser only")
    mode.add_argument("--compare", action="store_true", help="run against Djoser and doorman")
    mode.add_argument("--list", action="store_true", help="list scenarios and exit")
    p.add_argument("--doorman-bin", type=Path, help="doorman binary (for --compare)")
    p.add_argument("--doorman-env", action="append", default=[], metavar="KEY=VALUE",
                   help="extra environment for doorman (repeatable); KEY= removes a default")
    p.add_argument("--python", default=DEFAULT_PYTHON,
                   help=f"interpreter with requirements.txt installed (default {DEFAULT_PYTHON})")
    p.add_argument("--secret-key", default=DEFAULT_SECRET, help="shared SECRET_KEY")
    p.add_argument("--profile", action="append", default=[],
                   help="only these profiles (repeatable)")
    p.add_argument("--only", action="append", default=[], metavar="GLOB",
                   help="only scenarios whose name matches (repeatable)")
    p.add_argument("--fast-hashing", action="store_true",
                   help="MD5 hasher on the Django side (quick iterations; not for captures)")
    p.add_argument("--out", type=Path, default=None,
                   help="capture file (--capture; default djoser-capture.json, or "
                        "djoser-capture.partial.json with --only/--profile)")
    p.add_argument("--report", type=Path, default=HERE / "report.txt",
                   help="report file (--compare)")
    p.add_argument("--strict-order", action="store_true",
                   help="treat key-order and Allow-order differences as failures")
    p.add_argument("--keep-workdir", action="store_true", help="keep databases, mail and logs")
    p.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args(argv)
    if args.compare and not args.doorman_bin:
        p.error("--compare needs --doorman-bin PATH")
    if args.out is None:
        # A filtered run must not overwrite the committed, complete capture.
        partial = bool(args.only or args.profile)
        args.out = HERE / ("djoser-capture.partial.json" if partial else "djoser-capture.json")
    return args


def selected(args) -> "OrderedDict[str, list]":
    by_profile: OrderedDict[str, list] = OrderedDict((name, []) for name in PROFILES)
    for scn in SCENARIOS:
        if args.profile and scn.profile not in args.profile:
            continue
        if args.only and not any(fnmatch.fnmatchcase(scn.name, g) for g in args.only):
            continue
        by_profile[scn.profile].append(scn)
    return OrderedDict((k, v) for k, v in by_profile.items() if v)


def _on_signal(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


# ---------------------------------------------------------------------------
# capture
# ---------------------------------------------------------------------------


def capture(args, workdir: Path) -> int:
    groups = selected(args)
    versions = harness.django_versions(args.python)
    print(f"Djoser side: {json.dumps(versions)}")
    template = harness.prepare_djoser_template(args.python, workdir, args.secret_key,
                                               args.fast_hashing)
    scenarios_out: dict = {}
    failures = []
    started = time.monotonic()
    for prof, scns in groups.items():
        pdir = workdir / prof
        pdir.mkdir()
        dj = DjoserTarget(pdir / "djoser", args.secret_key, prof, PROFILES[prof], args.python,
                          template, args.fast_hashing)
        t0 = time.monotonic()
        try:
            dj.start()
            for scn in scns:
                out = run_scenario(scn, dj)
                if out.error or out.setup_error:
                    failures.append(f"{scn.name}: {out.error or out.setup_error}")
                    print(f"  ERROR {scn.name}: {out.error or out.setup_error}")
                    continue
                scenarios_out[scn.name] = scenario_record(scn, out)
                if args.verbose:
                    print(f"  {scn.name}: {[r['status'] for r in out.responses]}")
        finally:
            dj.stop()
        print(f"profile {prof}: {len(scns)} scenarios in {time.monotonic() - t0:.1f}s")
    elapsed = time.monotonic() - started

    doc = OrderedDict()
    doc["about"] = (
        "Responses of Djoser 2.3.5 (reference project in tests/differential/djoser_project) "
        "to the scenarios in tests/differential/scenarios.py, made by `run.py --capture`. "
        "Volatile values are placeholders: <who.attr> for values the harness knows (tokens, "
        "JWTs, uids, link tokens, ids of users it registered), <kind#n> for unknown ones "
        "numbered by first appearance within a scenario (equal numbers = equal values), "
        "<base> for http://127.0.0.1:PORT. Usernames are literal: <who>_<tag> with a tag "
        "derived from the scenario name. key_order lists the keys of every JSON object in "
        "wire order. Status, body and the headers Content-Type, Allow, WWW-Authenticate, "
        "Retry-After (and Location) are recorded; 'mail' lists e-mails caused by the steps."
    )
    doc["versions"] = versions
    doc["settings"] = {
        "secret_key": args.secret_key,
        "fast_hashing": args.fast_hashing,
        "common_env": harness.COMMON_ENV,
        "profiles": {k: harness.profile_env(v) for k, v in PROFILES.items() if k in groups},
    }
    doc["scenarios"] = scenarios_out
    doc["distinct_responses_by_endpoint"] = distinct_responses(scenarios_out)
    doc["message_strings"] = message_strings(scenarios_out)
    doc["allow_headers"] = header_values(scenarios_out, "allow")
    doc["www_authenticate_values"] = header_values(scenarios_out, "www-authenticate")
    doc["package_messages"] = package_messages(args.python)
    args.out.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n")
    print(f"\n{len(scenarios_out)} scenarios captured in {elapsed:.1f}s -> {args.out}")
    print_distinct(doc["distinct_responses_by_endpoint"])
    if failures:
        print(f"\n{len(failures)} scenario(s) could not run on Djoser:")
        for f in failures:
            print("  " + f)
        return 2
    return 0


def scenario_record(scn, out) -> dict:
    rec = OrderedDict()
    rec["profile"] = scn.profile
    if scn.doc:
        rec["doc"] = scn.doc
    if out.setup:
        rec["setup"] = out.setup
    rec["steps"] = [{"request": r.describe(), "response": resp}
                    for r, resp in zip(scn.steps, out.responses)]
    if out.mail:
        rec["mail"] = out.mail
    return rec


def distinct_responses(scenarios: dict) -> dict:
    """Every distinct non-2xx answer, grouped by endpoint and method."""
    groups: dict = {}
    for name, rec in scenarios.items():
        for step in rec["steps"]:
            resp = step["response"]
            if resp["status"] < 300:
                continue
            ep = endpoint_of(step["request"]["path"].split("?")[0])
            key = f"{step['request']['method']} {ep}"
            body = resp["body"] if resp["body"] is not None else resp.get("body_text", "")
            ident = json.dumps([resp["status"], body, resp["headers"]], sort_keys=True)
            bucket = groups.setdefault(key, {})
            if ident not in bucket:
                bucket[ident] = {"status": resp["status"], "body": body,
                                 "headers": resp["headers"], "scenarios": []}
            bucket[ident]["scenarios"].append(f"{name} [{rec['profile']}]")
    out = OrderedDict()
    for key in sorted(groups, key=lambda k: (k.split(" ", 1)[1], k)):
        out[key] = sorted(groups[key].values(), key=lambda d: (d["status"], json.dumps(d["body"])))
    return out


def message_strings(scenarios: dict) -> list:
    """Every string found in an error body (detail texts, field messages)."""
    found = set()

    def walk(v):
        if isinstance(v, str):
            found.add(v)
        elif isinstance(v, list):
            for x in v:
                walk(x)
        elif isinstance(v, dict):
            for x in v.values():
                walk(x)

    for rec in scenarios.values():
        for step in rec["steps"]:
            if step["response"]["status"] >= 400 and step["response"]["body"] is not None:
                walk(step["response"]["body"])
    return sorted(s for s in found if not s.startswith("<"))


def header_values(scenarios: dict, header: str) -> dict:
    out: dict = {}
    for rec in scenarios.values():
        for step in rec["steps"]:
            value = step["response"]["headers"].get(header)
            if value is None:
                continue
            ep = f"{step['request']['method']} " + endpoint_of(step["request"]["path"].split("?")[0])
            out.setdefault(value, set()).add(ep)
    return {k: sorted(v) for k, v in sorted(out.items())}


def package_messages(python: str) -> dict:
    try:
        done = subprocess.run([python, str(HERE / "package_messages.py")], capture_output=True,
                              text=True, timeout=120, cwd=HERE, stdin=subprocess.DEVNULL)
        if done.returncode == 0:
            return json.loads(done.stdout)
        return {"error": done.stderr[-1000:]}
    except (subprocess.TimeoutExpired, ValueError) as exc:
        return {"error": str(exc)}


def print_distinct(groups: dict) -> None:
    print("\nDistinct non-2xx Djoser answers by endpoint:")
    for key, items in groups.items():
        print(f"\n  {key}")
        for it in items:
            hdrs = ", ".join(f"{k}: {v}" for k, v in it["headers"].items()
                             if k in ("www-authenticate", "allow", "location"))
            body = (" ".join(it["body"].split())[:90] if isinstance(it["body"], str)
                    else render_json(it["body"]))
            print(f"    {it['status']} {body}" + (f"   [{hdrs}]" if hdrs else ""))


# ---------------------------------------------------------------------------
# compare
# ---------------------------------------------------------------------------


def doorman_env(args) -> dict:
    env = dict(DEFAULT_DOORMAN_ENV)
    for item in args.doorman_env:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--doorman-env expects KEY=VALUE, got {item!r}")
        if value == "":
            env.pop(key, None)
        else:
            env[key] = value
    return env


def compare(args, workdir: Path) -> int:
    groups = selected(args)
    binary = args.doorman_bin.resolve()
    if not binary.is_file():
        raise SystemExit(f"no doorman binary at {binary}")
    # A private copy: a concurrent `cargo build` must not swap it mid-run.
    local_bin = workdir / "doorman"
    shutil.copy2(binary, local_bin)
    extra_env = doorman_env(args)
    versions = harness.django_versions(args.python)
    template = harness.prepare_djoser_template(args.python, workdir, args.secret_key,
                                               args.fast_hashing)
    results = []  # (scenario, verdict, diffs, dj_out, dm_out)
    notes = []
    started = time.monotonic()
    for prof, scns in groups.items():
        pdir = workdir / prof
        pdir.mkdir()
        dj = DjoserTarget(pdir / "djoser", args.secret_key, prof, PROFILES[prof], args.python,
                          template, args.fast_hashing)
        dm = DoormanTarget(pdir / "doorman", args.secret_key, prof, PROFILES[prof], local_bin,
                           extra_env)
        t0 = time.monotonic()
        dm_down = None
        try:
            dj.start()
            try:
                dm.start()
            except HarnessError as exc:
                dm_down = f"doorman did not start for profile {prof}: {exc}"
                notes.append(dm_down)
            if dm.start_error:
                notes.append(f"[{prof}] {dm.start_error}")
            for scn in scns:
                dj_out = run_scenario(scn, dj)
                if dj_out.error or dj_out.setup_error:
                    raise HarnessError(f"{scn.name} failed on Djoser: "
                                       f"{dj_out.error or dj_out.setup_error}")
                if dm_down:
                    dm_out = harness.Outcome(error=dm_down.splitlines()[0])
                else:
                    want_mail = scn.mail or bool(dj_out.mail)
                    dm_out = run_scenario(scn, dm, wait_mail_for=len(dj_out.mail or []),
                                          collect_mail=want_mail)
                    if not want_mail:
                        dj_out.mail = None
                    if dm_out.error and not dm.process.alive():
                        dm_down = f"doorman exited during {scn.name} (profile {prof})"
                        notes.append(dm_down + ":\n" + dm.process.tail(15))
                diffs = compare_outcomes(dj_out, dm_out)
                if args.strict_order:
                    for d in diffs:
                        d.severity = "error"
                classify(scn.name, diffs, dj_out, dm_out, EXPECTED_DIFFERENCES)
                v = verdict(diffs)
                results.append((scn, v, diffs, dj_out, dm_out))
                if args.verbose or v == "FAIL":
                    print(f"  {v:8} {scn.name}")
        finally:
            dj.stop()
            dm.stop()
        print(f"profile {prof}: {len(scns)} scenarios in {time.monotonic() - t0:.1f}s")
    elapsed = time.monotonic() - started
    text = render_report(results, notes, versions, binary, elapsed, extra_env)
    args.report.write_text(text)
    summary = text.split("\n\n", 1)[0]
    print("\n" + summary)
    print(f"\nfull report: {args.report}")
    return 1 if any(v == "FAIL" for _, v, *_ in results) else 0


def _short(value, limit=600) -> str:
    s = " ".join(value.split()) if isinstance(value, str) else render_json(value)
    return s if len(s) <= limit else s[:limit] + " …"


def render_report(results, notes, versions, binary, elapsed, extra_env) -> str:
    counts = {k: sum(1 for _, v, *_ in results if v == k)
              for k in ("PASS", "WARN", "EXPECTED", "FAIL")}
    lines = [
        f"doorman vs Djoser {versions.get('djoser')} differential report — "
        f"{len(results)} scenarios in {elapsed:.0f}s: "
        f"{counts['PASS']} pass, {counts['WARN']} pass with warnings, "
        f"{counts['EXPECTED']} expected differences, {counts['FAIL']} FAIL",
        "",
        f"doorman binary: {binary}",
        f"doorman extra env: {extra_env}",
        f"Djoser side: {json.dumps(versions)}",
    ]
    if notes:
        lines += ["", "NOTES"] + ["  " + n.replace("\n", "\n    ") for n in notes]

    by_entry: dict = {}
    for scn, v, diffs, *_ in results:
        for d in diffs:
            if d.allowed_by:
                by_entry.setdefault(d.allowed_by, set()).add(scn.name)

    def section(title, wanted):
        chosen = [r for r in results if r[1] == wanted]
        if not chosen:
            return
        lines.extend(["", "=" * 78, f"{title} ({len(chosen)})", "=" * 78])
        for scn, v, diffs, dj, dm in chosen:
            lines.append(f"\n{v} {scn.name}   [profile {scn.profile}]")
            if scn.doc:
                lines.append(f"  ({scn.doc})")
            for d in diffs:
                lines.extend(describe_diff(scn, d))

    section("UNEXPECTED DIFFERENCES", "FAIL")
    section("EXPECTED DIFFERENCES (allow-listed)", "EXPECTED")
    section("WARNINGS (key order / Allow order only)", "WARN")
    if by_entry:
        lines.extend(["", "=" * 78, "ALLOW-LIST ENTRIES USED", "=" * 78])
        reasons = {e.id: e.reason for e in EXPECTED_DIFFERENCES}
        for k, names in sorted(by_entry.items()):
            lines.append(f"\n{k}: {reasons.get(k, '')}\n  used by: {', '.join(sorted(names))}")
    passed = [scn.name for scn, v, *_ in results if v == "PASS"]
    if passed:
        lines.extend(["", "=" * 78, f"PASS ({len(passed)})", "=" * 78, "  " + ", ".join(passed)])
    return "\n".join(lines) + "\n"


def describe_diff(scn, d) -> list:
    where = ""
    if d.step is not None and d.step < len(scn.steps):
        r = scn.steps[d.step]
        where = f"step {d.step + 1}: {r.method} {r.full_path()} "
        body = r.describe()
        for k in ("json", "form", "multipart", "raw"):
            if k in body:
                where += _short(body[k], 200) + " "
        if r.headers:
            where += f"headers={_short(body['headers'], 200)} "
    tag = f"[expected: {d.allowed_by}] " if d.allowed_by else ""
    tag += "[warning] " if d.severity == "warning" else ""
    out = [f"  - {tag}{d.aspect}" + (f"  ({where.strip()})" if where else "")]
    if d.aspect in ("setup", "error"):
        out.append(f"      doorman: {_short(d.doorman)}")
        return out
    out.append(f"      djoser : {_short(d.djoser)}")
    out.append(f"      doorman: {_short(d.doorman)}")
    if d.note:
        out.append(f"      note   : {d.note}")
    return out


# ---------------------------------------------------------------------------


def main(argv=None) -> int:
    args = parse_args(argv if argv is not None else sys.argv[1:])
    if args.list:
        for prof, scns in selected(args).items():
            print(f"{prof} ({len(scns)}): {harness.profile_env(PROFILES[prof])}")
            for s in scns:
                print(f"  {s.name}")
        print(f"\n{sum(len(v) for v in selected(args).values())} scenarios, "
              f"{len(EXPECTED_DIFFERENCES)} allow-list entries")
        return 0
    if not Path(args.python).exists():
        raise SystemExit(f"{args.python} not found: create the venv, see README.md")
    signal.signal(signal.SIGTERM, _on_signal)
    workdir = Path(tempfile.mkdtemp(prefix="doorman-diff-"))
    try:
        return capture(args, workdir) if args.capture else compare(args, workdir)
    except HarnessError as exc:
        print(f"\nharness error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    finally:
        harness.stop_all()
        if args.keep_workdir:
            print(f"work directory kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
