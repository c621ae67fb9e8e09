"""The test suite: one folder per capability of cdir; the helpers beside this file (drawn, served,
shared_cases, required, archives) are imported as ``tests.<name>`` from every folder."""
