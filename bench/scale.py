"""Scale (chapter 07): the label store at full size, the shard reader against the JPEG decode bound, GPU training throughput.

    python bench/scale.py [--images 12000000] [--classes 11166] [--data ../shared/data/voc2007] [--workers 2]
                          [--parts labels,loading,gpu] [--tmp DIR]

(a) labels: a generated store of `--images` x `--classes`, Poisson(8) labels an image, 5% of them unknown (-1), built
    a block of 1M images at a time (never dense); build time, size on disk, resident memory of the memory-mapped store
    after 1,000 random batches, and the time to build the multi-hot targets of a 256-image batch on the CPU.
(b) loading: images/s (full passes, worker start-up included) of the shard reader (`shard_dls`, 224-px random crops of JPEGs stored at 256 px) and of a plain
    fastai folder DataLoader (`multilabel_dls` on the original files), each against its decode bound: PIL decode and
    resize of the same JPEG files in a tight loop (each image dropped as soon as it is made, as a loader does) in as
    many processes as the loader has workers. The shard reader resizes with PyTorch's kernel (`resize_box`), so it
    is also compared with a bound that does the same: PIL decode, `resize_box` resize. The 994 shared VOC images are
    read 10 times over (`--repeat`), so that starting the workers each pass weighs little. The five are measured in
    turn, 3 rounds; ratios are medians of the rounds' wall-clock ratios (range in brackets), and of images
    per CPU-second, which other jobs on a shared machine do not change.
(c) GPU (only where `torch.cuda.is_available()`): training images/s of ResNet-50 at 224 px, mixed precision and
    channels-last, through mlic's fastai path against a plain PyTorch loop, both on the same batch kept on the GPU.
Prints one table: part, measure, value, goal, ratio.
"""
import argparse, gc, multiprocessing as mp, os, resource, shutil, tarfile, tempfile, time
from functools import partial
from pathlib import Path
import numpy as np, pandas as pd, scipy.sparse as sp, psutil, torch
import torch.nn.functional as F
from PIL import Image
from _common import quiet, SHARED
from fastai.vision.all import (DataLoader, DataLoaders, Pipeline, Callback, IntToFloatTensor, Normalize, TensorImage, OptimWrapper,
                               create_vision_model, imagenet_stats)
from mlic.data import multilabel_dls
from mlic.datasets import read_dataset
from mlic.backbones import multilabel_learner, get_arch
from mlic.learner import gpu_speedups
from mlic.scale import SparseLabels, MaskedLoss, MultiHotBatch, batch_targets, write_shards, shard_dls, open_jpeg, resize_box

ROWS = []
def row(part, measure, value, goal='', ratio=''): ROWS.append(dict(part=part, measure=measure, value=value, goal=goal, ratio=ratio))

# (a) labels -------------------------------------------------------------------------------------------------------
def label_blocks(n, c, k=8, block=1_000_000, unknown=0.05, seed=0, clock=None):
    "Blocks of `block` images with Poisson(`k`) random classes each, a share `unknown` of them -1; time spent generating in `clock[0]`."
    rng = np.random.default_rng(seed)
    for s in range(0, n, block):
        t0 = time.perf_counter()
        m = min(block, n - s); per = rng.poisson(k, m); nnz = int(per.sum())
        vals = np.where(rng.random(nnz) < unknown, -1, 1).astype(np.int8)
        blk = sp.csr_matrix((vals, rng.integers(0, c, nnz, dtype=np.int32), np.r_[0, np.cumsum(per)]), shape=(m, c))
        if clock is not None: clock[0] += time.perf_counter() - t0
        yield blk

def median_ms(f, n):
    ts = []
    for _ in range(n): t0 = time.perf_counter(); f(); ts.append(time.perf_counter() - t0)
    return float(np.median(ts)) * 1e3

