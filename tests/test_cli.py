"The `mlic` command end to end, as a user runs it: train, eval, predict, check-data, on the bundled sample offline."
import json, os, shutil, subprocess, sys
from pathlib import Path
import pytest
from conftest import weights_args

ROOT = Path(__file__).resolve().parent.parent
VOC = ROOT/'data'/'voc2007'
MLIC = Path(sys.executable).parent/'mlic'

def mlic(*args, check=True):
    env = dict(os.environ)
    env.pop('MLIC_DATA', None)
    r = subprocess.run([str(MLIC), *map(str, args)], capture_output=True, text=True, env=env, timeout=900)
    if check: assert r.returncode == 0, r.stderr[-3000:]
    return r

@pytest.fixture(scope='module')
def model(tmp_path_factory, weights):
    out = tmp_path_factory.mktemp('m')/'voc'
    r = mlic('train', '--data', VOC, '--size', '128', *weights_args(weights), '--out', out)
    assert f'Model written to {out.resolve()}' in r.stdout and 'Fine-tuning the body: ' in r.stdout  # the choice, said
    return out

def test_train_writes_a_pickle_free_model_and_metrics(model):
    assert {'model.safetensors', 'model.json', 'metrics.json'} <= {f.name for f in model.iterdir()}
    assert not list(model.glob('*.pkl'))
    meta = json.loads((model/'model.json').read_text())
    assert meta['arch'] == 'mobilenet_v2' and len(meta['vocab']) == len(meta['thresholds']) == 20
    assert meta['zero_shot']['groups']['bird'][0] == 'cock' and len(meta['zero_shot']['groups']) == 20  # the ImageNet prior, by default
    m = json.loads((model/'metrics.json').read_text())
    assert m['zero_shot'] == meta['vocab'] and m['recipe_choice']['ft_epochs'] == m['ft_epochs'] and m['recipe_choice']['reason']

def test_eval_prints_the_metrics_as_json(model):
    m = json.loads(mlic('eval', '--model', model, '--data', VOC).stdout)
    assert {'mAP', 'f1_macro', 'f1_micro', 'hamming_loss', 'ap_per_class'} <= set(m)
    assert m['n_images'] == 100 and 0 < m['mAP'] <= 1 and len(m['ap_per_class']) == 20
    assert json.loads(mlic('eval', '--model', model, '--data', VOC, '--split', 'all').stdout)['n_images'] == 200

def test_eval_on_vocdevkit_without_imagesets_and_unknown_classes(model, tmp_path):
    src = VOC/'VOCdevkit'/'VOC2007'
    shutil.copytree(src/'JPEGImages', tmp_path/'JPEGImages'); shutil.copytree(src/'Annotations', tmp_path/'Annotations')
    xml = sorted((tmp_path/'Annotations').glob('*.xml'))[0]
    xml.write_text(xml.read_text().replace('</annotation>', '<object><name>unicorn</name><difficult>0</difficult>'
                   '<bndbox><xmin>1</xmin><ymin>1</ymin><xmax>9</xmax><ymax>9</ymax></bndbox></object></annotation>'))
    r = mlic('eval', '--model', model, '--data', tmp_path)
    m = json.loads(r.stdout)
    assert m['n_images'] == 200  # no ImageSets: all annotated images
    assert m['ignored_labels'] == {'unicorn': 1} and 'unicorn' in r.stderr

def test_predict_gives_one_line_per_input_and_errors_for_bad_images(model, tmp_path):
    imgs = sorted((VOC/'VOCdevkit'/'VOC2007'/'JPEGImages').glob('*.jpg'))[:3]
    (tmp_path/'bad.jpg').write_text('not an image')
    out = tmp_path/'preds.jsonl'
    mlic('predict', '--model', model, *imgs, tmp_path/'bad.jpg', tmp_path/'gone.jpg', '--out', out)
    lines = [json.loads(l) for l in out.read_text().splitlines()]
    assert [Path(l['file']).name for l in lines] == [i.name for i in imgs] + ['bad.jpg', 'gone.jpg']
    assert all(set(l) == {'file', 'labels', 'scores'} for l in lines[:3]) and all(set(l) == {'file', 'error'} for l in lines[3:])
    th = dict(zip(*(json.loads((model/'model.json').read_text())[k] for k in ('vocab', 'thresholds'))))
    assert all(l['labels'] == [c for c, s in l['scores'].items() if s > th[c]] for l in lines[:3])
    stdout = mlic('predict', '--model', model, imgs[0]).stdout  # to stdout: JSON only
    assert json.loads(stdout)['file'] == str(imgs[0])

