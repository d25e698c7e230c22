"""`mlic serve` on 127.0.0.1, used as a person and as programs use it: the page in headless Chromium, bad uploads, and
8 clients at once, every answer checked against `mlic predict`. Nothing is downloaded: the model has pretrained weights
only when they are at hand (`MLIC_WEIGHTS`, ../shared), else random ones.
`MLIC_SCREENSHOT=PATH` keeps the browser's screenshot of the page there (chapter 08 shows one)."""
import io, json, os, shutil, socket, struct, subprocess, sys, threading, time, zlib
from pathlib import Path
import numpy as np, pytest

httpx = pytest.importorskip('httpx')
ROOT = Path(__file__).resolve().parent.parent
IMAGES = sorted((ROOT/'data'/'voc2007'/'VOCdevkit'/'VOC2007'/'JPEGImages').glob('*.jpg'))
MLIC = Path(sys.executable).parent/'mlic'

@pytest.fixture(scope='module')
def model(tmp_path_factory):
    """An exported model with exact class maps (`cam_learner`'s head): with pretrained weights when there are some (its head
    trained for a moment, thresholds chosen on the sample's validation images), else random weights with thresholds that
    pass car, dog and person on every image, so that the page has labels and maps to show either way."""
    from fastai.vision.all import Resize
    from mlic.data import multilabel_dls, VOC_CLASSES
    from mlic.datasets import load_voc
    from mlic.cam import cam_learner
    from mlic.learner import fit_head
    from mlic.losses import BCELossMulti
    from mlic.metrics import set_thresholds, choose_thresholds
    from mlic.inference import export_model
    from conftest import _weights
    w = _weights()
    dls = multilabel_dls(load_voc(), bs=8, size=128, item_tfms=Resize(128, method='squish'), num_workers=0)
    learn = cam_learner(dls, weights=w or None, pretrained=w is not None, loss_func=BCELossMulti())
    if learn.pretrained:
        fit_head(learn, 200)
        p, t = learn.get_preds()
        set_thresholds(learn, choose_thresholds(p.numpy(), t.numpy())[0])
    else: set_thresholds(learn, [0. if c in ('car', 'dog', 'person') else 1. for c in VOC_CLASSES])  # probabilities are in (0, 1)
    return export_model(learn, tmp_path_factory.mktemp('m')/'model')

def _free_port():
    with socket.socket() as s: s.bind(('127.0.0.1', 0)); return s.getsockname()[1]

@pytest.fixture(scope='module')
def server(model, tmp_path_factory):
    "`mlic serve` in a process of its own; its log must have no traceback when it stops."
    port, log = _free_port(), tmp_path_factory.mktemp('log')/'server.log'
    p = subprocess.Popen([str(MLIC), 'serve', '--model', str(model), '--port', str(port)], stdout=open(log, 'w'), stderr=subprocess.STDOUT)
    url = f'http://127.0.0.1:{port}'
    for _ in range(240):
        try:
            if httpx.get(url + '/health', timeout=2).status_code == 200: break
        except httpx.HTTPError: time.sleep(0.5)
    else: p.kill(); pytest.fail('mlic serve did not start: ' + log.read_text()[-2000:])
    yield url
    p.terminate(); p.wait(20)
    assert 'Traceback' not in log.read_text(), log.read_text()[-3000:]

@pytest.fixture(scope='module')
def predicted(model):
    "What `mlic predict` prints for the sample images, by file name."
    r = subprocess.run([str(MLIC), 'predict', '--model', str(model), *map(str, IMAGES)], capture_output=True, text=True, check=True)
    return {Path(d['file']).name: d for d in map(json.loads, r.stdout.splitlines())}

def up(data, name, field='files'): return (field, (name, data, 'application/octet-stream'))
def alive(url): return httpx.get(url + '/health', timeout=30).status_code == 200

def png_header(w, h) -> bytes:
    "A small PNG whose header says w x h: a decompression bomb as `Image.open` sees it."
    chunk = lambda t, d: struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d) & 0xffffffff)
    return b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, 8, 2, 0, 0, 0)) + chunk(b'IDAT', zlib.compress(b'\0' * 64)) + chunk(b'IEND', b'')

def test_json_answers_are_what_mlic_predict_prints(server, model):
    "The same images in one request, and to `mlic predict`: the same records, to the last digit."
    r = httpx.post(server + '/predict', files=[up(f.read_bytes(), f.name) for f in IMAGES[:5]], timeout=120)
    cli = subprocess.run([str(MLIC), 'predict', '--model', str(model), *map(str, IMAGES[:5])], capture_output=True, text=True, check=True)
    assert r.status_code == 200 and r.json() == [dict(d, file=Path(d['file']).name) for d in map(json.loads, cli.stdout.splitlines())]

