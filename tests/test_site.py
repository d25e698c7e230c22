"""The course site (`make docs`, .ci/docs.py) in a real browser: headless Chromium (Debian's) driven by Playwright.

The site is built into a temporary folder, served on 127.0.0.1, and every page is opened: it must load without
console errors or failed requests (and request nothing from any other host), carry its notebook's H1 as <title>,
list every chapter in its table of contents with itself marked, show every image, and every link inside the site
must reach a page and an id on it. A small notebook set made here covers what today's notebooks do not have yet:
outputs of every kind, hidden cells, links between chapters, math. Skipped, with what to install, where Chromium or
Playwright is missing; the browser-free checks of the build run anyway.
"""
import base64, functools, http.server, importlib.util, json, re, shutil, struct, sys, threading, zlib
from pathlib import Path
from html import unescape
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent
def _docs():
    "The .ci/docs.py module"
    if 'mlic_docs' not in sys.modules:
        spec = importlib.util.spec_from_file_location('mlic_docs', ROOT/'.ci'/'docs.py')
        mod = importlib.util.module_from_spec(spec)
        sys.modules['mlic_docs'] = mod
        spec.loader.exec_module(mod)
    return sys.modules['mlic_docs']

def _h1(nb: Path) -> str:
    "A notebook's first H1, as plain text: what its page's <title> must be"
    for c in json.loads(nb.read_text())['cells']:
        if c['cell_type'] != 'markdown': continue
        if m := re.search(r'^#\s+(\S.*?)\s*$', ''.join(c['source']), re.M): return re.sub(r'[`*]', '', m.group(1))
    return nb.stem

class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a): pass

@pytest.fixture(scope='module')
def serve():
    "serve(folder) -> base URL of a static server on 127.0.0.1 (stopped with the module)"
    servers = []
    def start(folder):
        srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), functools.partial(_Quiet, directory=str(folder)))
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers.append(srv)
        return f'http://127.0.0.1:{srv.server_address[1]}/'
    yield start
    for s in servers: s.shutdown(); s.server_close()

@pytest.fixture(scope='module')
def course(tmp_path_factory):
    "The course's site, built from nbs/ as it is now"
    out = tmp_path_factory.mktemp('site')/'_site'
    pages = _docs().build(out, quiet=True)
    return out, pages

# ------------------------------------------------------------------------------------------------------------------
# Opening pages

def visit(browser, base: str, names: list[str], shot: Path | None = None) -> dict:
    "Open every page; {name: facts}, each with its problems (console errors, failed or outside requests)"
    ctx = browser.new_context(viewport={'width': 1280, 'height': 900})
    outside = []
    def route(r):
        u = r.request.url
        if u.startswith(base) or u.startswith('data:'): return r.continue_()
        outside.append(u); r.abort()
    ctx.route('**/*', route)
    res = {}
    for name in names:
        page, problems = ctx.new_page(), []
        page.on('console', lambda m, p=problems: m.type == 'error' and p.append(f'console error: {m.text}'))
        page.on('pageerror', lambda e, p=problems: p.append(f'script error: {e}'))
        page.on('requestfailed', lambda r, p=problems: p.append(f'request failed: {r.url[:100]} ({r.failure})'))
        page.on('response', lambda r, p=problems: r.status >= 400 and p.append(f'HTTP {r.status}: {r.url}'))
        resp = page.goto(base + name, wait_until='load')
        assert resp and resp.ok, f'{name}: {resp and resp.status}'
        facts = page.evaluate('''() => ({
            title: document.title,
            h1: (document.querySelector('h1') || {}).innerText || '',
            ids: Array.from(document.querySelectorAll('[id]'), e => e.id).concat(Array.from(document.querySelectorAll('a[name]'), e => e.name)),
            links: Array.from(document.querySelectorAll('a[href]'), a => a.href),
            imgs: Array.from(document.images, i => [i.currentSrc.slice(0, 60), i.complete, i.naturalWidth]),
            toc: Array.from(document.querySelectorAll('nav.sidebar ol.chapters > li > a'), a => [a.getAttribute('href'), a.getAttribute('aria-current')]),
            width: document.querySelector('main').getBoundingClientRect().width,
            mathml: Array.from(document.querySelectorAll('math'), m => m.getBoundingClientRect().width),
            text: document.body.innerText,
        })''')
        if shot is not None and name == names[min(1, len(names)-1)]: page.screenshot(path=str(shot))
        page.close()
        res[name] = dict(facts, problems=problems)
    ctx.close()
    if outside: res[names[0]]['problems'].append(f'requests outside the site: {outside[:5]}')
    return res

