"""Render the course (every notebook in `nbs/`) as a static HTML site, offline: `python .ci/docs.py [--out _site]`.

What `nbdev-docs` does, up to the point where quarto would take over, then nbconvert instead of quarto:

1. nbdev's own processing (`nbdev.processors.FilterDefaults`, as `nbdev.serve.proc_nbs` runs it): frontmatter from
   the H1, `#| hide`/`#| export` cells dropped, `show_doc` of every exported function and class (run in a fresh
   `CaptureShell` per notebook, in worker processes so no notebook code runs in the caller), `#| exports` source
   folded, backticked names linked. Two deliberate differences, both so that nothing a reader should see is lost:
   the title cell is split before processing (nbdev drops the whole cell that holds the H1, intro text included),
   and cells that mix imports with other code run only their imports (nbdev runs them whole, and fails if they
   need anything else); executed cells keep the outputs saved in the notebook. Problems become warnings.
2. nbconvert's HTML exporter with this site's template (`.ci/site/templates/mlic`): no prompts, no scripts, nothing
   from a CDN; math becomes MathML (latex2mathml; the browser draws it), figures stay data URIs.
3. One page per notebook, in course order (`index.ipynb` first as `index.html`, then the others by file name, named
   as nbdev names them: `01_data.ipynb` -> `data.html`), each with the chapters and its own sections in a sidebar;
   links to `X.ipynb[#anchor]` (and to the hosted docs) become links to the pages; pandoc-style heading ids.

`build(out)` does it all and returns the pages; it takes well under a minute (the time is fastai's import in the
workers, once per worker).
"""

import argparse, ast, html, json, os, re, shutil, subprocess, sys, tempfile, time, warnings
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
ASSETS = Path(__file__).resolve().parent/'site'
MARKER = '.docs-build'  # in an output folder this script made, so that it may empty it again

# ---------------------------------------------------------------------------------------------------------------
# Which notebooks, in which order, under which names

def discover(nbs: Path) -> list[Path]:
    "`index.ipynb` first, then every other notebook of `nbs` by file name (none starting with `_` or `.`)"
    nbs = Path(nbs)
    found = sorted(p for p in nbs.glob('*.ipynb') if p.name[0] not in '_.')
    return sorted(found, key=lambda p: (p.name != 'index.ipynb', p.name))

def page_names(srcs: list[Path]) -> dict[Path, str]:
    "nbdev's page names (`01_data.ipynb` -> `data.html`, `index.ipynb` -> `index.html`), the whole stem where two clash"
    from nbdev.config import nbpath2html
    names = {p: nbpath2html(p).name for p in srcs}
    for p in srcs:
        if p.name == 'index.ipynb': names[p] = 'index.html'
    clash = {n for n in names.values() if list(names.values()).count(n) > 1}
    for p in srcs:
        if names[p] in clash and p.name != 'index.ipynb': names[p] = p.stem.lower() + '.html'
    return names

def chapter_num(p: Path) -> str:
    m = re.match(r'^(\d+[a-zA-Z]?)_', p.name)
    return m.group(1) if m else ''

# ---------------------------------------------------------------------------------------------------------------
# Step 1, in a worker process: nbdev's processing

_re_h1 = re.compile(r'^#\s+(\S.*?)\s*$')
_re_desc = re.compile(r'^>\s+(\S.*?)\s*$')
_re_fmkv = re.compile(r'^-\s+(\S.*:.*\S)\s*$')

