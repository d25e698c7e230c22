"""Pointing game on PASCAL VOC 2007 boxes (issue 6): does the peak of each true class's map fall on that class?

    python bench/cam_pointing.py [--data ../shared/data/voc2007] [--size 704] [--steps 400] [--no-flip] [--n-valid N]

Trains two heads on cached MobileNetV2 features (ImageNet weights from MLIC_WEIGHTS) of the training images (and their
mirror images), squished to --size: `cam_learner`'s head (average pooling + one linear layer: exact CAM) and fastai's
default head (mlic's recipe: Grad-CAM at the body's output). On the validation images, for each class with a box in
the image, a hit is a map peak within 15 pixels of a box of that class (Zhang et al. 2016); maps are averaged with
those of the mirror image unless --no-flip. The centre baseline always points at the image centre; every row is
scored on the same (image, class) pairs. Prints one table and writes it to bench/results/cam_pointing.json (read by
chapter 06). About 40 minutes on two busy CPU cores at 704 pixels.
"""
import argparse, time
from _common import quiet, SHARED, save_results
from fastai.vision.all import Resize, set_seed
from mlic.data import multilabel_dls
from mlic.datasets import read_vocdevkit
from mlic.backbones import multilabel_learner
from mlic.losses import BCELossMulti
from mlic.learner import fit_head
from mlic.cam import cam_learner, pointing_game

p = argparse.ArgumentParser()
p.add_argument('--data', default=str(SHARED/'data'/'voc2007'))
p.add_argument('--size', type=int, default=704, help='input side: the maps have size/32 cells a side')
p.add_argument('--no-flip', dest='flip', action='store_false', help='single maps, not averaged with the mirror image')
p.add_argument('--steps', type=int, default=400, help='fit_head steps')
p.add_argument('--n-valid', type=int, default=None, help='only the first N validation images (a quick look)')
p.add_argument('--tol', type=float, default=15)
a = p.parse_args()

df = read_vocdevkit(a.data)
valid = df[df.split == 'valid'].path.iloc[:a.n_valid]
print(f"{a.data}: {int((df.split == 'train').sum())} training images, {len(valid)} validation images; "
      f"mobilenet_v2 at {a.size}px (squished, {a.size // 32}x{a.size // 32} maps), fit_head {a.steps} steps, "
      f"maps {'averaged with the mirror image' if a.flip else 'of the image alone'}", flush=True)

def trained(make):
    set_seed(42, reproducible=True)
    with quiet():
        dls = multilabel_dls(df, bs=32, size=a.size, item_tfms=Resize(a.size, method='squish'), num_workers=2)
        learn = make(dls, loss_func=BCELossMulti())
        fit_head(learn, steps=a.steps)
    return learn

res, t0 = {}, time.time()
res['CAM (avg pool + linear head)'] = pointing_game(trained(cam_learner), valid, method='cam', flip=a.flip, tol=a.tol)
print(f'CAM done ({time.time() - t0:.0f}s)', flush=True)
res['Grad-CAM (default head)'] = pointing_game(trained(multilabel_learner), valid, method='gradcam', flip=a.flip, tol=a.tol)
print(f'Grad-CAM done ({time.time() - t0:.0f}s)', flush=True)

base = next(iter(res.values()))
assert all((r[['file', 'cls']].values == base[['file', 'cls']].values).all() for r in res.values())  # the same pairs
small = (base.box_share < 0.25).values
rows = [('centre of the image', base.centre_hit.values)]
for name, r in res.items(): rows += [(name, r.hit.values), ('  peak at its cell centre', r.cell_hit.values)]
c = base.centre_hit.values
print(f"\n{len(base)} (image, class) pairs in {base.file.nunique()} images; 'small': the class's largest box covers < 1/4 "
      f"of the image ({small.sum()} pairs); hit = peak within {a.tol:g} px of a box of the class\n")
print(f"{'':32} {'all':>7} {'vs centre':>10} {'small':>7} {'vs centre':>10}")
table = []
for name, h in rows:
    print(f'{name:32} {h.mean():7.1%} {(h.mean() - c.mean()) * 100:+9.1f}p {h[small].mean():7.1%} '
          f'{(h[small].mean() - c[small].mean()) * 100:+9.1f}p')
    table.append({'method': name.strip(), 'hits, all pairs': f'{h.mean():.1%}', 'vs centre': f'{(h.mean() - c.mean()) * 100:+.1f} points',
                  'hits, small objects': f'{h[small].mean():.1%}', 'vs centre, small': f'{(h[small].mean() - c[small].mean()) * 100:+.1f} points'})
save_results('cam_pointing', table, n_pairs=len(base), n_images=int(base.file.nunique()), n_small=int(small.sum()), size=a.size,
             flip=a.flip, tol=a.tol)
print(f'\n({time.time() - t0:.0f}s)')
