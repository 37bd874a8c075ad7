"""Rule mutation testing: would the test suite notice a wrong derivative?

For every *site* -- one differentiable argument of one gradient rule: every
entry of ``zygcy._core.registered()[0]`` (lazily registered scipy rules too)
and every derivative of the scalar table behind ``zygcy.math`` and
``zygcy.cmath`` -- a *mutant* replaces that argument's pullback by a wrong one:
the cotangent times 1.5, or plus 0.5 where it is zero. The mutant is applied in
a fresh pytest process (``ZYGCY_MUTANT=<site>``, read by ``tests/conftest.py``,
which re-registers the rule before any test runs) and that process runs the
tests that execute the site's pullback. A test failure kills the mutant; a
mutant that every test survives is a derivative the suite cannot tell from a
wrong one. The score is killed / total, and the goal is 100%.

Which tests execute which pullback is recorded by every full run of the suite
in ``.zygcy_coverage.json`` (see ``tests/_rulewatch.py``). Without that file the
tool first runs the suite once to make it (``--refresh`` forces this, e.g. after
adding tests); tests that failed in that run are left out, since they would
"kill" every mutant; ``--whole-suite`` ignores it and runs everything for each mutant
(slow). A site that no test runs survives without running anything.

Isolation: by default (``--batch 1``) every mutant gets its own fresh process.
``--batch K`` lets one process run K mutants one after another, re-registering
the right rule between them (faster: the imports are paid once); a mutant that
survives there is run again alone in a fresh process, and only that verdict
counts, so batching can speed the run up but never make a mutant survive.

Usage:
  python tools/mutation.py                      every mutant
  python tools/mutation.py --sample 20 --seed 3 a random sample
  python tools/mutation.py --rule numpy.arctan2 the mutants of one rule
  python tools/mutation.py --rule 'numpy.linalg.*' --rule zygcy.math.pow:1
  python tools/mutation.py --batch 8 --jobs 2   faster: 8 mutants per process
  python tools/mutation.py --list               the mutant ids, nothing run

Exit status: 0 when every mutant run was killed, 1 when some survived, 2 on errors.
"""
import argparse
import fnmatch
import json
import os
import pathlib
import random
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

ROOT = pathlib.Path(__file__).resolve().parent.parent
TESTS = ROOT / "tests"
COVERAGE_FILE = ROOT / ".zygcy_coverage.json"
sys.path.insert(0, str(TESTS))

import _rulewatch  # noqa: E402

PYTEST = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "--no-header",
          "-o", "addopts="]


class Result:
    """The outcome of one mutant: 'killed', 'survived' or 'error', and why."""

    def __init__(self, site, outcome, detail="", seconds=0.0, tests=0, fired=None):
        self.site = site
        self.outcome = outcome
        self.detail = detail
        self.seconds = seconds
        self.tests = tests          # how many tests were selected
        self.fired = fired          # how many cotangents the mutant changed (None: unknown)

    def __repr__(self):
        return "Result(%r, %r, %r)" % (self.site, self.outcome, self.detail)


# ---------------------------------------------------------------------------
# Test selection

def refresh_coverage(quiet=False):
    """Run the whole suite once (the mutation-sample test skipped) to write .zygcy_coverage.json."""
    env = dict(os.environ, ZYGCY_SKIP_MUTATION_SAMPLE="1")
    env.pop("ZYGCY_MUTANT", None)
    if not quiet:
        print("recording which tests run which rule: the whole suite, once ...", flush=True)
    proc = subprocess.run(PYTEST[:3] + ["-q", "-p", "no:cacheprovider", str(TESTS)],
                          cwd=ROOT, env=env, capture_output=True, text=True)
    if not COVERAGE_FILE.exists():
        raise RuntimeError("the suite did not write %s:\n%s" % (COVERAGE_FILE, proc.stdout[-3000:]))
    if proc.returncode != 0 and not quiet:
        print("(the suite itself failed; the coverage map is still usable)\n" + proc.stdout[-1500:])


def load_coverage(refresh=False):
    """The recorded map (``{"sites": {site: {"ran": [...], "checked": [...]}}}``),
    recorded again when it is missing or stale (the rules it names are not
    the rules registered now: a rule was added, removed or renamed)."""
    if refresh or not COVERAGE_FILE.exists() or _stale(json.loads(COVERAGE_FILE.read_text())):
        refresh_coverage()
    return json.loads(COVERAGE_FILE.read_text())


def _stale(coverage):
    return set(coverage.get("rules", ())) != set(_rulewatch.all_rule_names())


