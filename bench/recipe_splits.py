"""How much one split says: mlic's head against the linear probe over many splits of the shared training posters, and two views.

    python bench/recipe_splits.py [--splits 8] [--n-train 711]

bench/recipes.py scores each method once, on one scoring half of 343 posters. This benchmark asks how far that one
figure moves with the draw of the images. It never reads the posters' `valid` rows (bench/recipes.py's scored ones):
each split deals the 1,425 shared training posters into `--n-train` to train on, half of the rest to choose on and
half to score on. Every method sees the same features, computed once with mlic's own recipe learner (`Recipe()`,
MobileNetV2 from MLIC_WEIGHTS, 320 px, each image and its mirror), so a split costs head fits, not a pass of the body:

- probe: bench/recipes.py's logistic regression on the last stage's pooled features.
- mlic head: the recipe's head, trained on the last stage and on every stage (chapter 01c) and kept as
  `choose_features` keeps it (every stage if it scores `min_gain` more on the choosing images). This is `train_run`
  whenever the trial of fine-tuning the body loses, as it does on every poster row of bench/recipes.py.
- mlic head, two views: the same, trained on the centre crop the recipe reads (fastai's validation `RandomResizedCrop`)
  and on the whole image squished to the same size (`Resize(method='squish')`), and predicting with the mean of both
  views and their mirrors. A candidate, not the recipe: the prediction path (`predict`, ONNX, the web page) reads one view.

Writes bench/results/recipe_splits.json: each split's mAP per method (the heads also with each of their features,
whatever the choice), and per method the mean, the smallest and the largest margin over the probe.
"""
import argparse, copy, time
import numpy as np, pandas as pd, torch
from _common import quiet, SHARED, save_results
from fastai.vision.all import Resize, ResizeMethod
from recipes import logistic_probe
from mlic.datasets import read_dataset
from mlic.data import multilabel_dls, label_matrix
from mlic.recipe import Recipe, recipe_learner, feature_models, _set_model
from mlic.learner import head_features, fit_head, head_probs, feature_bs
from mlic.stages import last_stage_features
from mlic.backbones import init_head_prior
from mlic.metrics import mean_ap

def view_features(learn, dls, df) -> torch.Tensor:
    "`(2, n, features)`: the stage features of `df`'s images as `dls` prepares them, then of their mirrors."
    with quiet(): X, _ = head_features(learn, dls.test_dl(df, with_labels=True, bs=feature_bs(learn)))
    return X.reshape(2, len(df), -1)

def head_scores(learn, r, models, name, F, Y, tr, ch, sc, views) -> dict:
    "mAP on the choosing and the scoring images of the recipe's head on `models[name]`, trained and predicting on `views` of `F`."
    cut = (lambda Z: Z) if name == 'stages' else (lambda Z: last_stage_features(Z, models['stages'][1][0]))
    rows = lambda idx: cut(torch.cat([F[v][j, idx] for v in views for j in range(2)]))
    _set_model(learn, copy.deepcopy(models[name]))
    torch.manual_seed(r.seed); init_head_prior(learn, (Y[tr].sum(0).numpy() + 1) / (len(tr) + 2))  # the split's label rates, as `class_priors`
    with quiet(): fit_head(learn, r.head_steps, r.lr, feats=(rows(tr), Y[tr].repeat(2 * len(views), 1)))
    k = 2 * len(views)
    return {part: mean_ap(head_probs(learn, rows(idx), np.tile(np.arange(len(idx)), k), len(idx)), Y[idx].numpy())
            for part, idx in (('choose', ch), ('score', sc))}

def chosen(r, s:dict) -> tuple:
    "The features `choose_features` keeps (every stage if they score `min_gain` more on the choosing images) and their scoring mAP."
    k = 'stages' if s['stages']['choose'] >= s['last']['choose'] + r.min_gain else 'last'
    return k, s[k]['score']

if __name__ == '__main__':
    ap = argparse.ArgumentParser()
    ap.add_argument('--splits', type=int, default=8); ap.add_argument('--n-train', type=int, default=711)
    a = ap.parse_args()
    df = read_dataset(SHARED/'data'/'posters')
    tr_rows = df[df.split == 'train'].reset_index(drop=True)  # the `valid` rows are bench/recipes.py's: never read here
    r = Recipe()
    t0 = time.time()
    table = pd.concat([tr_rows, tr_rows.iloc[:2].assign(split='valid')])  # a valid split only to make the DataLoaders
    learn, _ = recipe_learner(table, r)
    models = {k: copy.deepcopy(m) for k, m in feature_models(learn, r).items()}
    _set_model(learn, copy.deepcopy(models['stages']))
    whole = multilabel_dls(table, size=r.size, item_tfms=Resize(r.size, method=ResizeMethod.Squish), vocab=list(learn.dls.vocab))
    F = dict(crop=view_features(learn, learn.dls, tr_rows), whole=view_features(learn, whole, tr_rows))
    Y = torch.as_tensor(label_matrix(tr_rows, list(learn.dls.vocab)).toarray()).float()
    print(f'features of {len(tr_rows)} training posters, two views: {time.time() - t0:.0f}s', flush=True)
    last = lambda idx: last_stage_features(torch.cat([F['crop'][0, idx], F['crop'][1, idx]]), models['stages'][1][0]).numpy()
    rows = []
    for seed in range(a.splits):
        perm = np.random.default_rng(seed).permutation(len(tr_rows))
        tr, rest = perm[:a.n_train], perm[a.n_train:]
        ch, sc = rest[0::2], rest[1::2]
        P = logistic_probe(last(tr), Y[tr].repeat(2, 1).numpy())(last(sc))
        row = dict(split=seed, n_train=len(tr), n_choose=len(ch), n_scored=len(sc),
                   probe=mean_ap((P[:len(sc)] + P[len(sc):]) / 2, Y[sc].numpy()))
        for label, views in (('mlic head', ('crop',)), ('mlic head, two views', ('crop', 'whole'))):
            s = {name: head_scores(learn, r, models, name, F, Y, tr, ch, sc, views) for name in ('last', 'stages')}
            row[label + ': features'], row[label] = chosen(r, s)
            for name, where in (('last', 'on the last stage'), ('stages', 'on every stage')): row[f'{label} {where}'] = s[name]['score']
        rows.append({k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()})
        print(rows[-1], flush=True)
    t = pd.DataFrame(rows)
    methods = [c for c in t.columns if c.startswith(('probe', 'mlic')) and not c.endswith(': features')]
    summary = {m: dict(mean_mAP=round(t[m].mean(), 4), margin_mean=round((t[m] - t.probe).mean(), 4),
                       margin_min=round((t[m] - t.probe).min(), 4), margin_max=round((t[m] - t.probe).max(), 4),
                       splits_at_least_0_03=int(((t[m] - t.probe) >= 0.03).sum())) for m in methods}
    print(pd.DataFrame(summary).T.to_string())
    save_results('recipe_splits', rows, summary=summary, splits=a.splits, seconds=round(time.time() - t0))
