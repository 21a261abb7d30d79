"""The explorer page without a browser: building it, writing it, the CLI, the tour, and its arithmetic under Node.

The browser tests (``test_explorer_browser.py``) drive the page itself; here the page's JavaScript arithmetic runs
under Node.js (when installed) on thousands of random configurations and must agree with tconv's Python exactly.
"""

from __future__ import annotations

import json
import random
import re
import shutil
import subprocess

import pytest
from typer.testing import CliRunner

from tconv.cli import app
from tconv.errors import ConfigError
from tconv.explorer import ASSETS, EXAMPLES, asset_dir, build_page, tour_section, write_page

from ._cases import call_text, plan_summary, python_result, random_config, to_ui


def test_page_is_one_self_contained_file():
    page = build_page()
    assert page.startswith("<!doctype html>")
    assert "__TCONV_" not in page
    assert page.count("<script>") == 1 and page.count("</script>") == 1
    assert page.count("<style>") == 1 and page.count("</style>") == 1
    # nothing is fetched: no external scripts, style sheets, images, fonts or imports
    assert not re.search(r"<(script|img|iframe)[^>]*\bsrc=", page)
    assert "<link" not in page
    assert not re.search(r"url\(|@import|fetch\(|XMLHttpRequest", page)
    # the sources really are inlined
    folder = asset_dir()
    for name in ASSETS[1:]:
        assert (folder / name).read_text(encoding="utf-8").strip() in page
    assert "root.tconvState = tconvState" in page  # the test hook the browser tests read


def test_write_page_is_atomic_and_complete(tmp_path):
    out = write_page(tmp_path / "sub" / "explorer.html")
    assert out.read_text(encoding="utf-8") == build_page()
    assert not [p for p in out.parent.iterdir() if p.name != "explorer.html"]  # no temp file left behind


