"""Caching body features on a CPU: fastai's batches in PyTorch's default memory layout against `head_features`' own.

    python bench/features.py [--n 96] [--size 320] [--rounds 3]

`head_features` (chapter 04) computes the pooled body features of every training image and of its mirror once, which is
most of a run's time on a CPU. Each round times, one after another, on the first `--n` shared VOC images (MobileNetV2,
320 px, image and mirror): the body in PyTorch's default (contiguous) memory layout in batches of 16 (a fastai
`DataLoader`'s usual size, what `head_features` did before), and the channels-last layout in batches of 16, 4 and 2
(`feature_bs` on a CPU). Images a second are the median over the rounds; each ratio is the median of the ratios within
a round. Writes bench/results/features.json (read by chapter 04).
"""
import argparse, time
import numpy as np, torch
from _common import quiet, SHARED, save_results
from mlic.datasets import read_pascal_csv
from mlic.data import multilabel_dls
from mlic.backbones import multilabel_learner
from mlic.learner import head_features, channels_last

ap = argparse.ArgumentParser()
ap.add_argument('--n', type=int, default=96); ap.add_argument('--size', type=int, default=320); ap.add_argument('--rounds', type=int, default=3)
a = ap.parse_args()
df = read_pascal_csv(SHARED/'data'/'voc2007')
with quiet(): learn = multilabel_learner(multilabel_dls(df, size=a.size, bs=16), 'mobilenet_v2')
items = learn.dls.train.items[:a.n]

def contiguous(bs):
    "`head_features` as it was: the network in the default layout."
    dl = learn.dls.test_dl(items, with_labels=True, bs=bs)
    body, pool = learn.model[0], learn.model[1][:2]
    learn.model.eval()
    with torch.no_grad():
        for xb, _ in dl: pool(body(xb)); pool(body(xb.flip(-1)))

def cl(bs):
    with quiet(): head_features(learn, learn.dls.test_dl(items, with_labels=True, bs=bs))

runs = {'default layout, batches of 16 (before)': lambda: contiguous(16),
        **{f'channels-last, batches of {bs}': (lambda bs=bs: cl(bs)) for bs in (16, 4, 2)}}
speeds = {k: [] for k in runs}
for r in range(a.rounds):
    for k, f in runs.items():
        t = time.perf_counter(); f(); speeds[k].append(a.n / (time.perf_counter() - t))
        print(f'round {r + 1}: {k:40} {speeds[k][-1]:6.1f} img/s (and mirror)', flush=True)
S = {k: np.array(v) for k, v in speeds.items()}
base = S['default layout, batches of 16 (before)']
rows = [{'run': k, 'img/s': round(float(np.median(v)), 1), 'x before': round(float(np.median(v / base)), 2)} for k, v in S.items()]
for row in rows: print(row)
save_results('features', rows, n_images=a.n, size=a.size, rounds=a.rounds, arch='mobilenet_v2', counts='each image and its mirror')
