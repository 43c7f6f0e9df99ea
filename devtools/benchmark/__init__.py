"""`manage.py benchmark`: the portal's throughput, cost and page times, measured end to end.

- config.py: presets, options and targets
- processes.py: the fake provider and the qcluster as subprocesses, /proc sampling
- cluster.py: `python -m devtools.benchmark.cluster`, a qcluster that counts its queries
- phases.py: the import, the engine run and the two earlier approaches (baselines)
- actions.py: the big admin actions (confirm an import, cancel a batch), timed
- pages.py: filling the database to 100,000 orders and timing the admin pages
- report.py: figures against targets, the printed table
- run.py: one benchmark run, in a process whose settings point at the benchmark database
"""