def tests_for(site, coverage):
    """The test ids that run the pullback of ``site``, checked ones first, leaving
    out tests that failed in the recorded run itself; None: all tests."""
    if coverage is None:
        return None
    entry = coverage["sites"].get(site, {})
    failed = set(coverage.get("failed", ()))
    checked = [t for t in entry.get("checked", []) if t not in failed]
    others = sorted(set(entry.get("ran", [])) - set(checked) - failed)
    return checked + others


# ---------------------------------------------------------------------------
# Running mutants

def _failed_test(output):
    for line in output.splitlines():
        if line.startswith(("FAILED ", "ERROR ")):
            return line.split(" - ")[0]
    return ""


def run_mutant(site, tests, timeout=600):
    """Run ``tests`` (None: the whole suite) in a fresh process with the mutant of ``site``."""
    if tests is not None and not tests:
        return Result(site, "survived", "no test runs this pullback", tests=0, fired=0)
    fd, report = tempfile.mkstemp(prefix="zygcy-mutant-", suffix=".json")
    os.close(fd)
    env = dict(os.environ, ZYGCY_MUTANT=site, ZYGCY_MUTANT_REPORT=report, ZYGCY_SKIP_MUTATION_SAMPLE="1")
    args = list(tests) if tests is not None else [str(TESTS)]
    start = time.time()
    try:
        proc = subprocess.run(PYTEST + args, cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        return Result(site, "error", "timed out after %ds" % timeout, time.time() - start, len(args))
    finally:
        try:
            fired = json.loads(pathlib.Path(report).read_text()).get("fired")
        except (OSError, ValueError):
            fired = None
        os.unlink(report)
    seconds = time.time() - start
    n = len(tests) if tests is not None else 0
    if proc.returncode == 1:
        return Result(site, "killed", _failed_test(proc.stdout), seconds, n, fired)
    if proc.returncode == 0:
        why = ("the mutant never changed a cotangent in these tests" if fired == 0
               else "every selected test passed with the wrong derivative")
        return Result(site, "survived", why, seconds, n, fired)
    tail = (proc.stdout + proc.stderr).strip().splitlines()[-12:]
    hint = " (stale .zygcy_coverage.json? use --refresh)" if proc.returncode == 4 else ""
    return Result(site, "error", "pytest exit %d%s:\n    %s" % (proc.returncode, hint, "\n    ".join(tail)),
                  seconds, n, fired)


def run_batch(jobs, timeout=600):
    """Run several mutants ``[(site, tests), ...]`` in one fresh process, one after
    another (``--worker``); a list of Results (an error for any the process lost)."""
    fd, path = tempfile.mkstemp(prefix="zygcy-mutants-", suffix=".json")
    os.close(fd)
    pathlib.Path(path).write_text(json.dumps(jobs))
    env = dict(os.environ, ZYGCY_MUTANT="batch", ZYGCY_SKIP_MUTATION_SAMPLE="1")
    env.pop("ZYGCY_MUTANT_REPORT", None)
    start = time.time()
    try:
        proc = subprocess.run([sys.executable, __file__, "--worker", path], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=timeout * len(jobs))
        done = json.loads(pathlib.Path(path).read_text())
        output = proc.stdout + proc.stderr
    except (subprocess.TimeoutExpired, ValueError) as e:
        done, output = [], repr(e)
    finally:
        os.unlink(path)
    got = {d["site"]: Result(**d) for d in done if isinstance(d, dict) and "outcome" in d}
    lost = time.time() - start
    return [got.get(site) or Result(site, "error", "the batch process failed: " + output[-800:], lost)
            for site, _ in jobs]


def _worker(path):
    """``--worker PATH``: run the mutants listed in PATH in this process, write the results there."""
    import pytest

    class Failures:
        def __init__(self):
            self.first = ""

        def pytest_runtest_logreport(self, report):
            if report.failed and not self.first:
                self.first = ("FAILED " if report.when == "call" else "ERROR ") + report.nodeid

    jobs = json.loads(pathlib.Path(path).read_text())
    out = []
    for site, tests in jobs:
        if tests is not None and not tests:
            out.append(vars(Result(site, "survived", "no test runs this pullback", tests=0, fired=0)))
            continue
        start = time.time()
        mutant = _rulewatch.apply_mutant(site)
        failures = Failures()
        try:
            rc = pytest.main(PYTEST[3:] + ["-qq", "--disable-warnings"] + (tests or [str(TESTS)]),
                             plugins=[failures])
        finally:
            mutant.restore()
        rc = int(rc)
        n = len(tests) if tests is not None else 0
        if rc == 1:
            r = Result(site, "killed", failures.first, time.time() - start, n, mutant.fired)
        elif rc == 0:
            r = Result(site, "survived", "every selected test passed with the wrong derivative",
                       time.time() - start, n, mutant.fired)
        else:
            r = Result(site, "error", "pytest exit %d" % rc, time.time() - start, n, mutant.fired)
        out.append(vars(r))
    pathlib.Path(path).write_text(json.dumps(out))


def run(sites, coverage, jobs=2, timeout=600, progress=print, batch=1):
    """Run the mutants of ``sites`` (``jobs`` processes at a time, ``batch`` mutants
    per process, survivors of a batch again alone); a list of Results in order."""
    results = {}
    total = len(sites)

    def report(r):
        results[r.site] = r
        if progress:
            progress("[%d/%d] %-45s %-8s %5.1fs  %s" % (len(results), total, r.site, r.outcome, r.seconds,
                                                       r.detail.splitlines()[0] if r.detail else ""))

    def alone(site):
        report(run_mutant(site, tests_for(site, coverage), timeout))

    def together(chunk):
        for r in run_batch([(s, tests_for(s, coverage)) for s in chunk], timeout):
            if r.outcome == "killed" or r.detail == "no test runs this pullback":
                report(r)
            else:
                alone(r.site)         # only a fresh process's verdict counts

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        if batch <= 1:
            list(pool.map(alone, sites))
        else:
            chunks = [sites[i:i + batch] for i in range(0, len(sites), batch)]
            list(pool.map(together, chunks))
    return [results[s] for s in sites]


def select(all_sites, rules=(), sample=None, seed=0):
    """The sites named by ``rules`` (rule names, site ids or glob patterns; all when
    empty), then a random ``sample`` of them drawn with ``seed``."""
    chosen = list(all_sites)
    if rules:
        def wanted(site):
            name = _rulewatch.rule_of_site(site)[0]
            return any(fnmatch.fnmatchcase(site, p) or fnmatch.fnmatchcase(name, p) for p in rules)
        chosen = [s for s in chosen if wanted(s)]
    if sample is not None and sample < len(chosen):
        chosen = sorted(random.Random(seed).sample(chosen, sample), key=chosen.index)
    return chosen


def summary(results):
    """The score line and the survivors (and errors), as text."""
    killed = [r for r in results if r.outcome == "killed"]
    lines = ["mutation score: %d / %d killed (%.1f%%)" % (len(killed), len(results),
                                                         100.0 * len(killed) / max(1, len(results)))]
    for kind in ("survived", "error"):
        bad = sorted((r for r in results if r.outcome == kind), key=lambda r: r.site)
        if bad:
            lines.append("%s (%d):" % (kind, len(bad)))
            lines.extend("  %s: %s (%d tests)" % (r.site, r.detail, r.tests) for r in bad)
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python tools/mutation.py", description=__doc__,
        epilog="See the module docstring (tools/mutation.py) for how mutants are made and run.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sample", type=int, metavar="N", help="run a random sample of N mutants")
    parser.add_argument("--seed", type=int, default=0, metavar="S", help="the sample's random seed (0)")
    parser.add_argument("--rule", action="append", default=[], metavar="NAME",
                        help="only the mutants of this rule (a name such as numpy.arctan2, a site "
                             "such as numpy.arctan2:1, or a glob); repeatable")
    parser.add_argument("--jobs", type=int, default=2, metavar="J", help="processes run at once (2)")
    parser.add_argument("--batch", type=int, default=1, metavar="K",
                        help="mutants per process (1: each alone); survivors are rerun alone")
    parser.add_argument("--worker", metavar="PATH", help=argparse.SUPPRESS)
    parser.add_argument("--timeout", type=int, default=600, help="seconds per mutant (600)")
    parser.add_argument("--refresh", action="store_true", help="rerun the suite to record coverage first")
    parser.add_argument("--whole-suite", action="store_true", help="run every test for every mutant")
    parser.add_argument("--list", action="store_true", help="print the selected mutant ids and exit")
    parser.add_argument("--json", metavar="PATH", help="also write the results to PATH")
    opts = parser.parse_args(argv)
    if opts.worker:
        _worker(opts.worker)
        return 0

    chosen = select(_rulewatch.sites(), opts.rule, opts.sample, opts.seed)
    if opts.list:
        print("\n".join(chosen))
        return 0
    if not chosen:
        parser.error("no mutant matches %s" % opts.rule)
    coverage = None if opts.whole_suite else load_coverage(opts.refresh)
    start = time.time()
    results = run(chosen, coverage, jobs=opts.jobs, timeout=opts.timeout, batch=opts.batch)
    print()
    print(summary(results))
    print("(%d mutants in %.0fs)" % (len(results), time.time() - start))
    if opts.json:
        pathlib.Path(opts.json).write_text(json.dumps(
            [vars(r) for r in sorted(results, key=lambda r: r.site)], indent=1))
    if any(r.outcome == "error" for r in results):
        return 2
    return 0 if all(r.outcome == "killed" for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
