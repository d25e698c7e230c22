"""What the zero-shot ImageNet prior adds to mlic's head, on the shared VOC 2007 subset, both ways round.

    python bench/zero_shot.py [--data ../shared/data/voc2007] [--size 320] [--steps 400]

mlic's recipe (chapter 04c: MobileNetV2, a head trained on cached features of the training images and their mirrors,
flip TTA) trains on one split and is scored on the other, then with the splits swapped (train on the 488 `val` images,
score on the 506 `train` ones). For each direction, the same trained head is scored four ways: alone; the prior alone
(each label's ImageNet group probability); the prior added to the head's logits when predicting (mlic's default); and,
trained separately, a head trained with the prior in place. macro-F1 is at per-class thresholds chosen on one half of
the scored images and scored on the other (five halvings, both ways round). Writes bench/results/zero_shot.json
(read by chapter 04a).
"""
import argparse
import numpy as np, torch
from _common import quiet, SHARED, save_results
from mlic.datasets import read_pascal_csv
from mlic.learner import head_features, train_images_dl, fit_head, predict_tta
from mlic.metrics import mean_ap, f1, per_class_thresholds
from mlic.recipe import Recipe, recipe_learner
from mlic.zero_shot import HeadWithPrior, set_prior_base

class PriorInTraining(HeadWithPrior):
    "A `HeadWithPrior` that adds the prior in training too (the variant mlic does not use)."
    def forward(self, x): return self.head(x) + self.prior(x[:, self.avg_from:]).to(x.dtype)

def crossfit_f1(P, T, seeds=5):
    "macro-F1 at per-class thresholds tuned on one half of the images and scored on the other."
    res = []
    for s in range(seeds):
        i = np.random.default_rng(s).permutation(len(T)); a, b = i[:len(T)//2], i[len(T)//2:]
        res += [f1(P[b], T[b], per_class_thresholds(P[a], T[a])), f1(P[a], T[a], per_class_thresholds(P[b], T[b]))]
    return float(np.mean(res))

def trained(df, r, in_training=False):
    "mlic's learner and head, trained on cached features (the prior's base rates from the same features)."
    with quiet():
        learn, groups = recipe_learner(df, r)
        hp = learn.model[1][-1]
        if in_training: hp.__class__ = PriorInTraining
        X, Y = head_features(learn, train_images_dl(learn))
        set_prior_base(learn, X)
        fit_head(learn, r.head_steps, r.lr, feats=(X, Y))
        if in_training: hp.__class__ = HeadWithPrior
    return learn, hp

def scores(learn, hp):
    "Validation probabilities of the head with the prior, of the head alone, and of the prior alone; and the targets."
    with quiet():
        p_with, t, _ = predict_tta(learn)
        hp.use_prior = False; p_alone, _, _ = predict_tta(learn); hp.use_prior = True
    return p_with.numpy(), p_alone.numpy(), t.numpy()

def prior_alone(learn, hp):
    "Each label's ImageNet group probability on the validation images, averaged with the mirror images'."
    body, pool = learn.model[0], learn.model[1][:2]
    out = []
    with torch.no_grad():
        for xb, _ in learn.dls.valid:
            f = [pool(body(x))[:, hp.avg_from:] for x in (xb, xb.flip(-1))]
            out.append(((hp.prior.probs(f[0]) + hp.prior.probs(f[1])) / 2).as_subclass(torch.Tensor))
    P = torch.cat(out).numpy()
    full = np.zeros((len(P), hp.prior.n_out), np.float32); full[:, hp.prior.cols.numpy()] = P
    return full

if __name__ == '__main__':
    ap = argparse.ArgumentParser()
    ap.add_argument('--data', default=str(SHARED/'data'/'voc2007'))
    ap.add_argument('--size', type=int, default=320); ap.add_argument('--steps', type=int, default=400)
    a = ap.parse_args()
    df = read_pascal_csv(a.data)
    swapped = df.assign(split=df.split.map({'train': 'valid', 'valid': 'train'}))
    r = Recipe(size=a.size, head_steps=a.steps)
    rows = {}
    for direction, d in (('train -> val', df), ('val -> train', swapped)):
        n_tr, n_va = int((d.split == 'train').sum()), int((d.split == 'valid').sum())
        learn, hp = trained(d, r)
        p_with, p_alone, t = scores(learn, hp)
        res = {'head alone': p_alone, 'zero-shot prior alone': prior_alone(learn, hp), 'head + prior when predicting (mlic)': p_with}
        learn2, hp2 = trained(d, r, in_training=True)
        res['head trained with the prior in place'] = scores(learn2, hp2)[0]
        for name, P in res.items():
            row = rows.setdefault(name, {'variant': name})
            row[f'mAP, {direction} ({n_tr} -> {n_va})'] = round(mean_ap(P, t), 3)
            row[f'macro-F1, {direction}'] = round(crossfit_f1(P, t), 3)
            print(f'{direction:14} {name:40} mAP {mean_ap(P, t):.3f}  macro-F1 {crossfit_f1(P, t):.3f}', flush=True)
    save_results('zero_shot', list(rows.values()), size=a.size, steps=a.steps)