def split_title_cell(nb) -> bool:
    """Split the markdown cell nbdev takes the title from into its title block (H1, `>` line, `- key: value` lines
    right after) and the rest, which nbdev would drop with it. Returns whether it split."""
    from fastcore.nbio import md_frontmatter, cell_frontmatter, mk_cell
    for i, c in enumerate(nb.cells):
        if c.cell_type == 'raw' and 'title' in cell_frontmatter(c.source or ''): return False
        if c.cell_type != 'markdown' or not md_frontmatter(c.source or ''): continue
        lines = c.source.splitlines()
        h = next(j for j, l in enumerate(lines) if _re_h1.match(l))
        j = h + 1
        while j < len(lines) and not lines[j].strip(): j += 1
        if j < len(lines) and _re_desc.match(lines[j]): j += 1
        while j < len(lines) and _re_fmkv.match(lines[j]): j += 1
        before, title, after = '\n'.join(lines[:h]).strip(), '\n'.join(lines[h:j]).strip(), '\n'.join(lines[j:]).strip()
        if not before and not after: return False
        new = ([mk_cell(before, 'markdown')] if before else []) + [mk_cell(title, 'markdown')] + ([mk_cell(after, 'markdown')] if after else [])
        for n in new: n.src_idx_ = getattr(c, 'src_idx_', None)
        nb.cells[i:i+1] = new
        for k, cell in enumerate(nb.cells): cell.idx_ = k
        return True
    return False

def _imports_of(trees) -> str:
    "The top-level import statements (and `try:` blocks of imports) of a parsed cell, as code"
    def is_imp(t):
        if isinstance(t, (ast.Import, ast.ImportFrom)): return True
        return isinstance(t, ast.Try) and all(isinstance(b, (ast.Import, ast.ImportFrom)) for b in t.body)
    return '\n'.join(ast.unparse(t) for t in trees if is_imp(t))

def _where(cell) -> str:
    "A cell as a warning names it: its number in the notebook (from 1) and its first line of code"
    first = next((l.strip() for l in (cell.source or '').splitlines() if l.strip() and not l.startswith('#|')), '')
    n = getattr(cell, 'src_idx_', None)
    return (f'cell {n+1}' if n is not None else 'a generated cell') + f' (`{first[:60]}`)'

def _procs(log, show_docs=True):
    "nbdev's `FilterDefaults`, with a `show_doc` runner that warns instead of failing and keeps saved outputs"
    from nbdev.processors import FilterDefaults, exec_show_docs, _do_eval, _show_docs
    from fastcore.basics import str2bool

    class exec_show_docs_safe(exec_show_docs):
        def begin(self):
            super().begin()
            if hasattr(self, 'k'): self.k.timeout = 120  # seconds a cell may take
        def __call__(self, cell):
            if not getattr(self.nb, 'has_docs_', None) or not hasattr(self, 'k'): return
            if str2bool(getattr(self.nb, 'frontmatter_', {}).get('skip_showdoc', False)): return
            with warnings.catch_warnings():
                warnings.simplefilter('ignore')  # nbdev's "imports and other code" warning: said below, with the cell
                run = _do_eval(cell)
            if not run: return
            trees = cell.parsed_() or []
            dirs = cell.directives_.keys()
            want_out = bool(_show_docs(trees)) or 'exec_doc' in dirs
            whole = want_out or bool(dirs & {'export', 'exports', 'exporti'}) or all(isinstance(t, (ast.Import, ast.ImportFrom)) for t in trees)
            if want_out: self.k.cell(cell)
            else:
                if not whole: log(f'{_where(cell)} mixes imports with other code: only its imports ran for show_doc (nbdev-docs runs it all)')
                self.k.run(cell.source if whole else _imports_of(trees))
            if (e := self.k.exc) is not None:
                log(f'{_where(cell)} failed while preparing show_doc: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ""}')
                self.k.exc = None
                if want_out: cell.outputs = [o for o in cell.get('outputs', []) if o.get('output_type') != 'error']

    class Filter(FilterDefaults):
        def base_procs(self):
            procs = [exec_show_docs_safe if p is exec_show_docs else p for p in super().base_procs()]
            return procs if show_docs else [p for p in procs if p is not exec_show_docs_safe]
    return Filter()

