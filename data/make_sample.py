"""Rebuild the bundled samples in `data/` from `../shared/data` (run from the project root).

VOC: 200 trainval images (100 train, 100 val) chosen to cover every class that the shared subset has,
resized so the long side is at most 256 px, with their XML boxes scaled to match, `ImageSets/Main`
restricted to them, and fastai's `train.csv`. Pets: 2 images per breed, resized the same way.
"""
import csv, random, re, shutil, xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path
from PIL import Image

SRC, DST, MAX_SIDE, SEED = Path('../shared/data'), Path('data'), 256, 42

def resize(src, dst):
    "Save `src` to `dst` with the long side at most `MAX_SIDE`; return the scale applied."
    im = Image.open(src).convert('RGB')
    s = min(1.0, MAX_SIDE/max(im.size))
    if s < 1: im = im.resize((round(im.width*s), round(im.height*s)), Image.BICUBIC)
    dst.parent.mkdir(parents=True, exist_ok=True)
    im.save(dst, quality=85)
    return s, im.size

def pick_voc(rows, n_per_split=100, per_class=12):
    "Rare classes first, so that every class present in a split keeps a few images; then fill at random."
    rng, chosen = random.Random(SEED), {'False': [], 'True': []}
    counts = defaultdict(int)
    for r in rows: counts[r['labels']] += 0
    freq = defaultdict(int)
    for r in rows:
        for l in r['labels'].split(): freq[l] += 1
    for split in chosen:
        pool = [r for r in rows if r['is_valid'] == split]
        rng.shuffle(pool)
        for c in sorted(freq, key=freq.get):
            have = sum(c in r['labels'].split() for r in chosen[split])
            for r in pool:
                if have >= per_class or len(chosen[split]) >= n_per_split: break
                if c in r['labels'].split() and r not in chosen[split]: chosen[split].append(r); have += 1
        for r in pool:
            if len(chosen[split]) >= n_per_split: break
            if r not in chosen[split]: chosen[split].append(r)
    return sorted(chosen['False'] + chosen['True'], key=lambda r: r['fname'])

def scale_xml(src, dst, s, size):
    "Copy an annotation, scaling its boxes by `s` and writing the new image size."
    t = ET.parse(src)
    root = t.getroot()
    root.find('size/width').text, root.find('size/height').text = str(size[0]), str(size[1])
    for bb in root.iter('bndbox'):
        for k in ('xmin', 'ymin', 'xmax', 'ymax'):
            e = bb.find(k); e.text = str(max(1, round(float(e.text)*s)))
    dst.parent.mkdir(parents=True, exist_ok=True)
    t.write(dst)

def make_voc():
    src, dst = SRC/'voc2007', DST/'voc2007'
    shutil.rmtree(dst, ignore_errors=True)
    rows = pick_voc(list(csv.DictReader(open(src/'train.csv'))))
    ids = {r['fname'][:-4] for r in rows}
    sd, dd = src/'VOCdevkit/VOC2007', dst/'VOCdevkit/VOC2007'
    for i in sorted(ids):
        s, size = resize(sd/f'JPEGImages/{i}.jpg', dd/f'JPEGImages/{i}.jpg')
        scale_xml(sd/f'Annotations/{i}.xml', dd/f'Annotations/{i}.xml', s, size)
    (dd/'ImageSets/Main').mkdir(parents=True, exist_ok=True)
    for f in sorted((sd/'ImageSets/Main').glob('*.txt')):
        if not re.fullmatch(r'([a-z]+_)?(train|val|trainval)\.txt', f.name): continue
        keep = [l for l in f.read_text().splitlines() if l.split() and l.split()[0] in ids]
        (dd/'ImageSets/Main'/f.name).write_text('\n'.join(keep)+'\n')
    with open(dst/'train.csv', 'w', newline='') as fh:
        w = csv.DictWriter(fh, fieldnames=['fname', 'labels', 'is_valid'])
        w.writeheader(); w.writerows(rows)
    print(f'VOC sample: {len(rows)} images')

def make_pets(per_breed=2):
    dst = DST/'pets/images'
    shutil.rmtree(DST/'pets', ignore_errors=True)
    by_breed = defaultdict(list)
    for f in sorted((SRC/'pets').glob('*.jpg')): by_breed[f.name.rsplit('_', 1)[0]].append(f)
    for fs in by_breed.values():
        for f in fs[:per_breed]: resize(f, dst/f.name)
    print(f'Pets sample: {len(list(dst.glob("*.jpg")))} images, {len(by_breed)} breeds')

if __name__ == '__main__':
    make_voc(); make_pets()