def test_cli_explore_writes_the_page(tmp_path):
    out = tmp_path / "explorer.html"
    res = CliRunner().invoke(app, ["explore", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "wrote" in res.output
    assert out.read_text(encoding="utf-8") == build_page()


def test_tour_section_writes_and_links_the_page(tmp_path):
    sec = tour_section(tmp_path, quick=True)
    assert sec.id == "explorer"
    assert (tmp_path / "explorer.html").is_file()
    assert 'href="explorer.html"' in sec.html
    for _, frag in EXAMPLES:
        assert f'href="explorer.html#{frag.replace("&", "&amp;")}"' in sec.html


NODE_DRIVER = r"""
const fs = require("fs");
for (const f of process.argv.slice(1)) require(f);
const t = globalThis.tconv;
const uis = JSON.parse(fs.readFileSync(0, "utf8"));
const key = (a) => a.join(",");
const out = uis.map((ui) => {
  const r = t.compute(ui);
  const res = { call: r.call, error: r.error ? r.error.message : null, plan: null };
  if (r.plan) {
    const p = r.plan;
    res.plan = t.planSummary(p);
    const outs = p.outSize.length === 1 ? p.outSize[0] : p.outSize[0] * p.outSize[1];
    const ins = p.inSize.length === 1 ? p.inSize[0] : p.inSize[0] * p.inSize[1];
    const unflat = (n, shape) => (shape.length === 1 ? [n] : [Math.floor(n / shape[1]), n % shape[1]]);
    res.contrib = {};
    res.reach = {};
    if (outs <= 900) for (let n = 0; n < outs; n++) { const o = unflat(n, p.outSize); res.contrib[key(o)] = t.contributors(p, o); }
    if (outs <= 900) res.overlap = Array.from(t.overlapCounts(p));
    if (outs <= 900) res.unreached = t.unreachedCount(p);
    if (ins <= 900) for (let n = 0; n < ins; n++) { const j = unflat(n, p.inSize); res.reach[key(j)] = t.reached(p, j); }
  }
  return res;
});
process.stdout.write(JSON.stringify(out));
"""


def _huge(nd, i, k, s, d=1, p=0, co=1):
    v = lambda x: [x] * nd  # noqa: E731
    return {"m": "transposed", "nd": nd, "i": v(i), "k": v(k), "s": v(s), "d": v(d), "pm": "sym", "p": v(p),
            "op": v(0), "os": None, "ci": 1, "co": co, "g": 1}  # fmt: skip


#: Sizes far beyond the random ones: JavaScript's doubles must still agree with Python's ints, digit for digit.
HUGE = [
    _huge(1, 1 << 26, 3, 1 << 26),  # an absurd output size (> 2**31)
    _huge(2, 3000, 3, 1000),  # an absurd element count (> 2**40), a BigInt in the message
    _huge(2, 40000, 5, 1, co=700),  # big and valid
    _huge(1, 1, 1 << 16, 1, p=(1 << 15) - 1),  # a giant kernel, cropped down to a small output
    _huge(1, 70000, 1 << 25, 1 << 25, d=3),
]


def _port():
    """The page's scripts that run without a page: the arithmetic port and the configuration."""
    return [str(asset_dir() / name) for name in ("arith.js", "config.js")]


def _as_lists(pairs):
    return [[list(a), list(b)] for a, b in pairs]


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed (the browser tests still run)")
def test_javascript_arithmetic_matches_python_under_node():
    rng = random.Random(20240605)
    cfgs = [random_config(rng) for _ in range(1500)] + HUGE
    proc = subprocess.run(
        ["node", "-e", NODE_DRIVER, *_port()],
        input=json.dumps([to_ui(c) for c in cfgs]),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    results = json.loads(proc.stdout)
    n_err = 0
    for cfg, res in zip(cfgs, results, strict=True):
        assert res["call"] == call_text(cfg), cfg
        plan, err = python_result(cfg)
        assert res["error"] == err, (cfg, res["error"], err)
        if err:
            n_err += 1
            continue
        assert res["plan"] == plan_summary(plan), cfg
        for k, pairs in res["contrib"].items():
            assert pairs == _as_lists(plan.contributors(tuple(int(v) for v in k.split(",")))), (cfg, k)
        for k, pairs in res["reach"].items():
            assert pairs == _as_lists(plan.reached(tuple(int(v) for v in k.split(",")))), (cfg, k)
        if "overlap" in res:  # the heat map's numbers: Plan.overlap_counts, and the outputs no input reaches
            counts = plan.overlap_counts()
            assert res["overlap"] == counts.ravel().tolist(), cfg
            assert res["unreached"] == int((counts == 0).sum()), cfg
    assert 300 < n_err < 900  # both valid and broken configurations were compared


SOLVE_DRIVER = r"""
const fs = require("fs");
for (const f of process.argv.slice(1)) require(f);
const t = globalThis.tconv;
const cases = JSON.parse(fs.readFileSync(0, "utf8"));
process.stdout.write(JSON.stringify(cases.map((a) => {
  try { return t.solve(...a); } catch (e) { return e.message; }
})));
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed (the browser tests still run)")
def test_javascript_solve_matches_arith_solve():
    arith = pytest.importorskip("tconv.arith")
    rng = random.Random(7)
    cases = []
    for n in range(300):
        i, o = rng.randint(1, 40), rng.randint(1, 80)
        if n % 25 == 0:  # broken bounds: the messages must match too
            i, o = rng.choice([(0, 5), (5, 0), (-3, 4)])
        args = [i, o, rng.random() < 0.6, rng.randint(1, 9), rng.randint(1, 5), rng.randint(1, 3)]
        cases.append(args)
    cases += [[16, 32, True, 7, 4, 1], [224, 112, False, 3, 4, 1], [4, 8, True, 0, 4, 1]]
    proc = subprocess.run(
        ["node", "-e", SOLVE_DRIVER, *_port()],
        input=json.dumps(cases),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    n_solutions = 0
    for args, got in zip(cases, json.loads(proc.stdout), strict=True):
        i, o, transposed, k, s, d = args
        try:
            want = [x.to_dict() for x in arith.solve(i, o, transposed, max_kernel=k, max_stride=s, max_dilation=d)]
        except ConfigError as exc:
            want = str(exc)
        assert got == want, args
        n_solutions += len(want) if isinstance(want, list) else 0
    assert n_solutions > 500