def process_notebook(path: Path, show_docs: bool = True) -> dict:
    """nbdev's docs processing of one notebook: `{'nb': notebook dict, 'frontmatter': {...}, 'warnings': [...]}`;
    without `show_docs`, nothing runs (no show_doc), as where nbdev's processing fails"""
    from fastcore.nbio import read_nb, nb2dict
    path = Path(path)
    msgs = []
    nb = read_nb(path)
    for i, c in enumerate(nb.cells): c.src_idx_ = i
    split_title_cell(nb)
    with warnings.catch_warnings(record=True) as ws:
        warnings.simplefilter('always')
        _procs(msgs.append, show_docs)(nb)
    for w in ws:  # nbdev's own (a frontmatter it cannot read, say), not those of the code it ran
        m = str(w.message).strip().splitlines()[0] if str(w.message).strip() else ''
        if 'Found cells containing imports' in m or not re.search(r'[/\\](nbdev|fastcore)[/\\]', w.filename or ''): continue
        msgs.append(m)
    return dict(nb=nb2dict(nb), frontmatter=dict(getattr(nb, 'frontmatter_', {}) or {}), warnings=msgs)

def _worker(out: Path, paths: list[Path]):
    "Entry of a worker process: process `paths` (from inside their folder, as nbdev-test does) into `out`/NAME.json"
    os.environ['IN_TEST'] = '1'
    os.environ.setdefault('MLIC_OFFLINE', '1')
    for p in paths:
        os.chdir(p.parent)
        t = time.time()
        try: res = process_notebook(p)
        except Exception as e:  # never seen on these notebooks; the page still comes, without its show_doc
            res = process_notebook(p, show_docs=False)
            res['warnings'].insert(0, f'nbdev processing failed ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ""}): rendered without show_doc')
        res['seconds'] = time.time() - t
        (out/(p.name + '.json')).write_text(json.dumps(res))