def bench_labels(n, c, tmp:Path):
    clock, t0 = [0.], time.perf_counter()
    SparseLabels.build(label_blocks(n, c, clock=clock), [f'c{j}' for j in range(c)], tmp/'store')
    total = time.perf_counter() - t0
    gc.collect()
    disk = sum(f.stat().st_size for f in (tmp/'store').iterdir())
    proc = psutil.Process()
    rss0 = proc.memory_info().rss
    store = SparseLabels.load(tmp/'store')
    rng = np.random.default_rng(1)
    batches = [rng.choice(len(store), 256, replace=False) for _ in range(1000)]
    def targets(ids): return batch_targets(*store.coo(ids), len(ids), store.c)
    for ids in batches: targets(ids)
    rss = proc.memory_info().rss - rss0
    threads = torch.get_num_threads()
    ms = {}
    for th in sorted({1, threads}):
        torch.set_num_threads(th)
        it = iter(batches)
        ms[th] = median_ms(lambda: targets(next(it)), 1000)
    torch.set_num_threads(threads)
    dense = n * c
    row('a labels', f'store of {n:,} x {c:,}: {store.indptr[-1]:,} labels', f'{len(store):,} images', '', '')
    row('a labels', 'build time (blocks of 1M images, generation excluded)', f'{total - clock[0]:.1f} s', '', f'(+{clock[0]:.1f} s generating)')
    row('a labels', 'size on disk (indptr + uint16 indices + int8 values)', f'{disk/1e9:.3f} GB', f'dense uint8: {dense/1e9:.0f} GB', f'{dense/disk:,.0f}x smaller')
    row('a labels', 'resident memory of the mmapped store, 1,000 random batches', f'{rss/1e9:.3f} GB', '< 0.5 GB', f'{rss/0.5e9:.2f} of goal')
    for th, v in ms.items():
        row('a labels', f'multi-hot targets of 256 images, CPU, {th} thread(s) (median)', f'{v:.3f} ms', '< 1 ms', f'{v:.2f} of goal')
    del store; gc.collect()

# (b) loading ------------------------------------------------------------------------------------------------------
def _decode_resize(src, size=224):
    "The decode bound's unit of work: decode a JPEG (draft mode where it helps) and resize it to `size` x `size` with PIL, nothing else."
    return open_jpeg(src, size, fixes=False).resize((size, size), Image.Resampling.BILINEAR)

def _decode_resize_torch(src, size=224):
    "The same with the shard reader's resize: PyTorch's kernel, to a uint8 tensor."
    im = open_jpeg(src, size, fixes=False)
    return resize_box(im, (0, 0, *im.size), (size, size))

def _decode_many(srcs, f=_decode_resize): return sum(f(s) is not None for s in srcs)  # each image dropped at once, as a loader does

def cpu_seconds() -> float:
    "CPU time of this process and of its finished children (DataLoader workers and pool processes end after each pass)."
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime

def decode_bound(srcs, workers, f=_decode_resize):
    "Images/s and images per CPU-second of `f` (decode and resize) over `srcs` (bytes or paths) in `workers` processes."
    parts, many = np.array_split(np.arange(len(srcs)), workers), partial(_decode_many, f=f)
    c0 = cpu_seconds()
    with mp.get_context('fork').Pool(workers) as pool:
        pool.map(many, [[srcs[0]]] * workers)  # start the processes before the clock
        t0 = time.perf_counter()
        n = sum(pool.map(many, [[srcs[i] for i in p] for p in parts]))
        secs = time.perf_counter() - t0
    return n / secs, n / (cpu_seconds() - c0)

def loader_rate(dls):
    "Images/s and images per CPU-second of one full pass over `dls` (DataLoaders), worker start-up included."
    c0, t0, n = cpu_seconds(), time.perf_counter(), 0
    for dl in dls:
        for xb, *_ in dl: n += len(xb)
    return n / (time.perf_counter() - t0), n / (cpu_seconds() - c0)

