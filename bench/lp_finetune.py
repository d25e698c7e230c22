"""The head on cached features (mlic's recipe), then fine-tuning the whole network, on the shared VOC subset.

    python bench/lp_finetune.py [--size 320] [--ft-epochs 1]

Prints the mAP on the 488 val images after `fit_head` alone (without and with flip TTA) and after `--ft-epochs`
epochs of fine-tuning the unfrozen network: the figures behind chapter 04c's choice of no fine-tuning by default on a CPU,
written to bench/results/lp_finetune.json.
"""
import argparse, time
from _common import quiet, SHARED, save_results
from fastai.vision.all import aug_transforms, set_seed
from mlic.data import multilabel_dls
from mlic.datasets import read_pascal_csv
from mlic.backbones import multilabel_learner
from mlic.losses import BCELossMulti
from mlic.learner import fit_head, predict_tta
from mlic.metrics import mean_ap

p = argparse.ArgumentParser()
p.add_argument('--size', type=int, default=320); p.add_argument('--ft-epochs', type=int, default=1)
a = p.parse_args()
set_seed(42, reproducible=True)
df = read_pascal_csv(SHARED/'data'/'voc2007')
with quiet():
    dls = multilabel_dls(df, bs=16, size=a.size, batch_tfms=aug_transforms(), num_workers=2)
    learn = multilabel_learner(dls, loss_func=BCELossMulti())
t0 = time.time()
with quiet(): fit_head(learn)
t1 = time.time()
P, T, _ = predict_tta(learn, tta=False); Pt, _, _ = predict_tta(learn)
print(f'size {a.size}: fit_head {t1-t0:.0f}s; mAP {mean_ap(P.numpy(), T.numpy()):.3f}, with flip TTA {mean_ap(Pt.numpy(), T.numpy()):.3f}', flush=True)
rows = [{'model': f'head on cached {a.size}-px features', 'mAP': round(mean_ap(P.numpy(), T.numpy()), 3), 'training seconds': round(t1 - t0)},
        {'model': '  + flip TTA', 'mAP': round(mean_ap(Pt.numpy(), T.numpy()), 3), 'training seconds': round(t1 - t0)}]
if a.ft_epochs:
    learn.unfreeze()
    t2 = time.time()
    with quiet(): learn.fit_one_cycle(a.ft_epochs, slice(1e-5, 3e-4))
    Pf, _, _ = predict_tta(learn)
    print(f'+ {a.ft_epochs} epoch(s) of fine-tuning, {time.time()-t2:.0f}s: mAP with flip TTA {mean_ap(Pf.numpy(), T.numpy()):.3f}')
    rows.append({'model': f'  + {a.ft_epochs} epoch(s) fine-tuning the body, flip TTA', 'mAP': round(mean_ap(Pf.numpy(), T.numpy()), 3),
                 'training seconds': round(t1 - t0 + time.time() - t2)})
save_results('lp_finetune', rows, n_train=int((df.split == 'train').sum()), n_valid=len(T))