def process_all(srcs: list[Path], workers: int | None = None) -> dict[Path, dict]:
    "Run `process_notebook` over `srcs` in `workers` separate Python processes, largest notebooks first"
    workers = max(1, min(workers or (os.cpu_count() or 2)//2, len(srcs)))  # each worker imports fastai once: ~8 s of a core
    groups, sizes = [[] for _ in range(workers)], [0]*workers
    for p in sorted(srcs, key=lambda p: -p.stat().st_size):
        i = sizes.index(min(sizes)); groups[i].append(p); sizes[i] += p.stat().st_size + 200_000
    with tempfile.TemporaryDirectory(prefix='mlic-docs-') as d:
        d = Path(d)
        env = {**os.environ, 'PYTHONWARNINGS': 'ignore', 'MLIC_OFFLINE': os.environ.get('MLIC_OFFLINE', '1')}
        procs = []
        for i, g in enumerate(g for g in groups if g):  # stderr to files: pipes could fill while another worker is waited on
            with open(d/f'worker{i}.err', 'w') as err:
                procs.append((subprocess.Popen([sys.executable, str(Path(__file__).resolve()), '--worker', str(d), *map(str, g)],
                                               stdout=subprocess.DEVNULL, stderr=err, env=env), d/f'worker{i}.err'))
        for p, err in procs:
            if p.wait(): raise RuntimeError(f'docs worker failed (exit {p.returncode}):\n{err.read_text()[-4000:]}')
        return {p: json.loads((d/(p.name + '.json')).read_text()) for p in srcs}

# ---------------------------------------------------------------------------------------------------------------
# Step 2: notebook -> HTML fragment, with nbconvert

def tex2mathml(tex: str, block: bool = False) -> str:
    "TeX as MathML, which browsers draw without any script; the TeX itself where latex2mathml cannot convert it"
    try:
        from latex2mathml.converter import convert
        return convert(tex.strip(), display='block' if block else 'inline')
    except Exception:
        t = html.escape(tex)
        return f'<pre class="tex">{t}</pre>' if block else f'<code class="tex">{t}</code>'

def _tex_output(s: str) -> str:
    "A text/latex output (`$...$`, `$$...$$`, `\\[...\\]` or an environment) as MathML"
    s = s.strip()
    for a, b in (('$$', '$$'), ('\\[', '\\]'), ('$', '$'), ('\\(', '\\)')):
        if s.startswith(a) and s.endswith(b) and len(s) > len(a) + len(b): return tex2mathml(s[len(a):-len(b)], True)
    return tex2mathml(s, True)

_re_fdiv = re.compile(r'^(:{3,})\s*(?:\{([^}]*)\}|([\w-]+))?\s*$')

def fenced_divs(md: str) -> str:
    "Pandoc/Quarto fenced divs (`::: {.callout-note}` ... `:::`) as HTML blocks around markdown"
    if ':::' not in md: return md
    out, depth, fence = [], 0, False
    for line in md.splitlines():
        if line.lstrip().startswith(('```', '~~~')): fence = not fence
        m = None if fence else _re_fdiv.match(line)
        if m and (m.group(2) is not None or m.group(3)):
            attrs = _attrs(m.group(2) or '.' + m.group(3))
            out += ['', f'<div{_attr_html(attrs)}>', '']; depth += 1
        elif m and depth: out += ['', '</div>', '']; depth -= 1
        else: out.append(line)
    return '\n'.join(out + ['', '</div>'] * depth)

_re_attr = re.compile(r'''\s*(?:([.#])([\w:.-]+)|([\w-]+)=(?:"([^"]*)"|'([^']*)'|(\S+)))''')

def _attrs(s: str) -> dict | None:
    "Pandoc attributes `#id .class key=value` as a dict (classes joined), or None if `s` is not such a list"
    res, pos, s = {}, 0, s.strip()
    while pos < len(s):
        m = _re_attr.match(s, pos)
        if not m: return None
        if m.group(1) == '.': res['class'] = (res.get('class', '') + ' ' + m.group(2)).strip()
        elif m.group(1) == '#': res['id'] = m.group(2)
        else: res[m.group(3)] = next(g for g in m.groups()[3:] if g is not None)
        pos = m.end()
    return res

def _attr_html(a: dict) -> str: return ''.join(f' {k}="{html.escape(v)}"' for k, v in a.items())

def exporter(nbs: Path):
    "nbconvert's HTMLExporter with this site's template, markdown renderer (MathML, fenced divs) and no scripts"
    from nbconvert import HTMLExporter, TemplateExporter
    from nbconvert.filters.highlight import Highlight2HTML
    from nbconvert.filters.widgetsdatatypefilter import WidgetsDataTypeFilter
    from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath
    from mistune.renderers.html import HTMLRenderer
    from traitlets.config import Config
    from jinja2 import pass_context

    class Renderer(IPythonRenderer):
        # nbconvert's own pass each raw HTML block through BeautifulSoup to embed images, which closes an opened
        # <div> (a fenced div's) on the spot: only blocks with an image take that pass here
        def block_html(self, h): return HTMLRenderer.block_html(self, self._html_embed_images(h) if '<img' in h else h)
        def inline_html(self, h): return HTMLRenderer.inline_html(self, self._html_embed_images(h) if '<img' in h else h)
        def block_math(self, body): return tex2mathml(body, True)
        def inline_math(self, body): return tex2mathml(body, False)
        def latex_environment(self, name, body): return tex2mathml(f'\\begin{{{name}}}{body}\\end{{{name}}}', True)

    class SiteExporter(HTMLExporter):
        @pass_context
        def markdown2html(self, context, source):
            cell = context.get('cell', {})
            r = Renderer(escape=False, attachments=cell.get('attachments', {}), embed_images=True, path=str(nbs),
                         exclude_anchor_links=True)
            return MarkdownWithMath(renderer=r).render(fenced_divs(source))
        def from_notebook_node(self, nb, resources=None, **kw):
            "HTMLExporter's, less its BeautifulSoup pass over the whole page (alt texts: the template writes them)"
            langinfo = nb.metadata.get('language_info', {})
            self.register_filter('highlight_code', Highlight2HTML(pygments_lexer=langinfo.get('pygments_lexer', langinfo.get('name')), parent=self))
            resources = self._init_resources(resources)
            self.register_filter('filter_data_type', WidgetsDataTypeFilter(notebook_metadata=self._nb_metadata, parent=self, resources=resources))
            return TemplateExporter.from_notebook_node(self, nb, resources, **kw)
        def default_filters(self):
            yield from super().default_filters()
            yield ('markdown2html', self.markdown2html)
            yield ('tex2html', _tex_output)

    c = Config()
    c.HTMLExporter.extra_template_basedirs = [str(ASSETS/'templates')]
    c.HTMLExporter.template_name = 'mlic'
    c.HTMLExporter.exclude_input_prompt = True
    c.HTMLExporter.exclude_output_prompt = True
    c.NbConvertBase.display_data_priority = ['text/html', 'text/markdown', 'image/svg+xml', 'image/png', 'image/jpeg',
                                             'text/latex', 'text/plain']
    ex = SiteExporter(config=c)
    ex.log.setLevel('ERROR')
    return ex

_CELL_KEYS = {'cell_type', 'execution_count', 'id', 'metadata', 'outputs', 'source', 'attachments'}
_re_qopt = re.compile(r'^\s*#\|\s*([\w-]+)\s*:\s*(.*?)\s*$')

def quarto_options(nb: dict) -> None:
    """Apply the Quarto cell options nbdev leaves in the code (`#| key: value` lines) as Quarto would, in place:
    `include`, `echo`, `output`, `code-fold`/`code-summary`, `fig-cap`, `fig-alt`; the lines go either way."""
    cells = []
    for c in nb['cells']:
        sd = bool(c.get('has_sd'))
        for k in [k for k in c if k not in _CELL_KEYS]: c.pop(k)
        c.get('metadata', {}).pop('execution', None)  # CaptureShell's timings, which nbformat rejects
        if c['cell_type'] != 'code':
            src = c['source'] if isinstance(c['source'], str) else ''.join(c['source'])
            if c['cell_type'] == 'markdown' and re.fullmatch(r'\s*(<!--.*?-->\s*)*', src, re.S): continue  # nbdev's "autogenerated" note
            cells.append(c); continue
        src = c['source'] if isinstance(c['source'], str) else ''.join(c['source'])
        lines, opts = src.splitlines(), {}
        while lines and (m := _re_qopt.match(lines[0])):
            opts[m.group(1).lower()] = m.group(2).strip('"\''); lines.pop(0)
        c['source'] = '\n'.join(lines).strip('\n')
        false = lambda k: opts.get(k, '').lower() == 'false'
        if false('include'): continue
        site = c.setdefault('metadata', {}).setdefault('site', {})
        if false('echo') or not c['source'].strip(): c['metadata'].setdefault('transient', {})['remove_source'] = True
        if false('output'): c['outputs'] = []
        fold = opts.get('code-fold', '').lower()
        if fold in ('true', 'show'):
            site['fold'] = fold
            site['summary'] = opts.get('code-summary', 'Code')
        if 'fig-cap' in opts: site['caption'] = html.escape(opts['fig-cap'])
        if 'fig-alt' in opts: c['metadata']['alt'] = opts['fig-alt']
        if sd or c['source'].startswith('show_doc(') and opts.get('output') == 'asis': site['showdoc'] = True
        c['outputs'] = [o for o in c.get('outputs', []) if not (o.get('output_type') == 'stream' and not ''.join(o.get('text', '')))]
        if not c['outputs'] and c['metadata'].get('transient', {}).get('remove_source'): continue
        cells.append(c)
    nb['cells'] = [c for c in cells if not (c['cell_type'] == 'raw' and _is_frontmatter(c))]

def _is_frontmatter(c) -> bool:
    s = c['source'] if isinstance(c['source'], str) else ''.join(c['source'])
    return s.strip().startswith('---') and s.strip().endswith('---')

# ---------------------------------------------------------------------------------------------------------------
# Step 3: ids, links, pages

def pandoc_id(text: str) -> str:
    "Pandoc's auto identifier for a heading's text (what quarto gives nbdev's pages)"
    s = ''.join(ch for ch in text.strip() if ch.isalnum() or ch in '_-. \n\t')
    s = re.sub(r'\s+', '-', s).lower()
    s = re.sub(r'^[^a-z]+', '', s) if re.search(r'[a-z]', s) else re.sub(r'^[^\w]+', '', s)
    return s or 'section'

@dataclass
class Page:
    src: Path
    name: str
    num: str = ''
    title: str = ''
    title_html: str = ''
    title_id: str = 'title'
    description: str = ''
    description_html: str = ''
    body: str = ''
    soup: object = None
    code: list = field(default_factory=list)
    sections: list = field(default_factory=list)
    ids: set = field(default_factory=set)
    alias: dict = field(default_factory=dict)  # other spellings of an id (Jupyter's `Some-Heading`, any case) -> id
    src_rel: str = ''
    src_url: str = ''
    prev: object = None  # the Page before it
    next: object = None
    warnings: list = field(default_factory=list)
    seconds: float = 0  # nbdev's processing of its notebook

def _inline_md(ex, s: str) -> str:
    "One line of markdown as inline HTML"
    h = ex.markdown2html({}, s).strip()
    return re.sub(r'^<p>(.*)</p>$', r'\1', h, flags=re.S)

def _soup(h: str):
    from bs4 import BeautifulSoup
    return BeautifulSoup(h, 'html.parser')

_re_code = re.compile(r'<div class="[^"]*\bhighlight\b[^"]*"><pre>.*?</pre></div>', re.S)

def _soup_without_code(h: str):
    "The page parsed, its highlighted code blocks (most of its tags, and no links or headings) set aside"
    code = []
    def keep(m): code.append(m.group(0)); return f'<!--code:{len(code)-1}-->'
    return _soup(_re_code.sub(keep, h)), code

def _with_code(h: str, code: list) -> str: return re.sub(r'<!--code:(\d+)-->', lambda m: code[int(m.group(1))], h)

def _pandoc_link_attrs(soup):
    "`[text](url){target=\"_blank\" style=...}` (nbdev's source links) and `![](x){width=50%}`: attributes onto the tag"
    from bs4 import NavigableString
    for tag in soup.find_all(['a', 'img', 'span', 'code']):
        nxt = tag.next_sibling
        if not isinstance(nxt, NavigableString) or not nxt.startswith('{'): continue
        end = nxt.find('}')
        a = _attrs(nxt[1:end]) if end > 0 else None
        if not a: continue
        for k, v in a.items(): tag[k] = (tag.get('class', []) + v.split()) if k == 'class' else v
        nxt.replace_with(nxt[end+1:])

def assign_ids(page: Page):
    "Pandoc ids for the headings (`{#id}` kept), `¶` links, the page's sections (its H2s) and every id it has"
    soup = page.soup
    page.ids = {t['id'] for t in soup.find_all(id=True)} | {page.title_id}
    for h in soup.find_all(['h1', 'h2', 'h3', 'h4', 'h5', 'h6']):
        text = h.get_text()
        m = re.search(r'\s*\{([^}]*)\}\s*$', text)
        if m and (a := _attrs(m.group(1))) and 'id' in a:
            last = h.contents[-1]
            if isinstance(last, str) and last.rstrip().endswith('}'): last.replace_with(last[:last.rfind('{')].rstrip())
            h['id'] = a['id']; text = h.get_text()
        if not h.get('id'):
            base = i = pandoc_id(text); n = 0
            while i in page.ids: n += 1; i = f'{base}-{n}'
            h['id'] = i
        page.ids.add(h['id'])
        for alt in (text.strip().replace(' ', '-'), h['id'].lower(), text.strip().lower().replace(' ', '-')):
            page.alias.setdefault(alt, h['id']); page.alias.setdefault(alt.lower(), h['id'])
        a = soup.new_tag('a', href='#' + h['id'], attrs={'class': 'anchor', 'aria-hidden': 'true'}); a.string = '¶'
        h.append(a)
        if h.name == 'h2' and not h.find_parent(class_=re.compile(r'^(showdoc|callout)')):
            t = _soup(''.join(str(x) for x in h.contents if x is not a))
            for x in t.find_all('a'): x.unwrap()  # no links in a link
            page.sections.append(dict(id=h['id'], html=str(t)))

class Links:
    "Resolves a link of a notebook to a page of the site (and checks its anchor)"
    def __init__(self, pages: list[Page], nbs: Path, cfg):
        self.pages, self.nbs, self.proj = pages, nbs.resolve(), Path(cfg.config_path).resolve()
        self.by_src = {p.src.resolve(): p for p in pages}
        self.by_name = {p.name: p for p in pages} | {p.name[:-5] + '.md': p for p in pages}
        self.doc = (cfg.get('doc_host', '') or '').rstrip('/') + '/' + (cfg.get('doc_baseurl', '') or '').strip('/')
        self.doc = self.doc.rstrip('/') + '/'
        self.base = '/' + (cfg.get('doc_baseurl', '') or '').strip('/')
        self.git = (cfg.get('git_url', '') or '').rstrip('/')
        self.branch = cfg.get('branch', 'main') or 'main'

    def _target(self, path: str) -> Page | None:
        path = path.split('?')[0]
        if path.startswith('/'):  # a site-absolute link, as on the hosted docs
            path = path[len(self.base):] if self.base != '/' and path.startswith(self.base + '/') else path
            return self.by_name.get(path.strip('/') or 'index.html')
        for base in (self.nbs, self.proj):  # `02_loss.ipynb` beside the notebook, or `nbs/02_loss.ipynb` as README.md sees it
            f = (base/path).resolve()
            if f in self.by_src: return self.by_src[f]
        return self.by_name.get(Path(path).name) if '/' not in path.strip('./') else None

    def resolve(self, href: str, page: Page) -> tuple[str, str | None]:
        "(new href, problem or None)"
        u = urlsplit(href)
        from_docs = u.scheme in ('http', 'https') and (href + '/').startswith(self.doc) and self.doc != '/'
        if u.scheme and not from_docs or (u.netloc and not from_docs): return href, None
        if not u.path and not u.query:
            return self._anchor(page, u.fragment, href, page, False)
        if from_docs: target = self.by_name.get(href[len(self.doc):].split('#')[0].split('?')[0] or 'index.html')
        else: target = self._target(u.path)
        if target is None:
            f = (self.nbs/u.path).resolve()
            if not from_docs and f.exists() and self.proj in f.parents and self.git:  # another file of the repository
                return f'{self.git}/blob/{self.branch}/{f.relative_to(self.proj).as_posix()}' + (f'#{u.fragment}' if u.fragment else ''), None
            return href, f'link to {href!r} matches no page'
        return self._anchor(target, u.fragment, href, page, from_docs)

    def _anchor(self, target: Page, frag: str, href: str, page: Page, from_docs: bool):
        pre = '' if target is page else target.name
        if not frag: return pre or '#', None
        if frag in target.ids: return f'{pre}#{frag}', None
        if (i := target.alias.get(frag) or target.alias.get(frag.lower())): return f'{pre}#{i}', None
        if from_docs or frag.startswith('_'): return pre or '#', None  # a symbol nbdev links to but no show_doc shows (a private helper): its page
        return href, f'link to {href!r}: {target.name} has no id {frag!r}'

def rewrite_links(page: Page, links: Links):
    for a in page.soup.find_all('a', href=True):
        if not links.git and a['href'].startswith('/blob/'):  # show_doc's source link with no repository URL: name the file and line
            u = urlsplit(a['href']); a.name, a.attrs = 'code', {}
            a.string = u.path.split('/', 3)[-1] + (f":{u.fragment.lstrip('L')}" if u.fragment else '')
            continue
        new, problem = links.resolve(a['href'], page)
        if problem: page.warnings.append(problem)
        a['href'] = new
    for img in page.soup.find_all('img', src=True):  # local images are embedded: what is left would not load
        if not urlsplit(img['src']).scheme: page.warnings.append(f'image {img["src"]!r} not found beside the notebook')

def build(out: str | Path = ROOT/'_site', nbs: str | Path | None = None, workers: int | None = None, quiet: bool = False) -> list[Page]:
    "Render every notebook of `nbs` (default: the project's `nbs/`) into the static site `out`; returns its pages"
    from nbdev.config import get_config
    from jinja2 import Environment, FileSystemLoader
    import nbformat
    t0 = time.time()
    nbs = Path(nbs or ROOT/'nbs').resolve()
    out = Path(out).resolve()
    cfg = get_config(path=nbs)
    proj = Path(cfg.config_path).resolve()
    srcs = discover(nbs)
    if not srcs: raise FileNotFoundError(f'no notebooks in {nbs}')
    names = page_names(srcs)
    processed = process_all(srcs, workers)
    t1 = time.time()
    ex = exporter(nbs)
    pages = []
    for src in srcs:
        res = processed[src]
        quarto_options(res['nb'])
        nb, fm = nbformat.reads(json.dumps(res['nb']), as_version=4), res['frontmatter']  # sources as strings again
        p = Page(src=src, name=names[src], num=chapter_num(src), warnings=list(res['warnings']), seconds=res.get('seconds', 0))
        p.src_rel = src.relative_to(proj).as_posix() if proj in src.parents else src.name
        if cfg.get('git_url') and proj in src.parents: p.src_url = f"{cfg.git_url.rstrip('/')}/blob/{cfg.get('branch', 'main')}/{p.src_rel}"
        title = str(fm.get('title') or '')
        if not title: p.warnings.append('no H1 title: the file name stands in'); title = src.stem
        p.title_html = _inline_md(ex, html.escape(title, quote=False) if '<' in title else title)
        p.title = _soup(p.title_html).get_text().strip()
        if fm.get('description'):
            p.description_html = _inline_md(ex, str(fm['description']))
            p.description = _soup(p.description_html).get_text().strip()
        body, _ = ex.from_notebook_node(nb, resources={'metadata': {'path': str(nbs), 'name': src.stem}})
        p.soup, p.code = _soup_without_code(body)
        _pandoc_link_attrs(p.soup)
        assign_ids(p)
        pages.append(p)
    links = Links(pages, nbs, cfg)
    for i, p in enumerate(pages):
        rewrite_links(p, links)
        p.prev, p.next = (pages[i-1] if i else None), (pages[i+1] if i+1 < len(pages) else None)
        p.body = _with_code(str(p.soup), p.code)
    _write(out, pages, Environment(loader=FileSystemLoader(str(ASSETS)), autoescape=False),
           dict(name=cfg.get('lib_name') or proj.name, description=cfg.get('description', '')))
    if not quiet:
        print(f'{len(pages)} pages in {out} ({time.time()-t0:.0f}s, nbdev processing {t1-t0:.0f}s): ' + ' '.join(p.name for p in pages))
        for p in pages:
            for w in p.warnings: print(f'  warning: {p.src.name}: {w}')
    return pages

def _write(out: Path, pages: list[Page], env, site: dict):
    "Write the pages and assets into `out`, emptying it first if this script made it"
    from pygments.formatters import HtmlFormatter
    if out.exists() and any(out.iterdir()):
        if not (out/MARKER).exists(): raise FileExistsError(f'{out} exists and was not made by .ci/docs.py: give another --out')
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    (out/MARKER).write_text('made by .ci/docs.py; emptied by every build\n')
    shutil.copy2(ASSETS/'style.css', out/'style.css')
    (out/'pygments.css').write_text(HtmlFormatter(style='default').get_style_defs('.highlight') + '\n')
    tpl = env.get_template('page.html.j2')
    for p in pages: (out/p.name).write_text(tpl.render(page=p, pages=pages, site=site), encoding='utf-8')

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--out', default=str(ROOT/'_site'), help='output folder (default: _site in the project)')
    ap.add_argument('--nbs', default=None, help='notebook folder (default: nbs in the project)')
    ap.add_argument('--workers', type=int, default=None, help="processes for nbdev's processing (default: one per two cores)")
    ap.add_argument('--worker', nargs='+', help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.worker: return _worker(Path(a.worker[0]), [Path(p).resolve() for p in a.worker[1:]])
    build(a.out, a.nbs, a.workers)

if __name__ == '__main__': main()
