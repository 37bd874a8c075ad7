"""Smoke test of the benchmarks: every asv benchmark method runs once on tiny
sizes, and the comparison script runs end to end. Nothing here is timed and no
speed is asserted; a failure means a benchmark is broken, not slow."""
import inspect
import os
import re
import sys

import numpy as np
import pytest

ROOT = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "asv_benchmarks")
sys.path.insert(0, ROOT)

from benchmarks import bench_arrays, bench_forward, bench_models, bench_scalar, bench_sparse, common  # noqa: E402

import compare  # noqa: E402

MODULES = [bench_scalar, bench_arrays, bench_models]
FORWARD_MODULES = [bench_forward]      # forward mode and higher order: forward_workload names
SPARSE_MODULES = [bench_sparse]        # scipy.sparse (skipped without scipy)
PREFIXES = ("time_", "peakmem_", "mem_", "track_")


def benchmark_classes(modules=MODULES):
    return [cls for mod in modules for name, cls in vars(mod).items()
            if inspect.isclass(cls) and not name.startswith("_") and cls.__module__ == mod.__name__]


def methods(cls):
    return sorted(name for name in dir(cls) if name.startswith(PREFIXES))


CASES = [(cls, m) for cls in benchmark_classes(MODULES + FORWARD_MODULES + SPARSE_MODULES)
         for m in methods(cls)]


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


def test_every_array_workload_has_a_gradient_by_hand():
    """A hand-written numpy gradient for each array workload, in compare.py's column and
    beside zygcy's gradient in its asv class, in time and in peak memory."""
    assert set(common.ARRAY_WORKLOADS) <= set(common.WORKLOADS)
    assert set(compare.MAKERS["numpy_by_hand"]()) == set(common.ARRAY_WORKLOADS)
    assert set(compare.MAKERS["numpy_by_hand_inplace"]()) == {"elementwise"}
    for cls in benchmark_classes():
        if cls.workload not in common.ARRAY_WORKLOADS:
            continue
        ms = set(methods(cls))
        if issubclass(cls, common._GradientSuite):
            assert {"time_gradient_by_hand", "peakmem_gradient", "peakmem_gradient_by_hand"} <= ms, cls.__name__
        else:       # ParamsStep times the step (gradient and update) under both
            assert {"time_step_by_hand", "peakmem_step", "peakmem_step_by_hand"} <= ms, cls.__name__
    assert {"time_gradient_by_hand_inplace", "track_peak_bytes_gradient",
            "track_peak_bytes_gradient_by_hand"} <= set(methods(bench_arrays.Elementwise))


def _central_differences(f, args, eps=1e-6):
    """The gradient of ``f(*args)`` in each of ``args`` (float arrays), by central differences."""
    out = []
    for k, a in enumerate(args):
        g = np.zeros_like(a)
        for i in np.ndindex(a.shape):
            up, down = [x.copy() for x in args], [x.copy() for x in args]
            up[k][i] += eps
            down[k][i] -= eps
            g[i] = (f(*up) - f(*down)) / (2 * eps)
        out.append(g)
    return out


def _tiny_by_hand_cases():
    (W1, b1, W2, b2), (X, y) = common.mlp_data(batch=4, n_in=3, n_hidden=5)
    (W, U, b), (h0, xs) = common.rnn_data(steps=5)
    (Wl, bl), (Xl, yl) = common.params_data(batch=4)
    x = common.elementwise_data(20)
    return {
        "mlp": (common.mlp_grad_by_hand, lambda *p: common.mlp_loss(*p, X, y), [W1, b1, W2, b2], (X, y)),
        "elementwise": (common.elementwise_grad_by_hand, common.elementwise, [x], ()),
        "elementwise, in place": (common.elementwise_grad_by_hand_inplace, common.elementwise, [x], ()),
        "index_loop": (common.index_loop_grad_by_hand, common.index_loop, [common.index_data(10)], ()),
        "rnn": (common.rnn_grad_by_hand, lambda *p: common.rnn_loss(*p, h0, xs), [W, U, b], (h0, xs)),
        "params_step": (common.linear_grad_by_hand, lambda *p: common.linear_loss(*p, Xl, yl), [Wl, bl], (Xl, yl)),
    }


def test_jvp_by_hand_is_right():
    """The hand-written forward-mode floor of the elementwise jvp row against Richardson
    central differences along the tangent, and its value against the primal's."""
    import zygcy
    x = common.elementwise_data(50)
    (t,) = common.tangents_like([x])
    y, dy = common.elementwise_jvp_by_hand(x, t)
    assert np.allclose(y, common.elementwise(x), rtol=1e-12)
    f = lambda s: common.elementwise(x + s * t)  # noqa: E731
    d = lambda h: (f(h) - f(-h)) / (2 * h)  # noqa: E731
    ref = (4 * d(1e-4) - d(2e-4)) / 3
    assert np.isclose(dy, ref, rtol=1e-8), (dy, ref)
    assert np.isclose(dy, zygcy.jvp(common.elementwise, (x,), (t,))[1], rtol=1e-12)


