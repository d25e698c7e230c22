"""Head initialisation: fastai's default head against the prior-initialised one (mlic's default), same seed and budget.

    python bench/head_init.py [--data PATH] [--epochs N]

Prints one row per variant: validation loss, mAP, the best global threshold for macro-F1 and accuracy_multi at 0.5,
and writes them to bench/results/head_init.json (read by chapter 01b).
"""
import argparse, time
from _common import quiet, ROOT, save_results
from fastai.vision.all import aug_transforms, set_seed
from mlic.datasets import read_dataset
from mlic.backbones import multilabel_learner
from mlic.losses import BCELossMulti
from mlic.metrics import mean_ap, threshold_sweep, accuracy_multi_np

p = argparse.ArgumentParser()
p.add_argument('--data', default=str(ROOT/'data'/'voc2007'))
p.add_argument('--epochs', type=int, default=4)
a = p.parse_args()
df = read_dataset(a.data)
print(f'{a.data}: {len(df)} images; mobilenet_v2, size 160, bs 16, fine_tune({a.epochs}, freeze_epochs=1, base_lr=5e-3)')
rows = []
print(f"{'head':22} {'valid loss':>10} {'mAP':>6} {'best thresh':>11} {'macro-F1':>8} {'acc@0.5':>7} {'time':>6}")
for name, prior in [('fastai default', False), ('prior init (mlic)', True)]:
    set_seed(42, reproducible=True)
    t0 = time.time()
    with quiet():
        from mlic.data import multilabel_dls
        dls = multilabel_dls(df, bs=16, size=160, batch_tfms=aug_transforms(), num_workers=0)
        learn = multilabel_learner(dls, loss_func=BCELossMulti(), prior_init=prior)
        learn.fine_tune(a.epochs, base_lr=5e-3, freeze_epochs=1)
        probs, targs, loss = learn.get_preds(with_loss=True)
    probs, targs = probs.numpy(), targs.numpy()
    sw = threshold_sweep(probs, targs)
    rows.append({'head': name, 'valid loss': round(float(loss.mean()), 3), 'mAP': round(mean_ap(probs, targs), 3),
                 'best global threshold': float(sw.f1_macro.idxmax()), 'macro-F1 there': round(float(sw.f1_macro.max()), 3),
                 'accuracy_multi at 0.5': round(accuracy_multi_np(probs, targs), 3), 'seconds': round(time.time() - t0)})
    print(f'{name:22} {loss.mean():10.3f} {mean_ap(probs, targs):6.3f} {sw.f1_macro.idxmax():11.2f} {sw.f1_macro.max():8.3f} '
          f'{accuracy_multi_np(probs, targs):7.3f} {time.time()-t0:5.0f}s', flush=True)
save_results('head_init', rows, data=a.data, n_images=len(df))
