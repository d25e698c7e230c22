"""One epoch of a tiny model on generated shards, in each process of `accelerate launch` (run by tests/test_scale.py).

    accelerate launch --multi_gpu --num_processes 2 tests/ddp_run.py SHARDS OUT

Each generated image has one class of its own, so the targets of a batch say which samples it held. Every process
writes OUT/rank{R}.pt: its first training batch, the weights before and after the first optimiser step, the samples
it read, and what mlic's `GlooDistributedDL` (fastai's `DistributedDL`, broadcasting on the CPU) gave it on an indexed DataLoader.
"""
import sys
from pathlib import Path
import torch
from torch import nn
from fastai.vision.all import Learner, SGD, Callback, DataLoader, rank_distrib
from mlic.scale import shard_dls, MaskedLoss, distrib_ctx, GlooDistributedDL

def weights(model): return {k: v.detach().cpu().clone() for k, v in getattr(model, 'module', model).state_dict().items()}

class Record(Callback):
    "The first training batch, the weights around the first step, and the sample (its one class) of every item read."
    def before_fit(self): self.first, self.seen = {}, {'train': [], 'valid': []}
    def before_batch(self):
        self.seen['train' if self.training else 'valid'] += self.y.float().argmax(1).tolist()
        if self.training and not self.first:
            self.first = dict(x=self.x.cpu().clone(), y=self.y.cpu().clone(), w0=weights(self.model))
    def after_step(self):
        if 'w1' not in self.first: self.first['w1'] = weights(self.model)

shards, out = Path(sys.argv[1]), Path(sys.argv[2])
dls = shard_dls(shards, bs=4, size=16, num_workers=2, shuffle=False, augment=False, device='cpu')
torch.manual_seed(0)
model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, len(dls.vocab)))
rec = Record()
learn = Learner(dls, model, loss_func=MaskedLoss(), opt_func=SGD, lr=0.1, cbs=rec)
with distrib_ctx(learn), learn.no_bar():
    learn.fit(1)
    backend, world = torch.distributed.get_backend(), torch.distributed.get_world_size()
    indexed = [int(i) for b in GlooDistributedDL(DataLoader(list(range(10)), bs=2)) for i in b]
torch.save(dict(backend=backend, world=world, n_batches=len(dls.train), indexed=indexed, seen=rec.seen, **rec.first),
           out/f'rank{rank_distrib()}.pt')