def same(got:dict, want:dict) -> bool:
    "The same labels, and scores within float rounding (one image alone is another batch than `mlic predict`'s)."
    return got['labels'] == want['labels'] and max(abs(got['scores'][c] - s) for c, s in want['scores'].items()) < 1e-5

def test_bad_uploads_get_a_4xx_with_a_message_and_the_server_goes_on(server):
    jpg = IMAGES[0].read_bytes()
    cases = {'not an image': (dict(files=[up(b'just text\n' * 20, 'notes.jpg')]), 422, 'not an image'),
             'truncated JPEG': (dict(files=[up(jpg[:len(jpg) // 2], 'half.jpg')]), 422, 'cannot decode'),
             'decompression bomb': (dict(files=[up(png_header(30_000, 30_000), 'bomb.png')]), 422, 'too large'),
             'over 20 MB': (dict(files=[up(b'\xff' * (25 << 20), 'big.jpg')]), 413, '20 MB'),
             'empty form': (dict(content=b'--zz--\r\n', headers={'content-type': 'multipart/form-data; boundary=zz'}), 400, 'No image'),
             'wrong field name': (dict(files=[up(jpg, 'a.jpg', field='image')]), 400, "field 'files'"),
             'not multipart': (dict(json={'files': ['a.jpg']}), 415, 'multipart/form-data')}
    for name, (kw, status, words) in cases.items():
        r = httpx.post(server + '/predict', timeout=120, **kw)
        body = r.json()
        msg = body['error'] if isinstance(body, dict) else body[0]['error']
        assert r.status_code == status and words in msg and 'Traceback' not in r.text, (name, r.status_code, msg)
        assert alive(server), name
    r = httpx.post(server + '/', files=[up(b'\xff' * (25 << 20), 'big.jpg')], timeout=120)  # the page says it too
    assert r.status_code == 413 and '20 MB' in r.text

def test_eight_clients_at_once_all_answered_with_predicts_answers(server, predicted):
    "8 clients x 25 requests of one image each: every request answered, no 5xx, each answer `mlic predict`'s."
    codes, wrong, lock = [], [], threading.Lock()
    def client(k):
        with httpx.Client(base_url=server, timeout=120) as c:
            for i in range(25):
                f = IMAGES[(k * 25 + i) % len(IMAGES)]
                try: r = c.post('/predict', files=[up(f.read_bytes(), f.name)])
                except httpx.HTTPError as e:
                    with lock: codes.append(type(e).__name__)
                    continue
                with lock:
                    codes.append(r.status_code)
                    if r.status_code != 200 or r.json()[0]['file'] != f.name or not same(r.json()[0], predicted[f.name]): wrong.append(f.name)
    ts = [threading.Thread(target=client, args=(k,), daemon=True) for k in range(8)]
    for t in ts: t.start()
    for t in ts: t.join(timeout=600)
    assert not any(t.is_alive() for t in ts), 'clients still waiting after 10 minutes'
    assert len(codes) == 200 and set(codes) == {200} and not wrong, (sorted(set(map(str, codes))), wrong[:5])

def test_the_page_in_a_real_browser(server, browser, predicted, tmp_path):
    "Upload a VOC image through the page: its labels and a map per label show; a text file named .jpg gets the error."
    page, seen, errors = browser.new_page(), [], []
    page.on('request', lambda r: seen.append(r.url))
    page.on('console', lambda m: m.type == 'error' and errors.append(m.text))
    page.goto(server + '/')
    assert page.title() == 'mlic model'
    img = next(f for f in IMAGES if len(predicted[f.name]['labels']) > 1)  # an image with labels, and maps, to show
    page.set_input_files('input[name=files]', str(img))
    with page.expect_navigation(): page.click('button[type=submit]')
    assert page.inner_text('.labels') == ', '.join(predicted[img.name]['labels'])
    widths = page.eval_on_selector_all('img[alt^="class activation map of"]', 'els => els.map(e => e.naturalWidth)')
    assert len(widths) == len(predicted[img.name]['labels']) and min(widths) > 0
    shot = Path(os.environ.get('MLIC_SCREENSHOT') or tmp_path/'page.png')
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    assert not errors, errors
    (tmp_path/'notes.jpg').write_text('this is not an image')  # (its 422 is logged by the browser as a failed load)
    page.goto(server + '/')
    page.set_input_files('input[name=files]', str(tmp_path/'notes.jpg'))
    with page.expect_navigation(): page.click('button[type=submit]')
    assert 'not an image' in page.inner_text('.card .err')
    assert alive(server)
    assert all(u.startswith(server) or u.startswith('data:') for u in seen), [u for u in seen if not u.startswith(server)]
