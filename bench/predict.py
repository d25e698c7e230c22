"""Batch prediction, measured: today's single-process `predict` against the new one, and the two bounds, in one run.

    python bench/predict.py [--model DIR] [--n 192] [--bs N] [--rounds 3] [--repeats 2] [--pairs 6] [--workers N]

The model: an exported mlic model (default: mlic's recipe trained on the shared VOC images at 320 px, cached in
/tmp/mlic_bench_predict_model). The images: the first `--n` shared VOC images. Each round runs two fresh Python
processes one after the other, one with glibc's malloc as it comes (`MLIC_KEEP_FREED_MEMORY=0`) and one with
`reuse_freed_memory` (chapter 04b, what `predict` sets up on a CPU), and each times, one after another:
- `single process (before)` (glibc's defaults): each image read and prepared in the main process, then the network in
  the default memory layout, in batches of 32 (what `predict` did before it had workers);
- `predict`: mlic's `predict` at `--bs` (default `default_bs`: 8 on a CPU). On a CPU, each batch is read by `--workers`
  threads (default the usable cores) and then the network runs on it, in turn (`batches_in_turn`); on a GPU, DataLoader
  worker processes read while the network runs. The network normalises each batch of uint8 pixels and runs in
  channels-last;
- the alternatives to `predict`'s default, side by side with it: `predict, batch 4` and `predict, batch 16` (each
  against the network bound at its own batch size); `predict, 1 thread`; `predict, worker processes`
  (`image_batches`: `--workers` DataLoader processes reading while the network runs, as on a GPU, start-up included);
  `predict, worker processes sending floats` (the same, with each image normalised to floats in the worker, four times
  the bytes to pass: what `predict` did before on a CPU);
- `bound: read + resize`: the same readers reading and resizing the images to pixels, and nothing else (on a GPU,
  where `predict` reads with worker processes, these are processes, and `predict, 1 thread` is one worker process);
- `bound: read + resize, fastai's transform` and `predict, fastai's transform`: the same, with each image resized by
  fastai's item transform instead of `pil_resize` (the same pixels, with fastai's Python on every image: what `predict`
  did before);
- `bound: read + resize, torch.stack` and `predict, torch.stack`: the same, with each batch stacked by `torch.stack`
  instead of NumPy (what `collate_images` did before: PyTorch's threads copy, then spin while the next images are read);
- `bound: network`: `MLICModel.probs` on the prepared tensors, batch by batch, and nothing else, at the same batch size
  (and at batches of 1 to 32);
- `onnxruntime: network` and `onnxruntime: predict`: the model exported by `export_onnx`, on prepared uint8 batches,
  and end to end (`OnnxModel.predict`, reading images in the main process), on the CPU.
Rows marked `[glibc defaults]` come from the first process. Each run's CPU time (the process and its workers, in ms per
image) shows what sharing the cores costs: reading and preparing take CPU time that the network no longer has, so on
the CPU `predict` can reach at most the network's CPU time over both together (`ceiling: cores shared`) of the network
bound, however well it overlaps them.
Each process warms up first (a few batches of `predict` and of the network), then times its runs `--repeats` times
(default 2), in order and then in reverse order, and keeps each run's fastest. Then the process with
`reuse_freed_memory` times `predict` and `bound: network` `--pairs` more times (default 6), one right after the other
(each first in turn), for the ratio of each pair: the headline `predict, x network bound (pairs)` is their median
over all rounds, the ratio least moved by the machine's other work. On a CUDA GPU it also times `predict` at batch 256 against the network bound
at batch 256. Images per second are the
median over the rounds; each ratio is the median over the rounds of the ratio within one round (the machine's speed
drifts between rounds). Writes bench/results/predict.json (read by chapter 08), with each run's img/s in each round.
"""
import argparse, copy, json, os, re, subprocess, sys, time
import numpy as np, torch
from _common import quiet, SHARED, save_results
from mlic.datasets import read_pascal_csv
import mlic.inference
from mlic.inference import load_model, predict, image_batches, batches_in_turn, usable_cpus, default_bs, get_device, ImageFiles, collate_images

