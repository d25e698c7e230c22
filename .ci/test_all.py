"""Everything `make test` checks, with one closing line `N passed, N failed` counting all of it.

1. `nbdev-clean` and `nbdev-export` leave the notebooks and the library unchanged, and README.md matches
   `nbs/index.ipynb` (one check);
2. the notebooks keep their outputs: every chapter that draws figures has them, none keeps progress bars or this
   machine's folders, and no notebook is over its size
   budget (one check);
3. `nbdev-test` passes for each notebook in `nbs/` (one check per notebook);
4. `pytest tests/` (one per test).

`--no-weights` (`make test-noweights`): what a fresh clone gets offline with nothing beside it. The environment has no
pretrained weights and no `../shared`; checks 3 and 4 run, and the tests that need either are skipped, each saying why.
"""
import hashlib, json, re, subprocess, sys, time, xml.etree.ElementTree as ET
from pathlib import Path

root = Path(__file__).resolve().parent.parent

def _snapshot():
    fs = sorted(root.glob('nbs/**/*.ipynb')) + sorted(root.glob('mlic/**/*.py'))
    return {str(f.relative_to(root)): hashlib.md5(f.read_bytes()).hexdigest() for f in fs}

def _run(cmd, **kw):
    t0 = time.time()
    r = subprocess.run(cmd, cwd=root, text=True, capture_output=True, **kw)
    return r, time.time()-t0

def check_sync():
    "nbdev-clean and nbdev-export must not change any file."
    before = _snapshot()
    for cmd in (['nbdev-clean'], ['nbdev-export']):
        r, _ = _run(cmd)
        if r.returncode: print(r.stdout, r.stderr); return False
    after = _snapshot()
    r, _ = _run([sys.executable, '.ci/readme.py', '--check'])
    if r.returncode: print(r.stdout); after['README.md'] = 'stale'
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    for k in changed: print(f'  changed by nbdev-clean/nbdev-export: {k}')
    if changed: print('  run `nbdev-clean && nbdev-export` and commit the result')
    return not changed

NB_BUDGET, ALL_BUDGET = 1.5e6, 10e6  # bytes: each notebook, and all of them together
_re_draws = re.compile(r'\b(plot_\w+|show_batch|show_images|show_image|plt\.|\.plot[.(]|imshow)\(?')

def _draws(cell) -> bool:
    "Whether a code cell draws a figure (a plotting call outside the library's own `#| export` code)."
    src = ''.join(cell['source'])
    return cell['cell_type'] == 'code' and not src.lstrip().startswith('#| export') and bool(_re_draws.search(src))

def _images(nb) -> int: return sum(any(k.startswith('image/') for k in o.get('data', {})) for c in nb['cells'] for o in c.get('outputs', []))

def check_outputs():
    "Every notebook with a cell that draws has image outputs, none keeps progress bars or this machine's paths, and all stay within their size budgets."
    ok, total = True, 0
    for f in sorted((root/'nbs').glob('[!_.]*.ipynb')):
        size, nb = f.stat().st_size, json.loads(f.read_text())
        total += size
        if size > NB_BUDGET: print(f'  {f.name}: {size/1e6:.2f} MB, over the {NB_BUDGET/1e6} MB budget'); ok = False
        if any(map(_draws, nb['cells'])) and not _images(nb):
            print(f'  {f.name} draws figures but keeps none: run `make outputs` and commit the notebooks'); ok = False
        texts = [''.join(o.get('text', '')) + ''.join(o.get('data', {}).get('text/plain', '')) for c in nb['cells'] for o in c.get('outputs', [])]
        if bars := sum(bool(re.search(r'\[\d+/\d+ [\d:]+<', t)) for t in texts):  # fastprogress's '[3/400 00:01<00:02]'
            print(f'  {f.name} keeps {bars} progress bar(s) in its outputs: run `make outputs`'); ok = False
        if str(root.parent) + "/" in json.dumps([c.get("outputs", []) for c in nb["cells"]]):
            print(f"  {f.name}: its outputs name folders of this machine ({root.parent}/...): run `make outputs` (paths relative to nbs/)"); ok = False
    if total > ALL_BUDGET: print(f'  all notebooks: {total/1e6:.2f} MB, over the {ALL_BUDGET/1e6} MB budget'); ok = False
    return ok

def test_notebooks():
    "nbdev-test, one notebook at a time, so each counts on its own."
    res = []
    for nb in sorted((root/'nbs').glob('[!_.]*.ipynb')):
        r, dt = _run(['nbdev-test', str(nb.relative_to(root))])
        ok = r.returncode == 0
        print(f"  {'PASS' if ok else 'FAIL'} {nb.name} ({dt:.0f}s)", flush=True)
        if not ok: print(r.stdout[-5000:], r.stderr[-5000:])
        res.append(ok)
    return res

def test_pytest():
    "pytest tests/, counted from its JUnit XML."
    xml = root/'.last_pytest.xml'
    r = subprocess.run([sys.executable, '-m', 'pytest', 'tests', '-q', '-rs', f'--junitxml={xml}'], cwd=root)
    if r.returncode not in (0, 1, 5): return 0, 1, 0  # pytest itself broke: count it as a failure
    if not xml.exists(): return 0, 1, 0
    s = ET.parse(xml).getroot()
    s = s if s.tag == 'testsuite' else s.find('testsuite')
    n, f, e, sk = (int(s.get(k, 0)) for k in ('tests', 'failures', 'errors', 'skipped'))
    return n-f-e-sk, f+e, sk

if __name__ == '__main__':
    t0, noweights = time.time(), '--no-weights' in sys.argv
    checks = []
    if not noweights:
        print('== nbdev-clean / nbdev-export leave no diff', flush=True)
        checks.append(check_sync())
        print(f"  {'PASS' if checks[-1] else 'FAIL'} notebooks clean and library in sync", flush=True)
        print('== notebooks keep their outputs, within their size budgets', flush=True)
        checks.append(check_outputs())
        print(f"  {'PASS' if checks[-1] else 'FAIL'} outputs kept", flush=True)
    else: print('== as a fresh clone offline with nothing beside it: no pretrained weights, no ../shared', flush=True)
    print('== nbdev-test, per notebook', flush=True)
    nbs = test_notebooks()
    print('== pytest tests/', flush=True)
    p_ok, p_fail, p_skip = test_pytest()
    passed = sum(checks) + sum(nbs) + p_ok
    failed = (len(checks) - sum(checks)) + (len(nbs)-sum(nbs)) + p_fail
    print(f'({time.time()-t0:.0f}s: {len(nbs)} notebooks, {p_ok+p_fail+p_skip} pytest tests)')
    print(f'{passed} passed, {failed} failed' + (f', {p_skip} skipped' if p_skip else ''))
    sys.exit(1 if failed else 0)
