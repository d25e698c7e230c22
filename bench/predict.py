"""Batch prediction, measured: today's single-process `predict` against the new one, and the two bounds, in one run.

    python bench/predict.py [--model DIR] [--n 192] [--bs N] [--rounds 3] [--workers N]

The model: an exported mlic model (default: mlic's recipe trained on the shared VOC images at 320 px, cached in
/tmp/mlic_bench_predict_model). The images: the first `--n` shared VOC images. Each round times, one after another:
- `single process (before)`: each image read and prepared in the main process, then the network in the default memory
  layout, in batches of 32 (what `predict` did before it had workers);
- `predict`: mlic's `predict` (images read by `--workers` DataLoader worker processes, default the usable cores; the
  network in channels-last, on the GPU when there is one), start-up of the workers included, at `--bs` (default
  `default_bs`: 4 on a CPU);
- `bound: read + prepare`: the same workers reading and preparing the images, and nothing else;
- `bound: network`: `MLICModel.probs` on the prepared tensors, batch by batch, and nothing else, at the same batch size
  (and at batches of 1 to 32, to show why `default_bs` is what it is);
- `onnxruntime: network` and `onnxruntime: predict`: the model exported by `export_onnx`, on prepared uint8 batches,
  and end to end (`OnnxModel.predict`, reading images in the main process), on the CPU.
On a CUDA GPU it also times `predict` at batch 256 against the network bound at batch 256. Images per second are the
median over the rounds; each ratio is the median over the rounds of the ratio within one round (the machine's speed
drifts between rounds, by up to 30% on a shared 2-core machine). Writes bench/results/predict.json (read by chapter 08).
"""
import argparse, time
import numpy as np, torch
from _common import quiet, SHARED, save_results
from mlic.datasets import read_pascal_csv
from mlic.inference import load_model, predict, image_batches, usable_cpus, default_bs

def model_dir(path):
    "The model to measure: `path`, or mlic's recipe on the shared VOC images (trained once, then cached)."
    from pathlib import Path
    out = Path(path or '/tmp/mlic_bench_predict_model')
    if not (out/'model.json').exists():
        from mlic.recipe import train_run
        with quiet(): train_run(read_pascal_csv(SHARED/'data'/'voc2007'), out)
    return out

def timed(f) -> float:
    t0 = time.perf_counter(); n = f(); return n / (time.perf_counter() - t0)

def before(mm, files, bs):
    "`predict` as it was: every image read and prepared in this process, the network in the default memory layout."
    net = mm.model.to('cpu', memory_format=torch.contiguous_format)
    for i in range(0, len(files), bs):
        x = torch.stack([mm.prepare(f) for f in files[i:i + bs]])
        with torch.no_grad(): p = torch.sigmoid(net(x)); p = (p + torch.sigmoid(net(x.flip(-1)))) / 2
    return len(files)

def read_only(mm, files, bs, workers): return sum(len(x) for x, _ in image_batches(mm.prep, files, bs, workers))

def network_only(mm, xs):
    for x in xs: mm.probs(x)
    return sum(len(x) for x in xs)

if __name__ == '__main__':
    ap = argparse.ArgumentParser()
    ap.add_argument('--model'); ap.add_argument('--n', type=int, default=192); ap.add_argument('--bs', type=int, default=None)
    ap.add_argument('--rounds', type=int, default=3); ap.add_argument('--workers', type=int, default=None)
    a = ap.parse_args()
    mm, files = load_model(model_dir(a.model)), list(read_pascal_csv(SHARED/'data'/'voc2007').path[:a.n])
    workers = a.workers if a.workers is not None else usable_cpus()
    a.bs = a.bs or default_bs()
    batches = {bs: [x for x, _ in image_batches(mm.prep, files, bs, 0)] for bs in sorted({a.bs, 1, 2, 4, 8, 16, 32})}
    xs = batches[a.bs]
    from mlic.deploy import export_onnx, OnnxModel
    onx = OnnxModel(export_onnx(mm, '/tmp/mlic_bench_predict.onnx'))
    u8 = [np.stack([onx.image(f) for f in files[i:i + a.bs]]) for i in range(0, len(files), a.bs)]
    runs = {'single process (before)': lambda: before(mm, files, 32),
            'predict': lambda: len(list(predict(mm, files, bs=a.bs, num_workers=workers, progress=False))),
            'bound: read + prepare': lambda: read_only(mm, files, a.bs, workers),
            'bound: network': lambda: network_only(mm.to('auto'), xs),
            **{f'network alone, batch {bs}': (lambda b=b: network_only(mm.to('auto'), b)) for bs, b in batches.items() if bs != a.bs},
            'onnxruntime: network': lambda: sum(len(onx.probs(b)) for b in u8),
            'onnxruntime: predict': lambda: len(list(onx.predict(files, a.bs)))}
    if torch.cuda.is_available():
        xs256 = [torch.cat(batches[32][i:i + 8]) for i in range(0, len(batches[32]), 8)]
        runs |= {'predict, batch 256 (GPU)': lambda: len(list(predict(mm, files, bs=256, num_workers=workers, progress=False))),
                 'bound: network, batch 256 (GPU)': lambda: network_only(mm.to('cuda'), xs256)}
    speeds = {k: [] for k in runs}
    for r in range(a.rounds):
        for k, f in runs.items(): speeds[k].append(timed(f)); print(f'round {r + 1}: {k:34} {speeds[k][-1]:7.1f} img/s', flush=True)
    med, S = {k: float(np.median(v)) for k, v in speeds.items()}, {k: np.array(v) for k, v in speeds.items()}
    bound = np.minimum(S['bound: read + prepare'], S['bound: network'])  # each round's slower bound
    ratio = lambda k, ref: round(float(np.median(S[k] / ref)), 2)  # against the same round's figure: drift between rounds cancels
    rows = [{'run': k, 'img/s': round(v, 1), 'x single process (before)': ratio(k, S['single process (before)']),
             'x slower bound': ratio(k, bound)} for k, v in med.items()]
    for r in rows: print(r)
    save_results('predict', rows, n_images=len(files), size=mm.size, bs=a.bs, workers=workers, rounds=a.rounds, arch=mm.meta['arch'],
                 tta=mm.meta.get('tta'), goal='predict >= 0.9x the slower bound and >= 1.6x the single process (2 CPU cores)')