DEFAULTS = ' [glibc defaults]'  # the suffix of the runs with glibc's malloc as it comes

def model_dir(path):
    "The model to measure: `path`, or mlic's recipe on the shared VOC images (trained once, then cached)."
    from pathlib import Path
    out = Path(path or '/tmp/mlic_bench_predict_model')
    if not (out/'model.json').exists():
        from mlic.recipe import train_run
        with quiet(): train_run(read_pascal_csv(SHARED/'data'/'voc2007'), out)
    return out

def cpu_seconds() -> float:
    "CPU time of this process and of its finished children (the DataLoader workers, joined when a loader is done)."
    t = os.times(); return t.user + t.system + t.children_user + t.children_system

def timed(f) -> tuple:
    "Images per second of `f` (which returns its image count), and the CPU milliseconds it spent per image."
    c0, t0 = cpu_seconds(), time.perf_counter(); n = f(); t1, c1 = time.perf_counter(), cpu_seconds()
    return n / (t1 - t0), 1000 * (c1 - c0) / n

def before(mm, files, bs):
    "`predict` as it was: every image read and prepared in this process, the network in the default memory layout."
    net = mm.model.to('cpu', memory_format=torch.contiguous_format)
    for i in range(0, len(files), bs):
        x = torch.stack([mm.prepare(f) for f in files[i:i + bs]])
        with torch.no_grad(): p = torch.sigmoid(net(x)); p = (p + torch.sigmoid(net(x.flip(-1)))) / 2
    return len(files)

def read_only(prep, files, bs, workers):
    "The images read as `predict` reads them on this machine (threads in turn on a CPU, worker processes on a GPU), and nothing else."
    reader = batches_in_turn if get_device().type == 'cpu' else image_batches
    return sum(len(x) for x, _ in reader(prep, files, bs, workers))

def fastai_resize(mm):
    "A shallow copy of `mm` (the same network) whose images are resized by fastai's item transform instead of `pil_resize`."
    fm = copy.copy(mm); fm.prep = copy.copy(mm.prep); fm.prep.pil = False
    return fm

def with_torch_stack(f):
    "`f`, run with batches stacked by `torch.stack` (as `collate_images` stacked them before) instead of NumPy."
    def collate(items):
        xs, errs = zip(*items); ok = [x for x in xs if x is not None]
        return (torch.stack(ok) if ok else None), list(errs)
    def run():
        keep, mlic.inference.collate_images = mlic.inference.collate_images, collate
        try: return f()
        finally: mlic.inference.collate_images = keep
    return run

def network_only(mm, xs):
    for x in xs: mm.probs(x)
    return sum(len(x) for x in xs)

class FloatImages(ImageFiles):
    "`ImageFiles` as `predict` had it before: each image prepared to normalised floats in the worker."
    def __getitem__(self, i):
        try: return self.prep(self.files[i]), None
        except Exception as e: return None, f'{type(e).__name__}: {e}'

def predict_processes(mm, files, bs, workers, floats=False):
    "`predict`'s loop on DataLoader worker processes that read while the network runs (sending pixels, or floats)."
    dl = (torch.utils.data.DataLoader(FloatImages(mm.prep, files), batch_size=bs, num_workers=workers, collate_fn=collate_images)
          if floats else image_batches(mm.prep, files, bs, workers))
    mm.to('auto'); return sum(len(mm.probs(x)) for x, _ in dl)

