"""Settings shared by everything pytest collects here: the tests under tests/ and the doctests of src/tconv (which
tests/conftest.py does not reach).

* matplotlib draws off-screen;
* "auto" caches its measured winners in a private directory and uses its deterministic heuristic
  (tests/ops/test_autotune.py switches measuring on where it tests it).
"""

import os
import tempfile

import matplotlib

matplotlib.use("Agg")

os.environ.setdefault("TCONV_CACHE_DIR", tempfile.mkdtemp(prefix="tconv-test-cache-"))
os.environ.setdefault("TCONV_AUTOTUNE", "0")
