"""Render `nbs/index.ipynb` into `README.md` (what `nbdev-readme` does, without the quarto binary it needs).

Markdown cells are copied, code cells become ```python blocks (cells marked `#| hide` are left out).
`python .ci/readme.py --check` exits 1 if README.md differs from the notebook.
"""
import json, sys
from pathlib import Path

root = Path(__file__).resolve().parent.parent

def render(nb_path=root/'nbs'/'index.ipynb') -> str:
    out = []
    for c in json.loads(Path(nb_path).read_text())['cells']:
        src = ''.join(c['source']).strip()
        if not src or src.startswith('#| hide'): continue
        out.append(src if c['cell_type'] == 'markdown' else f'```python\n{src}\n```')
    return '\n\n'.join(out) + '\n\n<!-- Generated from nbs/index.ipynb by .ci/readme.py: edit the notebook, then `make readme`. -->\n'

if __name__ == '__main__':
    txt, readme = render(), root/'README.md'
    if '--check' in sys.argv:
        ok = readme.exists() and readme.read_text() == txt
        if not ok: print('  README.md differs from nbs/index.ipynb: run `make readme`')
        sys.exit(0 if ok else 1)
    readme.write_text(txt)