def one_round(a, defaults:bool) -> dict:
    "This process's runs, timed once each: `{run: (img/s, CPU ms/img)}`."
    mm, files = load_model(model_dir(a.model)), list(read_pascal_csv(SHARED/'data'/'voc2007').path[:a.n])
    batches = {bs: [mm.prep.normalize(x) for x, _ in image_batches(mm.prep, files, bs, 0)] for bs in sorted({a.bs, 1, 2, 4, 8, 16, 32})}  # prepared
    nets = {f'network alone, batch {bs}': (lambda b=b: network_only(mm.to('auto'), b)) for bs, b in batches.items() if bs != a.bs}
    pred = lambda nw, bs=a.bs, m=mm: len(list(predict(m, files, bs=bs, num_workers=nw, progress=False)))
    if defaults:
        runs = {'single process (before)': lambda: before(mm, files, 32), 'predict': lambda: pred(a.workers),
                'bound: network': lambda: network_only(mm.to('auto'), batches[a.bs]), **nets}
        return {k + ('' if k.startswith('single') else DEFAULTS): v for k, v in time_all(a, mm, files, batches, runs).items()}
    from mlic.deploy import export_onnx, OnnxModel
    onx, fm = OnnxModel(export_onnx(mm, '/tmp/mlic_bench_predict.onnx')), fastai_resize(mm)
    u8 = [np.stack([onx.image(f) for f in files[i:i + a.bs]]) for i in range(0, len(files), a.bs)]
    other_bs = {f'predict, batch {bs}': (lambda bs=bs: pred(a.workers, bs)) for bs in (4, 16) if bs != a.bs}
    runs = {'predict': lambda: pred(a.workers), **other_bs, 'predict, 1 thread': lambda: pred(1),
            'predict, worker processes': lambda: predict_processes(mm, files, a.bs, a.workers),
            'predict, worker processes sending floats': lambda: predict_processes(mm, files, a.bs, a.workers, floats=True),
            "predict, fastai's transform": lambda: pred(a.workers, m=fm),
            'predict, torch.stack': with_torch_stack(lambda: pred(a.workers)),
            'bound: read + resize': lambda: read_only(mm.prep, files, a.bs, a.workers),
            "bound: read + resize, fastai's transform": lambda: read_only(fm.prep, files, a.bs, a.workers),
            'bound: read + resize, torch.stack': with_torch_stack(lambda: read_only(mm.prep, files, a.bs, a.workers)),
            'bound: network': lambda: network_only(mm.to('auto'), batches[a.bs]), **nets,
            'onnxruntime: network': lambda: sum(len(onx.probs(b)) for b in u8),
            'onnxruntime: predict': lambda: len(list(onx.predict(files, a.bs)))}
    if torch.cuda.is_available():
        xs256 = [torch.cat(batches[32][i:i + 8]) for i in range(0, len(batches[32]), 8)]
        runs |= {'predict, batch 256 (GPU)': lambda: pred(a.workers, 256),
                 'bound: network, batch 256 (GPU)': lambda: network_only(mm.to('cuda'), xs256)}
    return time_all(a, mm, files, batches, runs) | {'pairs': paired(a, runs)}

def paired(a, runs) -> list:
    "`a.pairs` more timings of `predict` and of the network bound, one right after the other (each first in turn): predict's img/s over the network's in each pair."
    out = []
    for i in range(a.pairs):
        s = {k: timed(runs[k])[0] for k in (['predict', 'bound: network'] if i % 2 == 0 else ['bound: network', 'predict'])}
        out.append(round(s['predict'] / s['bound: network'], 4))
    return out

def time_all(a, mm, files, batches, runs) -> dict:
    "Each of `runs` timed `a.repeats` times after a warm-up (the heap, the threads), in order then in reverse order, and its best kept."
    list(predict(mm, files[:2 * a.bs], bs=a.bs, num_workers=a.workers, progress=False)); network_only(mm.to('auto'), batches[a.bs][:2])
    res = {k: [] for k in runs}
    for i in range(a.repeats):
        for k in (list(runs) if i % 2 == 0 else list(runs)[::-1]): res[k].append(timed(runs[k]))
    return {k: max(v) for k, v in res.items()}  # the fastest: a moment the machine's other work slowed down is not the code's

