"""asv benchmarks of zygcy: the primal and the gradient of each workload in ``common``.

Each benchmark class has, besides asv's ``params``/``param_names``, two
attributes asv ignores: ``workload`` (its name in ``common.WORKLOADS``) and
``smoke_params`` (tiny sizes with which ``tests/tools/test_benchmarks.py`` runs
every method once, so that CI notices a broken benchmark).
"""