def test_check_data_exit_status(tmp_path):
    assert 'no problems found' in mlic('check-data', VOC).stdout
    (tmp_path/'d.csv').write_text('fname,labels\nmissing.jpg,cat\nmissing.jpg,cat\n')
    r = mlic('check-data', tmp_path/'d.csv', check=False)
    assert r.returncode == 1 and 'missing file' in r.stdout and 'duplicate of row 0' in r.stdout

def test_user_errors_are_one_line_not_a_traceback(tmp_path):
    r = mlic('predict', '--model', tmp_path, 'x.jpg', check=False)
    assert r.returncode == 2 and 'is not an mlic model' in r.stderr and 'Traceback' not in r.stderr

def test_pets_folder_trains_the_open_set_model_and_noise_gets_no_label(tmp_path, weights):
    out = tmp_path/'pets'
    r = mlic('train', '--data', ROOT/'data'/'pets', '--size', '160', *weights_args(weights), '--out', out)
    assert 'Open-set Pets model' in r.stdout
    meta = json.loads((out/'model.json').read_text())
    assert meta['open_set'] and len(set(meta['thresholds'])) == 1 and len(meta['vocab']) == 37
    m = json.loads((out/'metrics.json').read_text())
    assert m['ood_rejected'] is None and 'rejection not measured' in r.stdout  # no real OOD images given: no rejection rate claimed
    assert 'sanity check' in m['noise_sanity_check']['note'] and 'out of fold' in m['threshold_from']
    from PIL import Image
    import numpy as np
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (200, 200, 3), dtype=np.uint8)).save(tmp_path/'noise.png')
    Image.new('RGB', (200, 200), (90, 140, 200)).save(tmp_path/'flat.png')
    lines = [json.loads(l) for l in mlic('predict', '--model', out, tmp_path/'noise.png', tmp_path/'flat.png').stdout.splitlines()]
    assert [l['labels'] for l in lines] == [[], []] and all(len(l['scores']) == 37 for l in lines)

def test_train_refuses_bad_rows_or_skips_them_when_asked(tmp_path, weights):
    imgs = sorted((VOC/'VOCdevkit'/'VOC2007'/'JPEGImages').glob('*.jpg'))[:12]
    rows = [f'{p},car,{i % 3 == 0}' for i, p in enumerate(imgs)] + [f'{tmp_path}/gone.jpg,car,False']
    (tmp_path/'d.csv').write_text('fname,labels,is_valid\n' + '\n'.join(rows) + '\n')
    r = mlic('train', '--data', tmp_path/'d.csv', '--size', '64', *weights_args(weights), '--out', tmp_path/'m', check=False)
    assert r.returncode == 2 and 'missing file' in r.stderr and 'gone.jpg' in r.stderr
    (tmp_path/'map.json').write_text('{"car": ["jeep", "cab"]}')
    r = mlic('train', '--data', tmp_path/'d.csv', '--size', '64', *weights_args(weights), '--out', tmp_path/'m', '--skip-bad',
             '--zero-shot-map', tmp_path/'map.json')
    assert 'Skipping 1 of 13 rows with problems: 12 (gone.jpg)' in r.stdout and (tmp_path/'m'/'model.json').exists()
    groups = json.loads((tmp_path/'m'/'model.json').read_text())['zero_shot']['groups']
    assert groups['car'] == ['cab', 'jeep'] and groups['bus'] == ['minibus', 'school bus', 'trolleybus']  # the map's, else VOC's (ImageNet order)
    mlic('train', '--data', tmp_path/'d.csv', '--size', '64', *weights_args(weights), '--out', tmp_path/'n', '--skip-bad', '--no-zero-shot',
         '--budget', '0', '--bs', '4')
    assert json.loads((tmp_path/'n'/'model.json').read_text())['zero_shot'] is None
    m = json.loads((tmp_path/'n'/'metrics.json').read_text())
    if m['pretrained']: assert m['ft_epochs'] == 0 and 'budget' in m['recipe_choice']['reason']  # --budget 0: no time for a trial

