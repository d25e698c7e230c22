"""The "no label" trick against softmax on the shared Oxford-IIIT Pets images.

    python bench/open_set.py [--size 224] [--steps 400] [--target 0.9]

Same backbone (MobileNetV2 from ../shared/weights), same 296 Pets images (6 per breed to train, 2 to score), same
budget (`fit_head` steps on the same cached features) for both models. OOD images: the shared VOC images with
neither a cat nor a dog, plus 30 generated noise and flat images. The decision threshold of each model is chosen
for `--target` OOD rejection on one half of the OOD images and reported on the other half.
"""
import argparse, time
import numpy as np, pandas as pd
from _common import quiet, SHARED
from mlic.datasets import read_pets, read_pascal_csv
from mlic.open_set import train_open_set, confidences, choose_threshold, open_set_report, synthetic_ood, voc_without_pets

p = argparse.ArgumentParser()
p.add_argument('--size', type=int, default=224); p.add_argument('--steps', type=int, default=400)
p.add_argument('--target', type=float, default=0.9)
a = p.parse_args()
pets = read_pets(SHARED/'data'/'pets', valid_pct=0.25)
voc_ood = voc_without_pets(read_pascal_csv(SHARED/'data'/'voc2007'))
ood = voc_ood + synthetic_ood(30)
rng = np.random.default_rng(0); idx = rng.permutation(len(ood)); tune, rep = idx[:len(ood)//2], idx[len(ood)//2:]
n_voc = len(voc_ood)
print(f'ID: {len(pets)} Pets images ({(pets.split == "train").sum()} train, {(pets.split == "valid").sum()} scored), 37 breeds; '
      f'OOD: {n_voc} VOC images without cats or dogs + 30 generated; threshold for {a.target:.0%} rejection on half of them')
rows = {}
for kind in ('multilabel', 'softmax'):
    t0 = time.time()
    with quiet():
        learn = train_open_set(pets, kind, size=a.size, head_steps=a.steps)
        c = confidences(learn, pets, ood)
    th = choose_threshold(c['id'], c['ood'][tune], a.target)
    held = dict(id=c['id'], ood=c['ood'][rep], correct=c['correct'])
    r = open_set_report(held, th)
    r['ood_voc_rejected'] = float((c['ood'][[i for i in rep if i < n_voc]] < th).mean())
    r['seconds'] = time.time() - t0
    rows[kind] = r
print(pd.DataFrame(rows).T[['id_accuracy', 'id_kept', 'ood_rejected', 'ood_voc_rejected', 'auroc', 'threshold', 'seconds']].round(3).to_string())
ml, sm = rows['multilabel'], rows['softmax']
print(f"multi-label - softmax: ID accuracy {100*(ml['id_accuracy']-sm['id_accuracy']):+.1f} points, "
      f"OOD VOC rejected {100*(ml['ood_voc_rejected']-sm['ood_voc_rejected']):+.1f} points, AUROC {ml['auroc']-sm['auroc']:+.3f}")
