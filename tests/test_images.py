"Messy image files: each is either read (converted to RGB) or reported, by `check_image` and by `predict`, never a crash."
import os
from pathlib import Path
import numpy as np
import pytest
from PIL import Image
from mlic.data import open_image, multilabel_dls, bundled_data
from mlic.datasets import check_image, load_voc
from mlic.backbones import multilabel_learner
from mlic.inference import export_model, predict

def _make(d:Path) -> dict:
    "name -> expected problem word (None: readable) for a folder of awkward files."
    src = sorted((bundled_data()/'voc2007'/'VOCdevkit'/'VOC2007'/'JPEGImages').glob('*.jpg'))[0]
    rgb = Image.open(src).convert('RGB')
    (d/'zero.jpg').touch()
    (d/'truncated.jpg').write_bytes(src.read_bytes()[:3000])
    (d/'text.jpg').write_text('hello, not an image')
    rgba = rgb.convert('RGBA'); rgba.putalpha(128); rgba.save(d/'alpha.png')
    rgb.convert('P', palette=Image.ADAPTIVE).save(d/'palette.png')
    Image.fromarray((np.arange(64*64, dtype=np.uint16).reshape(64, 64) * 16)).save(d/'gray16.png')
    rgb.convert('CMYK').save(d/'cmyk.jpg')
    ex = rgb.getexif(); ex[0x0112] = 6; rgb.save(d/'exif_rotated.jpg', exif=ex)
    Image.new('RGB', (1, 1), (10, 200, 30)).save(d/'one_pixel.png')
    Image.new('1', (14000, 14000)).save(d/'bomb.png')  # 196M pixels: over twice PIL's decompression-bomb limit
    os.symlink(d/'nowhere.jpg', d/'dangling.jpg')
    rgb.save(d/'chât_été_猫.jpg')
    return {'zero.jpg': 'zero-byte', 'truncated.jpg': 'truncated', 'text.jpg': 'unreadable', 'alpha.png': None,
            'palette.png': None, 'gray16.png': None, 'cmyk.jpg': None, 'exif_rotated.jpg': None, 'one_pixel.png': None,
            'bomb.png': 'too large', 'dangling.jpg': 'broken symlink', 'chât_été_猫.jpg': None}

@pytest.fixture(scope='module')
def messy(tmp_path_factory):
    d = tmp_path_factory.mktemp('messy')
    return d, _make(d)

def test_check_image_reports_each_bad_file_and_accepts_the_rest(messy):
    d, want = messy
    for name, word in want.items():
        got = check_image(d/name)
        if word is None: assert got is None, (name, got)
        else: assert got and word in got, (name, got)

def test_decodable_oddities_are_converted_not_rejected(messy):
    d, _ = messy
    for name in ('alpha.png', 'palette.png', 'gray16.png', 'cmyk.jpg', 'one_pixel.png', 'chât_été_猫.jpg'):
        assert open_image(d/name).mode == 'RGB'
    w, h = Image.open(d/'exif_rotated.jpg').size
    assert open_image(d/'exif_rotated.jpg').size == (h, w)  # the EXIF orientation is applied
    assert np.asarray(open_image(d/'gray16.png')).max() > 200  # 16-bit scaled, not clipped to white
    assert np.asarray(open_image(d/'gray16.png')).min() < 5

def test_predict_answers_every_input_once(messy, tmp_path):
    d, want = messy
    dls = multilabel_dls(load_voc(), bs=8, size=64, num_workers=0)
    model = export_model(multilabel_learner(dls, pretrained=False), tmp_path/'m')  # random weights: reading images is the point
    files = [d/n for n in want] + [d/'never_existed.jpg']
    res = list(predict(model, files, bs=4))
    assert [Path(r['file']).name for r in res] == [f.name for f in files]
    for r, f in zip(res, files):
        bad = want.get(f.name, 'missing')
        assert ('error' in r) == (bad is not None), (f.name, r.get('error'))
        if bad is None: assert len(r['scores']) == 20 and all(0 <= s <= 1 for s in r['scores'].values())