def bench_loading(data, workers, tmp:Path, repeat=10, rounds=3, bs=64):
    torch.set_num_threads(1)  # the main process only collects batches; the cores belong to the workers
    df = read_dataset(data)
    df = pd.concat([df] * repeat, ignore_index=True)  # passes long enough that starting the workers hardly counts
    t0 = time.perf_counter()
    write_shards(df, tmp/'shards', size=256, maxcount=200, unknown_col='difficult' if 'difficult' in df else None, n_workers=workers)
    wsecs = time.perf_counter() - t0
    jpgs = []
    for f in sorted((tmp/'shards').glob('*.tar')):
        with tarfile.open(f) as tf: jpgs += [tf.extractfile(m).read() for m in tf.getmembers() if m.name.endswith('.jpg')]
    # batch transforms run on the GPU in training: left out of both loaders here but for the shard reader's targets
    sdls = shard_dls(tmp/'shards', bs=bs, size=224, num_workers=workers, device='cpu')
    targets = Pipeline([MultiHotBatch(len(sdls.vocab))])
    with quiet(): fdls = multilabel_dls(df, bs=bs, size=224, num_workers=workers, device='cpu')
    runs = {k: [] for k in ('sbound', 'tbound', 'shard', 'fbound', 'folder')}
    for _ in range(rounds):  # interleaved, so that other jobs on the machine weigh on all five alike
        runs['sbound'].append(decode_bound(jpgs, workers))
        runs['tbound'].append(decode_bound(jpgs, workers, _decode_resize_torch))
        runs['shard'].append(loader_rate([sdls.train.new(drop_last=False, after_batch=targets), sdls.valid.new(after_batch=targets)]))
        runs['fbound'].append(decode_bound(list(df.path), workers))
        runs['folder'].append(loader_rate([fdls.train.new(drop_last=False, after_batch=Pipeline([])), fdls.valid.new(after_batch=Pipeline([]))]))
    r = {k: np.array(v) for k, v in runs.items()}  # rounds x (img/s, img per CPU-s)
    def ratio(a, b):
        w = r[a][:, 0] / r[b][:, 0]
        return f'{np.median(w):.2f} wall ({w.min():.2f}-{w.max():.2f}); {np.median(r[a][:, 1] / r[b][:, 1]):.2f} CPU'
    ips = lambda k: f'{np.median(r[k][:, 0]):.0f} img/s'
    row('b loading', f'write_shards: {len(df)} VOC images ({repeat} x {len(df)//repeat}) -> JPEGs at 256 px, {workers} threads', f'{len(df)/wsecs:.0f} img/s', '', '')
    row('b loading', f'decode bound, shard JPEGs (256 px -> 224), PIL decode and resize, {workers} processes', ips('sbound'), '', '1.00')
    row('b loading', f'shard reader (shard_dls, {workers} workers, {len(jpgs)} images)', ips('shard'), '>= 0.9x its bound', ratio('shard', 'sbound'))
    row('b loading', f'decode bound, shard JPEGs, PIL decode, the reader\'s resize (resize_box), {workers} processes', ips('tbound'), '', ratio('tbound', 'sbound'))
    row('b loading', 'shard reader against that bound', '', '', ratio('shard', 'tbound'))
    row('b loading', f'decode bound, original files (~500 px -> 224), {workers} processes', ips('fbound'), '', '1.00')
    row('b loading', f'fastai folder DataLoader (multilabel_dls, {workers} workers)', ips('folder'), '', ratio('folder', 'fbound'))
    row('b loading', 'shard reader / folder DataLoader', '', '', ratio('shard', 'folder'))

# (c) GPU training throughput --------------------------------------------------------------------------------------
def synthetic_batch(bs, size, c, device, k=8, seed=0):
    "A uint8 image batch and its labels as non-zeros, on `device`."
    g = torch.Generator().manual_seed(seed)
    x = TensorImage(torch.randint(0, 256, (bs, 3, size, size), dtype=torch.uint8, generator=g))
    rows = torch.arange(bs).repeat_interleave(k)
    cols = torch.randint(0, c, (bs * k,), generator=g)
    return tuple(t.to(device) for t in (x, rows, cols, torch.ones(bs * k, dtype=torch.int8)))

class _SameBatchDL(DataLoader):
    "`n` times one batch already on the device: training throughput without image decoding."
    def __init__(self, batch=None, n=0, vocab=(), **kwargs):
        self.batch, self.vocab = batch, list(vocab)
        super().__init__(n=n, **kwargs)
    def create_batches(self, samps):
        for _ in samps: yield self.batch

class _Timer(Callback):
    "Wall-clock time after each training batch, the device synchronised."
    order = 100
    def before_fit(self): self.t = []
    def after_batch(self):
        if not self.training: return
        if torch.cuda.is_available(): torch.cuda.synchronize()
        self.t.append(time.perf_counter())

