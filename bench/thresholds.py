"""Per-class thresholds against the best single global threshold, on the shared VOC 2007 subset.

    python bench/thresholds.py [--data ../shared/data/voc2007] [--epochs N] [--size PX]

Trains mlic's model on `is_valid == False`, then on `is_valid == True` reports macro-F1 at the best global threshold
and at per-class thresholds, (a) tuned and scored on the whole validation set (what the chapter shows), and (b) tuned on
one half and scored on the other, both ways round and averaged (no tuning on the scored images).
"""
import argparse, time
import numpy as np
from _common import quiet, SHARED
from fastai.vision.all import aug_transforms, set_seed
from mlic.data import read_pascal_csv, multilabel_dls
from mlic.backbones import multilabel_learner
from mlic.losses import BCELossMulti
from mlic.metrics import mean_ap, f1, threshold_sweep, per_class_thresholds

p = argparse.ArgumentParser()
p.add_argument('--data', default=str(SHARED/'data'/'voc2007'))
p.add_argument('--epochs', type=int, default=8)
p.add_argument('--size', type=int, default=160)
a = p.parse_args()
set_seed(42, reproducible=True)
df = read_pascal_csv(a.data)
t0 = time.time()
with quiet():
    dls = multilabel_dls(df, bs=16, size=a.size, batch_tfms=aug_transforms(), num_workers=2)
    learn = multilabel_learner(dls, loss_func=BCELossMulti())
    learn.fine_tune(a.epochs, base_lr=5e-3, freeze_epochs=2)
    probs, targs = learn.get_preds()
P, T = probs.numpy(), targs.numpy()
print(f'{a.data}: train {int((df.split == "train").sum())}, valid {len(T)} images; mobilenet_v2 size {a.size}, '
      f'{a.epochs}+2 epochs, {time.time()-t0:.0f}s; validation mAP {mean_ap(P, T):.3f}')

def compare(Pt, Tt, Ps, Ts):
    "Tune on (Pt, Tt), score on (Ps, Ts): macro-F1 at the best global threshold and at per-class thresholds."
    g = threshold_sweep(Pt, Tt).f1_macro.idxmax()
    return g, f1(Ps, Ts, g), f1(Ps, Ts, per_class_thresholds(Pt, Tt))

g, fg, fc = compare(P, T, P, T)
print(f'(a) tuned and scored on all {len(T)} validation images: global thresh {g:.2f} macro-F1 {fg:.3f}; '
      f'per-class macro-F1 {fc:.3f} ({fc/fg:.2f}x)')
rng = np.random.default_rng(0)
res = []
for seed in range(5):
    idx = np.random.default_rng(seed).permutation(len(T)); h1, h2 = idx[:len(T)//2], idx[len(T)//2:]
    res += [compare(P[h1], T[h1], P[h2], T[h2])[1:], compare(P[h2], T[h2], P[h1], T[h1])[1:]]
r = np.array(res)
print(f'(b) tuned on one half, scored on the other (5 random halvings x 2): global macro-F1 {r[:, 0].mean():.3f}; '
      f'per-class {r[:, 1].mean():.3f} ({r[:, 1].mean()/r[:, 0].mean():.2f}x; per-class higher in {int((r[:, 1] > r[:, 0]).sum())}/{len(r)})')
