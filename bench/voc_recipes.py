"""fastbook's chapter-6 recipe against mlic's recipe, same images, same backbone, on the shared VOC 2007 subset.

    python bench/voc_recipes.py [--data ../shared/data/voc2007] [--arch mobilenet_v2]

Both train on the `is_valid == False` images and are scored on the `is_valid == True` ones, which neither saw.
Prints one table: mAP, macro-F1 at each recipe's thresholds (fastbook: 0.2 for every class; mlic: per-class,
tuned on one half of the validation images and scored on the other, averaged both ways, so no image scores the
thresholds it chose), and training seconds (fastbook: data, learner and `fine_tune`; mlic: feature caching, head training, and any fine-tuning).
A third row scores mlic's trained head alone, without the zero-shot prior of the pretrained classifier (chapter 04a).
Writes bench/results/voc_recipes.json (read by chapter 04c).
"""
import argparse, time
import numpy as np
from _common import quiet, SHARED, save_results
from fastai.vision.all import set_seed
from mlic.datasets import read_pascal_csv
from mlic.learner import predict_tta
from mlic.recipe import train_run, fastbook_recipe
from mlic.zero_shot import HeadWithPrior
from mlic.metrics import mean_ap, f1, per_class_thresholds

def fastbook(df, arch):
    "fastbook chapter 6 (`mlic.recipe.fastbook_recipe`: as printed, but for the explicit vocabulary)."
    t0 = time.time()
    learn = fastbook_recipe(df, arch)
    secs = time.time() - t0
    p, t = learn.get_preds()
    return p.numpy(), t.numpy(), np.full(p.shape[1], 0.2), secs

def mlic(df, arch, out='/tmp/mlic_bench_run'):
    "mlic's recipe (`train_run` defaults): head on cached 320-px features, zero-shot prior, flip TTA, per-class thresholds."
    global head_alone
    learn, m = train_run(df, out, arch=arch)
    p, t, _ = predict_tta(learn)
    hp = learn.model[1][-1]
    if isinstance(hp, HeadWithPrior):  # the same trained head, without the pretrained classifier's verdict
        hp.use_prior = False; head_alone = (predict_tta(learn)[0].numpy(), t.numpy(), None, m['train_seconds']); hp.use_prior = True
    return p.numpy(), t.numpy(), None, m['train_seconds']

def crossfit_f1(P, T, seeds=5):
    "macro-F1 at per-class thresholds tuned on one half of the images and scored on the other."
    res = []
    for s in range(seeds):
        i = np.random.default_rng(s).permutation(len(T)); a, b = i[:len(T)//2], i[len(T)//2:]
        res += [f1(P[b], T[b], per_class_thresholds(P[a], T[a])), f1(P[a], T[a], per_class_thresholds(P[b], T[b]))]
    return float(np.mean(res))

if __name__ == '__main__':
    ap = argparse.ArgumentParser()
    ap.add_argument('--data', default=str(SHARED/'data'/'voc2007')); ap.add_argument('--arch', default='mobilenet_v2')
    a = ap.parse_args()
    df = read_pascal_csv(a.data)
    print(f'{a.data}: train on {int((df.split == "train").sum())}, score on {int((df.split == "valid").sum())} unseen images; {a.arch}')
    rows, head_alone = [], None
    def row(name, P, T, th, secs):
        f = f1(P, T, th) if th is not None else crossfit_f1(P, T)
        rows.append((name, mean_ap(P, T), f, secs))
        print(f'{name:30} mAP {rows[-1][1]:.3f}  macro-F1 {f:.3f}  {secs:5.0f}s of training', flush=True)
    for name, fn in (('fastbook ch. 6', fastbook), ('mlic', mlic)):
        set_seed(42, reproducible=True)
        with quiet(): res = fn(df, a.arch)
        row(name, *res)
    if head_alone: row('mlic, head alone (no prior)', *head_alone)
    print(f'\n| recipe | mAP | macro-F1 | training seconds |\n|---|---|---|---|')
    for n, m, f, s in rows: print(f'| {n} | {m:.3f} | {f:.3f} | {s:.0f} |')
    print(f'mlic / fastbook: mAP {rows[1][1]/rows[0][1]:.2f}x, time {rows[1][3]/rows[0][3]:.2f}x')
    save_results('voc_recipes', [{'recipe': n, 'mAP': round(m, 3), 'macro-F1': round(f, 3), 'training seconds': round(s)} for n, m, f, s in rows],
                 n_train=int((df.split == 'train').sum()), n_valid=int((df.split == 'valid').sum()), arch=a.arch)
