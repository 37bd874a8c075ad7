"""Smoke test of the benchmarks: every asv benchmark method runs once on tiny
sizes, and the comparison script runs end to end. Nothing here is timed and no
speed is asserted; a failure means a benchmark is broken, not slow."""
import inspect
import os
import sys

import pytest

ROOT = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "asv_benchmarks")
sys.path.insert(0, ROOT)

from benchmarks import bench_arrays, bench_forward, bench_models, bench_scalar, common  # noqa: E402

import compare  # noqa: E402

MODULES = [bench_scalar, bench_arrays, bench_models]
FORWARD_MODULES = [bench_forward]      # forward mode and higher order: forward_workload names
PREFIXES = ("time_", "peakmem_", "mem_", "track_")


def benchmark_classes(modules=MODULES):
    return [cls for mod in modules for name, cls in vars(mod).items()
            if inspect.isclass(cls) and not name.startswith("_") and cls.__module__ == mod.__name__]


def methods(cls):
    return sorted(name for name in dir(cls) if name.startswith(PREFIXES))


CASES = [(cls, m) for cls in benchmark_classes(MODULES + FORWARD_MODULES) for m in methods(cls)]


@pytest.mark.parametrize("cls, method", CASES, ids=["%s.%s" % (c.__name__, m) for c, m in CASES])
def test_benchmark_runs_once(cls, method):
    for p in cls.smoke_params:
        bench = cls()
        bench.setup(p)
        getattr(bench, method)(p)
        if hasattr(bench, "teardown"):
            bench.teardown(p)


def test_every_workload_has_a_benchmark_and_a_row():
    classes = benchmark_classes()
    assert sorted(c.workload for c in classes) == sorted(common.WORKLOADS)
    for cls in classes:
        assert cls.params and len(cls.param_names) == 1, cls.__name__   # one size parameter each
        assert any(m.startswith("time_primal") for m in methods(cls)), cls.__name__
    assert {w for _, w, _ in compare.rows(quick=True)} == set(common.WORKLOADS)
    for lib in ("primal", "zygcy"):
        assert set(compare.MAKERS[lib]()) == set(common.WORKLOADS), lib


def test_every_forward_workload_has_a_benchmark():
    classes = benchmark_classes(FORWARD_MODULES)
    assert {c.forward_workload for c in classes} <= set(common.FORWARD_WORKLOADS)


def test_gradient_benchmarks_time_both_halves():
    for cls in benchmark_classes():
        if issubclass(cls, common._GradientSuite):
            assert {"time_primal", "time_gradient", "time_forward", "time_backward"} <= set(methods(cls))


def test_compare_quick_writes_table_and_chart(tmp_path, capsys):
    """compare.py end to end for zygcy alone (the peers are optional and not needed here)."""
    md, png = tmp_path / "table.md", tmp_path / "chart.png"
    try:
        import matplotlib  # noqa: F401
        args = ["--png", str(png)]
    except ImportError:
        args = []
    assert compare.main(["--quick", "--libs", "zygcy", "--out", str(md)] + args) == 0
    text = md.read_text()
    for label, _, _ in compare.rows(quick=True):
        line = next(x for x in text.splitlines() if x.startswith("| %s |" % label))
        assert "error" not in line and "wrong" not in line, line
    if args:
        assert png.stat().st_size > 1000


def test_compare_marks_a_wrong_gradient_and_an_error():
    def bad(d):
        return lambda: (0.0,)

    def broken(d):
        raise RuntimeError("boom")

    ok = compare.run_cell(compare.zygcy_makers(), "horner",
                          lambda: compare.rows(quick=True)[1][2](), quick=True)
    assert ok.status == "ok"
    assert compare.max_error((0.0,), ok.grads) is not None
    assert compare.max_error(ok.grads, ok.grads) is None
    cell = compare.run_cell({"horner": broken}, "horner", lambda: None, quick=True)
    assert cell.status == "error" and "boom" in cell.note