def link_problems(base: str, res: dict) -> list[str]:
    "Every link into the site must reach one of its pages, and an id on it"
    bad = []
    for name, f in res.items():
        for href in f['links']:
            if not href.startswith(base): continue  # another site: the test never follows it
            u = urlsplit(href)
            target = u.path.rsplit('/', 1)[-1] or 'index.html'
            if target not in res: bad.append(f'{name}: {href} is no page'); continue
            if u.fragment and u.fragment not in res[target]['ids']: bad.append(f'{name}: {href}: no id {u.fragment!r} on {target}')
    return bad

def check_site(res: dict, base: str, titles: dict[str, str]):
    names = list(res)
    for name, f in res.items():
        assert not f['problems'], f'{name}: {f["problems"]}'
        assert f['title'] == titles[name], f'{name}: <title> {f["title"]!r}, the notebook says {titles[name]!r}'
        assert f['h1'].strip().startswith(titles[name]), f'{name}: first heading {f["h1"]!r}'
        assert all(done and w > 0 for _, done, w in f['imgs']), f'{name}: images that did not load: {f["imgs"]}'
        assert [h for h, _ in f['toc']] == names, f'{name}: table of contents {f["toc"]}'
        assert [h for h, cur in f['toc'] if cur == 'page'] == [name], f'{name}: marked current in the contents: {f["toc"]}'
        assert 400 < f['width'] <= 1000, f'{name}: text column {f["width"]}px wide'
    assert not (bad := link_problems(base, res)), '\n'.join(bad[:20])

# ------------------------------------------------------------------------------------------------------------------
# The course as it is

def test_course_builds(course):
    "Without a browser: one page per notebook, in course order, nbdev's names, each with its title and the contents"
    out, pages = course
    nbs = _docs().discover(ROOT/'nbs')
    rest = sorted(p.name for p in (ROOT/'nbs').glob('*.ipynb') if p.name != 'index.ipynb' and p.name[0] not in '_.')
    assert [p.src.name for p in pages] == ['index.ipynb'] + rest == [p.name for p in nbs]
    assert pages[0].name == 'index.html' and len({p.name for p in pages}) == len(pages)
    for p in pages:
        html = (out/p.name).read_text()
        assert f'<title>{p.title}</title>' in unescape(html)
        assert p.title == _h1(p.src), (p.name, p.title)
        assert all(f'href="{q.name}"' in html for q in pages), p.name
        assert '<script' not in html, f'{p.name} loads scripts'
        assert not re.search(r'<(?:link|img|iframe|source)\b[^>]*\b(?:src|href)="(?:https?:)?//', html), f'{p.name} loads from another host'
        assert not [w for w in p.warnings if 'link' in w], p.warnings
    assert {'style.css', 'pygments.css'} <= {f.name for f in out.iterdir()}

def test_course_in_browser(browser, course, serve, tmp_path):
    out, pages = course
    base = serve(out)
    shot = tmp_path/'chapter.png'
    res = visit(browser, base, [p.name for p in pages], shot)
    check_site(res, base, {p.name: _h1(p.src) for p in pages})
    assert shot.stat().st_size > 10_000 and shot.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    print(f'screenshot of {pages[1].name}: {shot}')

# ------------------------------------------------------------------------------------------------------------------
# A small course made here, with what the real one will have: outputs, links between chapters, math

def _png(w=6, h=4) -> str:
    "A w x h red PNG, base64"
    raw = b''.join(b'\x00' + b'\xff\x00\x00' * w for _ in range(h))
    chunk = lambda t, d: struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d) & 0xffffffff)
    png = b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, 8, 2, 0, 0, 0)) + chunk(b'IDAT', zlib.compress(raw)) + chunk(b'IEND', b'')
    return base64.b64encode(png).decode()

