"""mlic's default recipe against three baselines, on the shared VOC (zero-shot prior on and off) and the shared posters.

    python bench/recipes.py [--datasets voc,posters] [--methods fastbook,careful,probe,mlic,mlic-noprior]
                            [--n-train N] [--fresh]

Every method trains on the same training images with the same backbone (MobileNetV2 from MLIC_WEIGHTS) and is scored
on the same images, which none of them trained on or chose anything on. The `valid` rows of each data set are dealt
alternately into a choosing half and a scoring half. The choosing half is each method's validation split: mlic's
thresholds and its fine-tuning choice, and the global threshold of the careful fine-tune and of the probe. fastbook
keeps its chapter's 0.2 for every class. The scoring half gives the figures: mAP, macro-F1 at each method's own
thresholds, and the method's seconds on this machine, from reading the data to its trained model.

- fastbook: chapter 6 as printed (`mlic.recipe.fastbook_recipe`: `RandomResizedCrop(128, 0.35)`, `fine_tune(3, 3e-3,
  freeze_epochs=4)`).
- careful: a careful fastai fine-tune: `Resize(224)`, `aug_transforms()`, `fine_tune(5, 2e-3)`.
- probe: scikit-learn's logistic regression, one per class, on frozen 320-px pooled features of the training images
  and their mirrors; probabilities averaged with the mirror's.
- mlic: `train_run` with its defaults (`mlic train`); mlic-noprior: the same without the zero-shot prior.
  `--n-train N` trains every method on N of the training images (seeded), for a learning-curve point.

Each (data set, n-train, method) row is kept in bench/results/recipes_rows.json as it finishes, with its commit, so a
table that takes hours on two CPU cores can be filled over several runs (`--fresh` starts again); the table is
written to bench/results/recipes.json.
"""
import argparse, json, time
from pathlib import Path
import numpy as np, pandas as pd
from _common import quiet, SHARED, RESULTS, provenance, save_results
from fastai.vision.all import set_seed, vision_learner, Resize, aug_transforms, accuracy_multi
from mlic.datasets import read_dataset
from mlic.data import multilabel_dls, label_matrix
from mlic.backbones import backbone, multilabel_learner
from mlic.learner import head_features, predict_tta, feature_bs
from mlic.recipe import train_run, fastbook_recipe
from mlic.inference import load_model
from mlic.metrics import mean_ap, f1, threshold_sweep

DATA = dict(voc=SHARED/'data'/'voc2007', posters=SHARED/'data'/'posters')
ARCH = 'mobilenet_v2'

def halves(df, n_train=None, seed=0):
    "The training rows (`n_train` of them, seeded, if given), the choosing half of the `valid` rows and the scoring half."
    tr, va = df[df.split == 'train'], df[df.split == 'valid'].reset_index(drop=True)
    if n_train: tr = tr.sample(n=min(n_train, len(tr)), random_state=seed)
    return tr, va.iloc[0::2], va.iloc[1::2]

def targets(df, vocab): return label_matrix(df, vocab).toarray()  # chapter 01's multi-hot matrix

def best_global(P, T) -> float: return float(threshold_sweep(P, T).f1_macro.idxmax())

def fastai_preds(learn, df):
    "Probabilities of `learn` on the images of `df` (no augmentation)."
    with learn.no_bar(): p, _ = learn.get_preds(dl=learn.dls.test_dl(df, with_labels=True))
    return p.numpy()

def fastbook(tr, ch, sc, vocab):
    learn = fastbook_recipe(pd.concat([tr, ch.assign(split='valid')]), ARCH)
    return fastai_preds(learn, sc), np.full(len(vocab), 0.2)

def careful(tr, ch, sc, vocab):
    a, pre = backbone(ARCH)
    dls = multilabel_dls(pd.concat([tr, ch.assign(split='valid')]), item_tfms=Resize(224), batch_tfms=aug_transforms(), vocab=vocab)
    learn = vision_learner(dls, a, pretrained=pre, metrics=accuracy_multi)
    learn.fine_tune(5, 2e-3)
    return fastai_preds(learn, sc), best_global(fastai_preds(learn, ch), targets(ch, vocab))

