"""droidft benchmarks. Each module of this package with a `run()` function is one benchmark:
`run()` measures, writes its own section of bench/README.md (see bench.readme), and returns
its rows. `python -m bench` (or `make bench`) runs them all; `python -m bench NAME...` some."""