def _nb(*cells):
    def cell(c):
        if isinstance(c, str): return dict(cell_type='markdown', metadata={}, source=c)
        src, outs = c
        return dict(cell_type='code', execution_count=None, metadata={}, outputs=outs, source=src)
    return dict(cells=[cell(c) for c in cells], metadata=dict(kernelspec=dict(display_name='Python 3', language='python', name='python3')),
                nbformat=4, nbformat_minor=5)

def _out(kind, **kw):
    if kind == 'stream': return dict(output_type='stream', name=kw['name'], text=kw['text'])
    return dict(output_type='display_data', metadata={}, data=kw['data'])

@pytest.fixture(scope='module')
def small(tmp_path_factory):
    d = tmp_path_factory.mktemp('small')
    (d/'pyproject.toml').write_text('[project]\nname = "small"\n\n[tool.nbdev]\njupyter_hooks = false\n')
    nbs = d/'nbs'; nbs.mkdir()
    table = '<table class="dataframe"><thead><tr><th></th><th>mAP</th></tr></thead><tbody><tr><th>0</th><td>0.65</td></tr></tbody></table>'
    books = {
        'index.ipynb': _nb('# Small course\n> A course of two chapters\n\nStart with [the data](01_data.ipynb), then [the losses](nbs/02_loss.ipynb#focal-loss).'),
        '01_data.ipynb': _nb(
            ('#| default_exp data', []),
            '# Data\n> Tables of labels\n\nThe intro that nbdev would drop with the title.\n\n## Reading `labels`\n\nSee [focal loss](02_loss.ipynb#Focal-loss) and [above](#reading-labels).',
            ('#| export\ndef read(x):\n    "Read `x`"\n    return x', []),
            ('print("hello")', [_out('stream', name='stdout', text='hello reader\n'), _out('stream', name='stderr', text='UserWarning: careful\n')]),
            ('#| hide\nsecret = 1', [_out('stream', name='stdout', text='SECRET OUTPUT\n')]),
            ('df', [_out('display_data', data={'text/html': table, 'text/plain': 'df'})]),
            ('#| echo: false\nplot()', [_out('display_data', data={'image/png': _png(), 'text/plain': '<Figure>'})]),
            ('#| code-fold: true\nfold_me = 2', []),
            ('#| exports\ndef shown(y): return y', []),
            'The loss is $\\ell = -\\sum_k y_k \\log p_k$, and\n\n$$\\frac{1}{n}\\sum_i \\ell_i$$\n\n::: {.callout-note}\nA note.\n:::'),
        '02_loss.ipynb': _nb('# Losses\n\n## Focal loss\n\nBack to [the data](01_data.ipynb#reading-labels).'),
    }
    for name, nb in books.items(): (nbs/name).write_text(json.dumps(nb))
    pages = _docs().build(d/'_site', nbs=nbs, quiet=True)
    return d/'_site', pages

def test_small_course_builds(small):
    out, pages = small
    assert [p.name for p in pages] == ['index.html', 'data.html', 'loss.html']
    data = (out/'data.html').read_text()
    assert 'The intro that nbdev would drop' in data and 'hello reader' in data and 'careful' in data
    assert 'SECRET' not in data and 'secret = 1' not in data and 'default_exp' not in data
    assert 'plot()' not in data and 'data:image/png;base64,' in data and 'class="dataframe"' in data
    assert '<details class="fold">' in data and 'Exported source' in data
    assert 'id="read"' in data and 'def read(x)' not in data.split('id="read"')[0], 'show_doc of an exported function'
    assert '<math' in data and 'callout-note' in data
    assert 'href="loss.html#focal-loss"' in data and 'href="#reading-labels"' in data
    assert 'href="loss.html#focal-loss"' in (out/'index.html').read_text() and 'href="data.html"' in (out/'index.html').read_text()
    assert all(not p.warnings for p in pages), [p.warnings for p in pages]

def test_small_course_in_browser(browser, small, serve):
    out, pages = small
    base = serve(out)
    res = visit(browser, base, [p.name for p in pages])
    check_site(res, base, {'index.html': 'Small course', 'data.html': 'Data', 'loss.html': 'Losses'})
    assert len(res['data.html']['imgs']) == 1 and res['data.html']['imgs'][0][2] == 6
    assert res['data.html']['mathml'] and all(w > 10 for w in res['data.html']['mathml']), 'MathML drawn'
    assert 'hello reader' in res['data.html']['text'] and 'SECRET' not in res['data.html']['text']
