"""Per-class thresholds against the best single global threshold, on the shared VOC 2007 subset.

    python bench/thresholds.py [--data ../shared/data/voc2007]

mlic's recipe trains on `is_valid == False` (chapter 04c), then on `is_valid == True` reports macro-F1 of each way of choosing thresholds:
one global threshold, per-class thresholds (with the global one for classes with fewer positives than a minimum), and
`choose_thresholds`, which picks among those by cross-fitting. Every score is on images that did not choose the
thresholds: one half of the validation images chooses, the other half scores, both ways round, over five random
halvings. Writes bench/results/thresholds.json (read by chapter 03).
"""
import argparse, time
import numpy as np
from _common import quiet, SHARED, save_results
from mlic.datasets import read_pascal_csv
from mlic.learner import predict_tta
from mlic.recipe import train_run
from functools import partial
from mlic.metrics import mean_ap, per_class_thresholds, crossfit_f1, choose_thresholds

p = argparse.ArgumentParser()
p.add_argument('--data', default=str(SHARED/'data'/'voc2007'))
a = p.parse_args()
df = read_pascal_csv(a.data)
t0 = time.time()
with quiet():
    learn, m = train_run(df, '/tmp/mlic_bench_thresholds')
    probs, targs, _ = predict_tta(learn)
P, T = probs.numpy(), targs.numpy()
print(f'{a.data}: train {int((df.split == "train").sum())}, valid {len(T)} images; mlic\'s recipe (train_run defaults), '
      f'{time.time()-t0:.0f}s; validation mAP {mean_ap(P, T):.3f}')

def chosen(p, t): return choose_thresholds(p, t)[0]
rules = {'one global threshold': partial(per_class_thresholds, min_pos=np.inf),
         **{f'per class (classes with >= {k} positives)': partial(per_class_thresholds, min_pos=k) for k in (3, 10, 25)},
         'chosen by choose_thresholds (on its half only)': chosen}
rows = []
for name, rule in rules.items():
    rows.append({'thresholds': name, 'macro-F1, cross-fitted': round(crossfit_f1(P, T, rule), 3)})
    print(f"{name:48} macro-F1 {rows[-1]['macro-F1, cross-fitted']:.3f} (chosen on one half, scored on the other; 5 halvings x 2)", flush=True)
save_results('thresholds', rows, n_train=int((df.split == 'train').sum()), n_valid=len(T), mAP=round(mean_ap(P, T), 3),
             positives_per_class=dict(zip(learn.dls.vocab, T.sum(0).astype(int).tolist())))
