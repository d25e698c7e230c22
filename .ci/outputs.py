"""Run every notebook of `nbs/` top to bottom and keep its outputs, as a reader should see them (`make outputs`).

Each notebook runs in a fresh process (execnb's `CaptureShell`, as `nbdev-test` runs them), skipping `#| eval: false`
cells and the closing `nbdev_export()`. Then, so that the notebooks stay small and readable:
- training logs and progress bars are dropped (fastprogress bars, as HTML or as text, fastai's per-epoch tables),
  and so is stderr (warnings, notes of the library);
- figures are re-encoded as 256-colour palette PNG;
- paths in the project's folder (and in the folder beside it, `../shared`) are written relative to `nbs/`, where the
  notebooks run, so that a reader sees `../data/voc2007/...`, not the folders of the machine that ran them.
`nbdev-clean` then strips execution counts and metadata. `python .ci/outputs.py [NAME ...]` runs only some notebooks;
`--retidy` applies the tidying to the outputs the notebooks already keep, without running them.
"""
import base64, io, re, subprocess, sys, time
from pathlib import Path

root = Path(__file__).resolve().parent.parent
_re_log = re.compile(r'<progress|progress-bar|<th>epoch</th>|<th>train_loss</th>')
_re_bar = re.compile(r'(?:█ ?)*\|[█-]+\| *[0-9.]+% \[[^\]]*\] *(?:█ ?)*')  # fastprogress's text bars, as a console run prints them

_re_epoch = re.compile(r'Epoch \d+/\d+ : ')  # what fastprogress leaves of its epoch bar in a console run
_re_table = re.compile(r'^\s*(?:epoch\s+train_loss\b.*|\d+\s+(?:[-+0-9.e]+|#na#)\s.*\d\d:\d\d)\s*$')  # fastai's per-epoch table, as text

def _no_bars(text:str) -> str:
    "`text` without fastprogress's text bars and fastai's per-epoch tables, and without the lines they leave empty."
    res, lines = [], []
    for l in text.split('\n'):  # a carriage return overwrites its line: keep what a terminal would end up showing
        if '\r' not in l: lines.append(l); continue
        seg = [x for x in l.split('\r') if x.strip()]
        if seg: lines.append(seg[-1])
    for l in '\n'.join(lines).splitlines(keepends=True):
        t = _re_epoch.sub('', re.sub(r'^(?:█ ?)+', '', _re_bar.sub('', l)))
        if t != l: t = t.lstrip(' ')  # the spaces a bar was drawn over
        if _re_table.match(t): continue
        if t.strip() or t == l: res.append(t)  # a line that only held bars goes; blank lines of the output stay
    return ''.join(res)

def _skip(cell) -> bool:
    "Cells a test run skips: `#| eval: false`, and the closing export."
    src = cell.source if hasattr(cell, 'source') else ''.join(cell['source'])
    return cell.cell_type != 'code' or bool(re.search(r'^#\|\s*eval:\s*false', src, re.M)) or 'nbdev.nbdev_export()' in src

def _is_log(o:dict) -> bool:
    "A training log or progress bar, or text on stderr."
    if o.get('output_type') == 'stream': return o.get('name') == 'stderr'
    html = ''.join(o.get('data', {}).get('text/html', ''))
    return bool(_re_log.search(html))

def _small_image(png_b64:str) -> str:
    "A figure as a 256-colour palette PNG (base64): a quarter of the size or less, still the PNG that readers and checks expect."
    from PIL import Image
    buf = io.BytesIO()
    Image.open(io.BytesIO(base64.b64decode(png_b64))).convert('RGB').quantize(256).save(buf, 'PNG', optimize=True)
    return base64.b64encode(buf.getvalue()).decode()

def _relative(text:str) -> str:
    "`text` with the project's folder and the one beside it named as seen from nbs/, where the notebooks run."
    text = text.replace(f'{root}/', '../')
    return text if root.parent == Path('/') else text.replace(f'{root.parent}/', '../../')

def _tidy(outputs:list) -> list:
    "Outputs without logs, with smaller figures, and paths relative to nbs/."
    res = []
    for o in outputs:
        if _is_log(o): continue
        if o.get('output_type') == 'stream':
            o['text'] = _relative(_no_bars(''.join(o['text'])))
            if not o['text']: continue
        for k in ('text/plain', 'text/html', 'text/markdown'):
            if k in o.get('data', {}): o['data'][k] = _relative(''.join(o['data'][k]))
        d = o.get('data', {})
        if 'image/png' in d: d['image/png'] = _small_image(''.join(d['image/png']))
        res.append(o)
    return res

def run_one(nb_path:Path):
    "Execute one notebook in this process and write it back with tidied outputs."
    from fastcore.nbio import read_nb, write_nb
    from execnb.shell import CaptureShell
    nb = read_nb(nb_path)
    sh = CaptureShell(path=nb_path.parent.resolve(), mpl_format='png')
    sh._fname = nb_path
    sh.run_all(nb, exc_stop=True, preproc=_skip)
    for c in nb.cells:
        if c.cell_type == 'code': c.outputs = _tidy(c.get('outputs', []))
    write_nb(nb, nb_path)

def retidy(nb_path:Path):
    "Tidy the outputs a notebook already has, without running it (after a change to the tidying itself)."
    from fastcore.nbio import read_nb, write_nb
    nb = read_nb(nb_path)
    for c in nb.cells:
        if c.cell_type == 'code': c.outputs = _tidy(c.get('outputs', []))
    write_nb(nb, nb_path)

if __name__ == '__main__':
    if sys.argv[1:2] == ['--one']: run_one(Path(sys.argv[2])); sys.exit()
    if sys.argv[1:2] == ['--retidy']:
        for p in sorted((root/'nbs').glob('[!_.]*.ipynb')): retidy(p)
        subprocess.run(['nbdev-clean'], cwd=root, check=True); sys.exit()
    names = sys.argv[1:]
    nbs = [p for p in sorted((root/'nbs').glob('[!_.]*.ipynb')) if not names or p.stem in names or p.name in names]
    for p in nbs:
        t0 = time.time()
        r = subprocess.run([sys.executable, __file__, '--one', str(p)], cwd=p.parent)
        print(f"  {'done' if r.returncode == 0 else 'FAILED'} {p.name} ({time.time() - t0:.0f}s, {p.stat().st_size/1e6:.2f} MB)", flush=True)
        if r.returncode: sys.exit(r.returncode)
    subprocess.run(['nbdev-clean'], cwd=root, check=True)
