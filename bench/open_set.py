"""`mlic train` on a Pets folder (chapter 05's `open_set_run`, with its defaults), scored on real photos that chose nothing.

    python bench/open_set.py [--splits 4] [--size 320] [--keep 0.9] [--steps 400]

The 296 shared Pets images (8 per breed) are dealt into `--splits` parts, the same number of each breed in each. Each
run trains `open_set_run` on all parts but one (MobileNetV2 from ../shared/weights), then predicts with the exported
model, through `mlic.inference.predict` as `mlic predict` does, on the left-out pets and on the 749 shared VOC photos
with neither a cat nor a dog. Neither chose anything: the default rule picks the threshold from the training pets
alone (90% of the correctly classified ones kept, scored out of fold). Every pet is left out once.

Prints, per run and pooled: the threshold, the share of left-out pets whose answer is exactly their breed, whose top
breed is right, that get no label, and the share of the VOC photos that get no label; then the run's own out-of-fold
estimates from its `metrics.json`. Writes bench/results/open_set.json (with the pooled trade-off curve, read by
chapter 05).
"""
import argparse, shutil, tempfile, time
from pathlib import Path
import numpy as np, pandas as pd
from _common import quiet, SHARED, save_results
from mlic.datasets import read_pets, read_pascal_csv
from mlic.inference import predict
from mlic.open_set import open_set_run, voc_without_pets, label_folds, tradeoff

p = argparse.ArgumentParser()
p.add_argument('--splits', type=int, default=4); p.add_argument('--size', type=int, default=320)
p.add_argument('--keep', type=float, default=0.9); p.add_argument('--steps', type=int, default=400)
a = p.parse_args()
pets, voc = read_pets(SHARED/'data'/'pets'), voc_without_pets(read_pascal_csv(SHARED/'data'/'voc2007'))
part = label_folds(pets.labels, a.splits, seed=1)
print(f'{len(pets)} Pets images, {pets.labels.nunique()} breeds, in {a.splits} parts; {len(voc)} VOC photos without a cat or a dog')

def records(model, files) -> list:
    with quiet(): return list(predict(model, files, progress=False))

rows, id_conf, id_right, ood_conf = [], [], [], []
for k in range(a.splits):
    t0, out = time.time(), Path(tempfile.mkdtemp())/'pets'
    train, test = pets[part != k], pets[part == k]
    with quiet(): m = open_set_run(train, out, size=a.size, head_steps=a.steps, keep=a.keep)  # its own split matters not: it trains on all
    rp, ro = records(out, list(test.path)), records(out, voc)
    top = [max(r['scores'], key=r['scores'].get) for r in rp]
    id_conf += [max(r['scores'].values()) for r in rp]; id_right += [t == l for t, l in zip(top, test.labels)]
    ood_conf += [max(r['scores'].values()) for r in ro]
    rows.append(dict(run=f'left out: part {k + 1}', threshold=m['threshold'], n_pets=len(rp),
                     exact_breed=float(np.mean([r['labels'] == [l] for r, l in zip(rp, test.labels)])),
                     top1_right=float(np.mean([t == l for t, l in zip(top, test.labels)])),
                     pets_no_label=float(np.mean([r['labels'] == [] for r in rp])), n_ood=len(ro),
                     ood_no_label=float(np.mean([r['labels'] == [] for r in ro])),
                     oof_estimate_exact=m['id_exact'], oof_estimate_accuracy=m['id_accuracy'], seconds=time.time() - t0))
    print({k: (round(v, 3) if isinstance(v, float) else v) for k, v in rows[-1].items()}, flush=True)
    shutil.rmtree(out.parent, ignore_errors=True)
df = pd.DataFrame(rows)
n = df.n_pets.sum()
pooled = dict(run='pooled', threshold=df.threshold.mean(), n_pets=int(n), n_ood=int(df.n_ood.sum()), seconds=df.seconds.sum(),
              **{c: float((df[c] * (df.n_ood if c.startswith('ood') else df.n_pets)).sum() / (df.n_ood.sum() if c.startswith('ood') else n))
                 for c in ('exact_breed', 'top1_right', 'pets_no_label', 'ood_no_label', 'oof_estimate_exact', 'oof_estimate_accuracy')})
rows.insert(0, pooled)
print(pd.DataFrame(rows).set_index('run').round(3).to_string())
curve = tradeoff(dict(id=np.array(id_conf), ood=np.array(ood_conf), correct=np.array(id_right)))
save_results('open_set', rows, setup=f"open_set_run defaults (size {a.size}, keep {a.keep:.0%}, {a.steps} head steps); {a.splits} runs, "
             f"each trained on {len(pets) - len(pets) // a.splits} shared Pets images; scored on the left-out pets and {len(voc)} VOC photos without a pet",
             tradeoff=curve.reset_index().round(4).to_dict('records'),
             goal='>= 90% of real photos without a cat or dog get no label; >= 70% of unseen pets get exactly their breed')
