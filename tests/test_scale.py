"Chapter 07 at work: the label store, the masked loss, shards read by two processes, training under `accelerate launch`."
import importlib.util, json, os, socket, subprocess, sys
from pathlib import Path
import numpy as np, pandas as pd, scipy.sparse as sp
import pytest, torch
from PIL import Image
from mlic.scale import SparseLabels, MaskedLoss, batch_targets, write_shards, read_manifest
from mlic.losses import BCELossMulti

ROOT = Path(__file__).resolve().parent.parent
N_TRAIN, N_VALID = 64, 16

def _free_port() -> int:
    with socket.socket() as s: s.bind(('127.0.0.1', 0)); return s.getsockname()[1]

def _env() -> dict:
    "The environment of a launched run: this checkout first on the path, one thread a process."
    return {**os.environ, 'PYTHONPATH': os.pathsep.join(filter(None, [str(ROOT), os.environ.get('PYTHONPATH')])),
            'OMP_NUM_THREADS': '1', 'MLIC_OFFLINE': '1'}

def _launch(args, tmp_path, timeout=240):
    "`accelerate launch` two CPU processes (gloo) on a free port; the output if it fails."
    cmd = [sys.executable, '-m', 'accelerate.commands.launch', '--multi_gpu', '--num_processes', '2', '--num_machines', '1',
           '--mixed_precision', 'no', '--dynamo_backend', 'no', '--main_process_port', str(_free_port()), *args]
    r = subprocess.run(cmd, cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-5000:]
    return r

@pytest.fixture(scope='module')
def shards(tmp_path_factory):
    "Shards of generated 16-pixel images; image i has the one class i, so a target row names its sample."
    d = tmp_path_factory.mktemp('gen')
    rng = np.random.default_rng(0)
    for i in range(N_TRAIN + N_VALID):
        Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(d/f'{i}.jpg', quality=95)
    df = pd.DataFrame(dict(path=[str(d/f'{i}.jpg') for i in range(N_TRAIN + N_VALID)], labels=[f'c{i:02d}' for i in range(N_TRAIN + N_VALID)],
                           split=['train'] * N_TRAIN + ['valid'] * N_VALID))
    write_shards(df, d/'shards', size=16, maxcount=8, n_workers=0)
    return d/'shards'

def test_store_built_in_blocks_matches_scipy(tmp_path):
    rng = np.random.default_rng(0)
    m = sp.random(1000, 300, density=0.02, format='csr', dtype=np.int8, random_state=0, data_rvs=lambda n: rng.choice([-1, 1], n))
    blocks = (m[i:i+128] for i in range(0, 1000, 128))
    s = SparseLabels.build(blocks, [str(j) for j in range(300)], tmp_path/'store')
    assert isinstance(s.indices, np.memmap) and s.indices.dtype == np.uint16 and s.values.dtype == np.int8
    np.testing.assert_array_equal(s.to_csr().toarray(), m.toarray())
    ids = rng.choice(1000, 64, replace=False)
    t = batch_targets(*map(torch.from_numpy, s.coo(ids)), len(ids), s.c)
    np.testing.assert_array_equal(t.numpy(), m[ids].toarray())
    idx, vals = s[int(ids[0])]
    assert list(idx) == list(m[ids[0]].indices) and list(vals) == list(m[ids[0]].data)

def test_masked_entries_change_nothing():
    "Whatever the logits of unknown entries, the loss and the gradient of every other entry stay the same."
    torch.manual_seed(0)
    x, t = torch.randn(16, 10), torch.randint(0, 2, (16, 10), dtype=torch.int8)
    t[torch.rand(16, 10) < 0.3] = -1
    x1, x2 = x.clone().requires_grad_(), torch.where(t < 0, x * 100 + 7, x).requires_grad_()
    l1, l2 = MaskedLoss()(x1, t), MaskedLoss()(x2, t)
    l1.backward(); l2.backward()
    torch.testing.assert_close(l1, l2)
    torch.testing.assert_close(x1.grad, x2.grad)
    assert (x1.grad[t < 0] == 0).all()
    known = t >= 0
    torch.testing.assert_close(l1, BCELossMulti()(x[known], t[known]))