def child(a, defaults:bool, r:int) -> dict:
    "One round in a fresh Python: with glibc's malloc defaults, or with `reuse_freed_memory`."
    env = dict(os.environ, MLIC_KEEP_FREED_MEMORY='0' if defaults else '1')
    args = [sys.executable, __file__, '--child', 'defaults' if defaults else 'reuse', '--repeats', str(a.repeats), '--pairs', str(a.pairs),
            '--n', str(a.n), '--bs', str(a.bs), '--workers', str(a.workers)]
    out = subprocess.run(args + (['--model', a.model] if a.model else []), env=env, capture_output=True, text=True, check=True).stdout
    res = json.loads(out.strip().splitlines()[-1])
    if 'pairs' in res: print(f'round {r + 1}: predict, x network bound in each pair: {res["pairs"]}', flush=True)
    for k, (v, c) in ((k, v) for k, v in res.items() if k != 'pairs'): print(f'round {r + 1}: {k:52} {v:7.1f} img/s {c:7.1f} CPU ms/img', flush=True)
    return res

if __name__ == '__main__':
    ap = argparse.ArgumentParser()
    ap.add_argument('--model'); ap.add_argument('--n', type=int, default=192); ap.add_argument('--bs', type=int, default=None)
    ap.add_argument('--rounds', type=int, default=3); ap.add_argument('--workers', type=int, default=None)
    ap.add_argument('--child', choices=['defaults', 'reuse'], help=argparse.SUPPRESS); ap.add_argument('--repeats', type=int, default=2)
    ap.add_argument('--pairs', type=int, default=6)
    a = ap.parse_args()
    a.workers = a.workers if a.workers is not None else usable_cpus()
    a.bs = a.bs or default_bs()
    if a.child: print(json.dumps(one_round(a, a.child == 'defaults'))); sys.exit()
    model_dir(a.model)  # trained once, before any round
    rounds = [child(a, True, r) | child(a, False, r) for r in range(a.rounds)]
    pairs = [p for rd in rounds for p in rd.pop('pairs')]
    S = {k: np.array([rd[k][0] for rd in rounds]) for k in rounds[0]}
    C = {k: np.array([rd[k][1] for rd in rounds]) for k in rounds[0]}
    read = S['bound: read + resize']
    def bound(k):
        "Each round's slower bound for run `k`: reading, or the network at the same batch size, with the same malloc."
        m = re.fullmatch(r'predict, batch (\d+)( \(GPU\))?', k)
        net = (f'bound: network, batch {m[1]} (GPU)' if m[2] else f'network alone, batch {m[1]}') if m else 'bound: network' + (DEFAULTS if k.endswith(DEFAULTS) else '')
        return np.minimum(read, S[net])
    ratio = lambda k, ref: round(float(np.median(S[k] / ref)), 2)  # against the same round's figure: drift between rounds cancels
    rows = [{'run': k, 'img/s': round(float(np.median(v)), 1), 'CPU ms/img': round(float(np.median(C[k])), 1),
             'x single process (before)': ratio(k, S['single process (before)']), 'x slower bound': ratio(k, bound(k))} for k, v in S.items()]
    net_cpu, read_cpu = C['bound: network'], C['bound: read + resize']
    ceiling = round(float(np.median(net_cpu / (net_cpu + read_cpu))), 3)  # the network bound's share of the CPU time of both
    for r in rows: print(r)
    print(f'predict, x network bound (pairs): {np.median(pairs):.2f} (median of {len(pairs)} pairs; from {min(pairs):.2f} to {max(pairs):.2f})')
    print(f'ceiling: cores shared, {ceiling:.2f}x the network bound (reading takes {np.median(read_cpu):.1f} of every {np.median(net_cpu + read_cpu):.1f} CPU ms per image)')
    mm = load_model(model_dir(a.model))
    by_round = {k: [round(float(x), 2) for x in v] for k, v in S.items()}  # img/s of each run in each round, for ratios within a round
    save_results('predict', rows, by_round=by_round, pairs=pairs, x_network_bound_pairs=round(float(np.median(pairs)), 2), n_images=a.n, ceiling_cores_shared=ceiling, size=mm.size, bs=a.bs, workers=a.workers, rounds=a.rounds, repeats=a.repeats, n_pairs=a.pairs,
                 arch=mm.meta['arch'], tta=mm.meta.get('tta'), goal='predict >= 0.9x the slower bound and >= 1.6x the single process (2 CPU cores)')