@pytest.mark.parametrize("case", sorted(_tiny_by_hand_cases()))
def test_gradient_by_hand_is_right(case):
    """Each hand-written gradient against central differences (not only against zygcy, which
    compare.py checks it with: a bug in both would otherwise pass) and its value against the
    primal's."""
    import zygcy
    by_hand, f, params, data = _tiny_by_hand_cases()[case]
    value, grads = by_hand(*params, *data)
    assert np.allclose(value, f(*params), rtol=1e-12)
    ref = _central_differences(f, params)
    assert len(grads) == len(ref)
    for g, r, p in zip(grads, ref, params):
        assert g.shape == p.shape
        assert np.allclose(g, r, rtol=1e-6, atol=1e-8), (case, np.max(np.abs(g - r)))
    assert compare.max_error(grads, zygcy.gradient(f, *params)) is None


def test_params_step_by_hand_matches_zygcy_step():
    (W, b), (X, y) = common.params_data(batch=4)
    Wz, bz, ps = common.params_model(W.copy(), b.copy())
    Wh, bh = W.copy(), b.copy()
    for _ in range(3):
        assert compare.max_error(common.params_step_by_hand(Wh, bh, X, y),
                                 common.params_step(ps, Wz, bz, X, y)) is None
    assert np.allclose(Wh, Wz) and np.allclose(bh, bz) and not np.allclose(Wh, W)


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
    libs = "zygcy,numpy_by_hand,numpy_by_hand_inplace"
    assert compare.main(["--quick", "--libs", libs, "--out", str(md)] + args) == 0
    text = md.read_text()
    head = next(x for x in text.splitlines() if x.startswith("| workload |"))
    assert "numpy (by hand)" in head and compare.RATIO_COLUMN in head, head
    for label, workload, _ in compare.rows(quick=True):
        line = next(x for x in text.splitlines() if x.startswith("| %s |" % label))
        assert "error" not in line and "wrong" not in line and "n/a" not in line, line
        if workload in common.ARRAY_WORKLOADS:      # the ratio column (the last one here) is filled
            assert re.match(r"[0-9.e+-]+x", line.rstrip(" |").rsplit("|", 1)[-1].strip()), line
    assert "zygcy / numpy by hand: " in text
    assert "| peak memory of one call |" in text
    assert "numpy build: numpy %s" % np.__version__ in text
    assert "OPENBLAS_CORETYPE" in text
    out = capsys.readouterr().out
    assert out.startswith("- numpy build:"), out[:200]      # the header, before anything is timed
    if args:
        assert png.stat().st_size > 1000


def test_compare_marks_a_wrong_gradient_by_hand(monkeypatch):
    """A hand-written gradient that differs from zygcy's is `wrong` and not timed, and so is its
    ratio; a hand-written value that differs from the primal's is `wrong` too."""
    right = common.mlp_grad_by_hand

    def bad_gradient(*a):
        value, grads = right(*a)
        return value, (grads[0] * 1.01,) + grads[1:]

    monkeypatch.setattr(common, "mlp_grad_by_hand", bad_gradient)
    table_rows, cells, _ = compare.run(["primal", "zygcy", "numpy_by_hand"], {"mlp"}, True, log=lambda *a: None)
    (label, _, _), = table_rows
    assert cells[label, "numpy_by_hand"].status == "wrong" and cells[label, "numpy_by_hand"].seconds is None
    assert cells[label, "zygcy"].timed()
    assert compare.by_hand_ratio(cells, label).startswith("wrong")
    monkeypatch.setattr(common, "mlp_grad_by_hand", lambda *a: (right(*a)[0] + 1.0, right(*a)[1]))
    _, cells, _ = compare.run(["primal", "zygcy", "numpy_by_hand"], {"mlp"}, True, log=lambda *a: None)
    assert cells[label, "numpy_by_hand"].status == "wrong"
    assert "primal" in cells[label, "numpy_by_hand"].note


def test_header_names_blas_and_warns_of_openblas_overrides(monkeypatch):
    for k in compare.BLAS_ENV:
        monkeypatch.delenv(k, raising=False)
    lines = compare.numpy_lines()
    assert any(x.startswith("- numpy build:") for x in lines)
    assert any("unset" in x and compare.CLEAN_COMMAND in x for x in lines)
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Haswell")
    warn = [x for x in compare.numpy_lines() if "OPENBLAS_CORETYPE=Haswell" in x]
    assert warn and compare.CLEAN_COMMAND in warn[0]


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