def test_manifest_and_even_shards(shards):
    man = read_manifest(shards)
    assert [s['n'] for s in man['splits']['train']['shards']] == [8] * 8
    assert man['splits']['valid']['n'] == N_VALID and len(man['vocab']) == N_TRAIN + N_VALID

def test_two_processes_gloo_first_step_and_disjoint_shards(shards, tmp_path):
    "Two CPU processes: disjoint samples covering the data, equal steps, and a first step equal to one process on the global batch."
    _launch([str(ROOT/'tests'/'ddp_run.py'), str(shards), str(tmp_path)], tmp_path)
    r0, r1 = (torch.load(tmp_path/f'rank{r}.pt', weights_only=False) for r in (0, 1))
    assert r0['backend'] == r1['backend'] == ('nccl' if torch.cuda.is_available() else 'gloo') and r0['world'] == 2
    assert r0['n_batches'] == r1['n_batches'] == N_TRAIN // 2 // 4
    for split, n, first in (('train', N_TRAIN, 0), ('valid', N_VALID, N_TRAIN)):
        s0, s1 = r0['seen'][split], r1['seen'][split]
        assert not set(s0) & set(s1) and len(s0) == len(s1) == n // 2
        assert sorted(s0 + s1) == list(range(first, first + n))
    assert not set(r0['indexed']) & set(r1['indexed']) and sorted(r0['indexed'] + r1['indexed']) == list(range(10))
    for k in r0['w0']:
        torch.testing.assert_close(r0['w0'][k], r1['w0'][k], rtol=0, atol=0)
        torch.testing.assert_close(r0['w1'][k], r1['w1'][k], rtol=0, atol=1e-6)
    # the same step in one process, on both processes' batches together
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
                                torch.nn.Linear(4, N_TRAIN + N_VALID))
    model.load_state_dict(r0['w0'])
    x, y = torch.cat([r0['x'], r1['x']]), torch.cat([r0['y'], r1['y']])
    assert len(x) == 8
    def step(x, y):
        model.load_state_dict(r0['w0']); model.zero_grad()
        MaskedLoss()(model(x), y).backward()
        return {k: (p - 0.1 * p.grad).detach() for k, p in model.named_parameters()}
    for k, w in step(x, y).items(): torch.testing.assert_close(w, r0['w1'][k], rtol=0, atol=1e-5)
    alone = step(r0['x'], r0['y'])  # the check can fail: process 0's batch alone gives another step
    assert max(float((w - r0['w1'][k]).abs().max()) for k, w in alone.items()) > 1e-4

def test_train_shards_command_in_two_processes(shards, tmp_path):
    "`accelerate launch -m mlic.scale`: the documented command trains MobileNetV2 and exports a model that loads."
    from mlic.inference import load_model
    _launch(['-m', 'mlic.scale', str(shards), '--out', str(tmp_path/'run'), '--size', '32', '--bs', '8', '--epochs', '1',
             '--num-workers', '1'], tmp_path)
    meta = json.loads((tmp_path/'run'/'model.json').read_text())
    assert meta['processes'] == 2 and meta['arch'] == 'mobilenet_v2'
    assert load_model(tmp_path/'run').vocab == read_manifest(shards)['vocab']

def test_gpu_benchmark_path_runs_on_cpu():
    "bench/scale.py's training-throughput code (ResNet-50 on a GPU) runs here with a small ResNet, both paths."
    sys.path.insert(0, str(ROOT/'bench'))
    spec = importlib.util.spec_from_file_location('bench_scale', ROOT/'bench'/'scale.py')
    bench = importlib.util.module_from_spec(spec); spec.loader.exec_module(bench)
    kw = dict(arch='resnet18', size=32, bs=4, steps=2, warmup=1, c=12, device='cpu', amp=False)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a second thread only waits on a busy 2-core machine
    try: assert bench.fastai_throughput(**kw) > 0 and bench.plain_throughput(**kw) > 0
    finally: torch.set_num_threads(threads)