def test_killed_training_resumes_from_its_last_checkpoint(tmp_path, weights):
    import signal, time, torch
    out, args = tmp_path/'run', ['train', '--data', VOC, '--size', '64', '--epochs', '2', *weights_args(weights)]
    env = dict(os.environ)
    p = subprocess.Popen([str(MLIC), *map(str, args), '--out', str(out)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ck, t0 = None, time.time()
    while p.poll() is None and time.time() - t0 < 600:
        if (out/'checkpoint.pth').exists():
            ck = torch.load(out/'checkpoint.pth', weights_only=True)
            if ck['phase'] == 'unfrozen': break
        time.sleep(0.1)
    assert p.poll() is None, 'training finished before it could be killed'
    p.send_signal(signal.SIGKILL); p.wait()
    assert ck['epoch'] >= 1 and not (out/'metrics.json').exists()
    r = mlic(*args[:3], '--out', out, '--resume')  # the other options come from the checkpoint
    assert f"Resuming from {out/'checkpoint.pth'}" in r.stdout
    m = json.loads((out/'metrics.json').read_text())
    assert m['ft_epochs'] == 2 and m['size'] == 64 and m['resumed_from']['epoch'] >= ck['epoch']
    assert (out/'model.safetensors').exists() and not (out/'checkpoint.pth').exists()
    r = mlic(*args[:3], '--out', out, '--resume', check=False)
    assert r.returncode == 2 and 'Nothing to resume' in r.stderr

def test_export_onnx_then_predict_with_onnxruntime_gives_pytorchs_answers(model, tmp_path):
    imgs = sorted((VOC/'VOCdevkit'/'VOC2007'/'JPEGImages').glob('*.jpg'))[:8]
    r = mlic('export-onnx', '--model', model, '--out', tmp_path/'voc.onnx')
    assert (tmp_path/'voc.onnx').exists() and (tmp_path/'voc.onnx.json').exists() and (tmp_path/'predict_onnx.py').exists(), r.stdout
    torch_lines = [json.loads(l) for l in mlic('predict', '--model', model, *imgs).stdout.splitlines()]
    onnx_lines = [json.loads(l) for l in mlic('predict', '--model', tmp_path/'voc.onnx', '--runtime', 'onnx', *imgs).stdout.splitlines()]
    assert [l['labels'] for l in onnx_lines] == [l['labels'] for l in torch_lines]
    assert max(abs(o['scores'][c] - t['scores'][c]) for o, t in zip(onnx_lines, torch_lines) for c in t['scores']) < 1e-4
    r = mlic('predict', '--model', tmp_path, '--runtime', 'onnx', imgs[0], check=False)  # a folder without model.onnx
    assert r.returncode == 2 and 'No ONNX graph' in r.stderr

def test_predict_on_the_cpu_with_workers_equals_in_process(model):
    imgs = sorted((VOC/'VOCdevkit'/'VOC2007'/'JPEGImages').glob('*.jpg'))[:40]
    a = [json.loads(l) for l in mlic('predict', '--model', model, '--workers', '0', '--device', 'cpu', *imgs).stdout.splitlines()]
    b = [json.loads(l) for l in mlic('predict', '--model', model, '--workers', '2', *imgs).stdout.splitlines()]
    assert [x['file'] for x in a] == [x['file'] for x in b] == list(map(str, imgs))
    assert max(abs(x['scores'][c] - y['scores'][c]) for x, y in zip(a, b) for c in x['scores']) < 1e-5