def fastai_throughput(arch='resnet50', size=224, bs=256, steps=50, warmup=10, c=1000, device='cuda', amp=True):
    "Training images/s through mlic's fastai path: `multilabel_learner`, `MaskedLoss`, targets scattered per batch, `gpu_speedups`."
    dev = torch.device(device)
    tfms = lambda: Pipeline([MultiHotBatch(c), IntToFloatTensor(), Normalize.from_stats(*imagenet_stats, cuda=False)])
    batch, vocab = synthetic_batch(bs, size, c, dev), [str(i) for i in range(c)]
    dls = DataLoaders(*[_SameBatchDL(batch, n, vocab, after_batch=tfms(), device=dev) for n in (warmup + steps, 0)])
    sgd = partial(OptimWrapper, opt=partial(torch.optim.SGD, momentum=0.9))
    with quiet(): learn = multilabel_learner(dls, arch, pretrained=False, prior_init=False, loss_func=MaskedLoss(), opt_func=sgd, lr=0.01)
    if amp: gpu_speedups(learn)
    timer = _Timer()
    with learn.no_bar(), learn.no_logging(): learn.fit(1, cbs=timer)
    t = timer.t[warmup - 1:]
    return bs * (len(t) - 1) / (t[-1] - t[0])

def plain_throughput(arch='resnet50', size=224, bs=256, steps=50, warmup=10, c=1000, device='cuda', amp=True):
    "Training images/s of a plain PyTorch loop on the same network, batch and optimiser: autocast, GradScaler, channels-last."
    dev = torch.device(device)
    x, rows, cols, vals = synthetic_batch(bs, size, c, dev)
    y = torch.zeros(bs, c, device=dev).index_put_((rows, cols), vals.float())
    mean, std = (torch.tensor(s, device=dev).view(1, 3, 1, 1) for s in imagenet_stats)
    model = create_vision_model(get_arch(arch), c, pretrained=False).to(dev, memory_format=torch.channels_last).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    scaler = torch.amp.GradScaler(dev.type, enabled=amp)
    for i in range(warmup + steps):
        if i == warmup:
            if dev.type == 'cuda': torch.cuda.synchronize()
            t0 = time.perf_counter()
        xb = ((x.as_subclass(torch.Tensor).float() / 255 - mean) / std).contiguous(memory_format=torch.channels_last)
        with torch.autocast(dev.type, dtype=torch.float16, enabled=amp):
            loss = F.binary_cross_entropy_with_logits(model(xb).float(), y)
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward(); scaler.step(opt); scaler.update()
    if dev.type == 'cuda': torch.cuda.synchronize()
    return bs * steps / (time.perf_counter() - t0)

def bench_gpu(steps):
    if not torch.cuda.is_available():
        row('c GPU', 'ResNet-50 training at 224 px, fp16, channels-last', 'skipped: no GPU', '>= 2,500 img/s; mlic within 5%', '')
        return
    plain = plain_throughput(steps=steps)
    ours = fastai_throughput(steps=steps)
    name = torch.cuda.get_device_name()
    row('c GPU', f'plain PyTorch loop, ResNet-50, bs 256, {name}', f'{plain:.0f} img/s', '', '1.00')
    row('c GPU', 'mlic fastai path (same batch, MaskedLoss, per-batch targets)', f'{ours:.0f} img/s', '>= 2,500 img/s; >= 0.95x plain', f'{ours/plain:.2f}')

if __name__ == '__main__':
    p = argparse.ArgumentParser()
    p.add_argument('--images', type=int, default=12_000_000)
    p.add_argument('--classes', type=int, default=11_166)
    p.add_argument('--data', default=str(SHARED/'data'/'voc2007'))
    p.add_argument('--workers', type=int, default=2)
    p.add_argument('--repeat', type=int, default=10)
    p.add_argument('--bs', type=int, default=64, help='batch size of both loaders (64: their default)')
    p.add_argument('--parts', default='labels,loading,gpu')
    p.add_argument('--gpu-steps', type=int, default=50)
    p.add_argument('--tmp', default=None, help='folder for the generated store and shards (deleted afterwards)')
    a = p.parse_args()
    tmp = Path(tempfile.mkdtemp(dir=a.tmp))
    try:
        if 'labels' in a.parts: bench_labels(a.images, a.classes, tmp)
        if 'loading' in a.parts: bench_loading(a.data, a.workers, tmp, a.repeat, bs=a.bs)
        if 'gpu' in a.parts: bench_gpu(a.gpu_steps)
    finally: shutil.rmtree(tmp, ignore_errors=True)
    print(f'{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; torch {torch.__version__}')
    print(pd.DataFrame(ROWS).to_string(index=False))