def logistic_probe(X, Y):
    "The probe's classifier: scikit-learn's logistic regression per class (C=0.1) on standardised features `X`; returns features -> probabilities."
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler
    X, Y = np.asarray(X), np.asarray(Y)
    z = StandardScaler().fit(X)
    heads = [LogisticRegression(C=0.1, max_iter=2000).fit(z.transform(X), Y[:, j]) if 0 < Y[:, j].sum() < len(Y) else None
             for j in range(Y.shape[1])]
    return lambda Xd: np.stack([h.predict_proba(z.transform(np.asarray(Xd)))[:, 1] if h is not None else np.full(len(Xd), Y[:, j].mean())
                                for j, h in enumerate(heads)], 1)

def probe(tr, ch, sc, vocab, size=320):
    learn = multilabel_learner(multilabel_dls(pd.concat([tr, ch.assign(split='valid')]), size=size, min_scale=1.0, vocab=vocab), ARCH)
    feats = lambda df: head_features(learn, learn.dls.test_dl(df, with_labels=True, bs=feature_bs(learn)))
    fit = logistic_probe(*(t.numpy() for t in feats(tr)))
    def probs(df):
        P = fit(feats(df)[0].numpy())
        return (P[:len(df)] + P[len(df):]) / 2  # each image's rows, then its mirror's (chapter 04)
    return probs(sc), best_global(probs(ch), targets(ch, vocab))

def _mlic(tr, ch, sc, vocab, **kw):
    out = Path('/tmp/mlic_bench_recipes')
    learn, m = train_run(pd.concat([tr, ch.assign(split='valid')]), out, arch=ARCH, **kw)
    mm = load_model(out)
    P = predict_tta(learn, learn.dls.test_dl(sc, with_labels=True))[0].numpy()
    return P, np.asarray(mm.thresholds), {k: m[k] for k in ('features', 'features_choice', 'ft_epochs', 'recipe_choice', 'run_seconds')}

METHODS = dict(fastbook=fastbook, careful=careful, probe=probe, mlic=_mlic, **{'mlic-noprior': lambda *a: _mlic(*a, zero_shot=False)})

if __name__ == '__main__':
    ap = argparse.ArgumentParser()
    ap.add_argument('--datasets', default='voc,posters'); ap.add_argument('--methods', default=','.join(METHODS))
    ap.add_argument('--n-train', type=int); ap.add_argument('--fresh', action='store_true')
    a = ap.parse_args()
    cache = RESULTS/'recipes_rows.json'
    rows = [] if a.fresh or not cache.exists() else json.loads(cache.read_text())
    for ds in a.datasets.split(','):
        df = read_dataset(DATA[ds]); vocab = df.attrs['vocab']
        tr, ch, sc = halves(df, a.n_train)
        T = targets(sc, vocab)
        print(f'{ds}: train on {len(tr)}, choose on {len(ch)}, score on {len(sc)} images; {ARCH}', flush=True)
        for name in a.methods.split(','):
            set_seed(42, reproducible=True); t0 = time.time()
            with quiet(): res = METHODS[name](tr, ch, sc, vocab)
            secs, (P, th), extra = time.time() - t0, res[:2], (res[2] if len(res) > 2 else {})
            row = dict(dataset=ds, n_train=len(tr), n_scored=len(sc), method=name, mAP=round(mean_ap(P, T), 3),
                       f1_macro=round(f1(P, T, th), 3), seconds=round(secs), commit=provenance()['commit'], **extra)
            rows = [r for r in rows if (r['dataset'], r['n_train'], r['method']) != (ds, len(tr), name)] + [row]
            cache.write_text(json.dumps(rows, indent=1) + '\n')
            print(f"  {name:13} mAP {row['mAP']:.3f}  macro-F1 {row['f1_macro']:.3f}  {secs:5.0f}s"
                  + (f"\n    features: {extra['features_choice']['reason']}\n    fine-tuning: {extra['recipe_choice']['reason']}" if extra else ''), flush=True)
    t = pd.DataFrame(rows)
    print('\n' + t[['dataset', 'n_train', 'method', 'mAP', 'f1_macro', 'seconds', 'commit']].to_string(index=False))
    for (ds, n), g in t.groupby(['dataset', 'n_train']):
        base, ml = g[g.method.isin(['fastbook', 'careful', 'probe'])], g[g.method == 'mlic']
        if len(base) == 3 and len(ml): print(f'{ds}, {n} training images: mlic {ml.mAP.iloc[0] - base.mAP.max():+.3f} mAP against the best baseline ({base.loc[base.mAP.idxmax(), "method"]})')
    save_results('recipes', rows)
