"""The resolution of `mlic cam`'s maps, chosen on one half of the shared VOC validation images and measured on the other.

    python bench/cam_defaults.py [--data ../shared/data/voc2007] [--sizes 320,448,576,704] [--tol 15]

Trains `mlic train`'s defaults (`train_run`: MobileNetV2 from MLIC_WEIGHTS at 320 px, fastai's head, so Grad-CAM) on
the shared training images, once (cached in /tmp/mlic_bench_cam_model). The validation images (VOCdevkit boxes) are
dealt alternately into a choosing half and a held-out half. On the choosing half, the pointing game (`pointing_game`,
what `mlic eval --pointing` plays: the peak of each true class's map within `--tol` pixels of a box of that class) at
each map size of `--sizes`; the best is the choice. On the held-out half, which chose nothing: the model's default
(the `cam_size` its model.json records, `Recipe.cam_scale` times its size), its training size, and the image centre,
on the same (image, class) pairs. Writes bench/results/cam_defaults.json (read by chapter 06). About
15 minutes on 2 CPU cores.
"""
import argparse, time
from pathlib import Path
from _common import quiet, SHARED, save_results
from mlic.datasets import read_vocdevkit
from mlic.inference import load_model
from mlic.cam import pointing_game, cam_model

ap = argparse.ArgumentParser()
ap.add_argument('--data', default=str(SHARED/'data'/'voc2007'))
ap.add_argument('--sizes', default='320,448,576,704', help='map sizes to try on the choosing half')
ap.add_argument('--tol', type=float, default=15)
ap.add_argument('--model', default='/tmp/mlic_bench_cam_model', help='run folder (trained here if it has no model)')
a = ap.parse_args()
sizes = [int(s) for s in a.sizes.split(',')]

df, out = read_vocdevkit(a.data), Path(a.model)
if not (out/'model.json').exists():
    from mlic.recipe import train_run
    t0 = time.time()
    with quiet(): train_run(df, out)
    print(f'trained mlic train\'s defaults on {int((df.split == "train").sum())} images ({time.time() - t0:.0f}s)')
mm = load_model(out)
valid = list(df[df.split == 'valid'].path)
choose, held = valid[0::2], valid[1::2]
print(f"{mm}; maps {'averaged with the mirror image' if mm.meta.get('tta') else 'of the image alone'}; model.json cam_size "
      f"{mm.meta.get('cam_size')}; {len(choose)} choosing + {len(held)} held-out validation images", flush=True)

def play(half, paths, size, note=''):
    "The pointing game at maps of `size` on `paths`, as one row of the table (printed)."
    t0 = time.time(); pg = pointing_game(mm, paths, size=size, tol=a.tol); small = pg.box_share < 0.25
    row = dict(half=half, maps=f'{size} px ({size // 32}x{size // 32} cells){note}', size=size, pairs=len(pg), hits=round(pg.hit.mean(), 3),
               small=round(pg[small].hit.mean(), 3), centre=round(pg.centre_hit.mean(), 3), seconds=round(time.time() - t0))
    print(row, flush=True)
    return row

rows = [play('choosing', choose, s) for s in sizes]
best = max(rows, key=lambda r: r['hits'])['size']
default = cam_model(mm).size
print(f'best on the choosing half: {best} px; the model\'s default: {default} px', flush=True)
rows += [play('held out', held, s, ' (default)' if s == default else ' (training size)') for s in dict.fromkeys([default, mm.size])]
save_results('cam_defaults', rows, best_on_choosing_half=best, default_cam_size=default, train_size=mm.size, tol=a.tol,
             n_choosing=len(choose), n_held_out=len(held), goal='>= 85% of (image, class) pairs on images that chose nothing')
