"""A random sample of rule mutants must be killed (the whole set: tools/mutation.py).

A mutant makes one argument's pullback of one rule wrong (its cotangent times
1.5, or plus 0.5 where zero) in a fresh pytest process that runs the tests that
execute that pullback; some test must fail. Conftest orders this module last,
so that in a full run the tests of each mutant come from this very session's
record; run alone, it reads .zygcy_coverage.json (making it first if missing).

The sample changes daily (the seed is the day number) and is printed; set
ZYGCY_MUTATION_SEED to choose it, ZYGCY_MUTATION_SAMPLE for its size (>= 20),
or ZYGCY_SKIP_MUTATION_SAMPLE=1 to skip this test.
"""
import importlib.util
import os
import pathlib
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
SAMPLE = max(20, int(os.environ.get("ZYGCY_MUTATION_SAMPLE", "20")))


def _mutation_tool():
    spec = importlib.util.spec_from_file_location("zygcy_mutation_tool", ROOT / "tools" / "mutation.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_random_sample_of_mutants_is_killed(rule_watch):
    if os.environ.get("ZYGCY_MUTANT") or os.environ.get("ZYGCY_SKIP_MUTATION_SAMPLE"):
        pytest.skip("inside a mutation run")
    tool = _mutation_tool()
    seed = int(os.environ.get("ZYGCY_MUTATION_SEED", int(time.time() // 86400)))
    sites = tool.select(tool._rulewatch.sites(), sample=SAMPLE, seed=seed)
    assert len(sites) >= 20
    coverage = rule_watch.coverage() if rule_watch.full else tool.load_coverage()
    start = time.time()
    results = tool.run(sites, coverage, jobs=2, timeout=300, progress=None)
    report = tool.summary(results)
    print("\nmutation sample, seed %d (%.0fs):\n%s" % (seed, time.time() - start, report))
    bad = [r for r in results if r.outcome != "killed"]
    assert not bad, ("mutants not killed (reproduce: python tools/mutation.py --sample %d --seed %d):\n%s"
                     % (SAMPLE, seed, report))
