"`mlic-demo`, the command behind `make demo`, end to end in a subprocess."
import json, os, subprocess, sys
from pathlib import Path

def test_demo_writes_a_run_folder_and_prints_map(tmp_path, weights):
    out = tmp_path/'run'
    env = {**os.environ, 'MLIC_WEIGHTS': weights, 'MLIC_DATA': str(Path(__file__).resolve().parent.parent/'data')}
    r = subprocess.run([Path(sys.executable).parent/'mlic-demo', '--out', str(out), '--size', '128'],
                       capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert 'PASCAL VOC 2007 (MLIC_DATA' in r.stdout
    assert f'Run written to {out.resolve()}' in r.stdout
    m = json.loads((out/'metrics.json').read_text())
    assert f"Validation mAP: {m['mAP']:.3f}" in r.stdout
    assert {'model.safetensors', 'model.json', 'loss.png', 'per_class_ap.png', 'label_stats.png'} <= {f.name for f in out.iterdir()}
    assert m['pretrained'] and m['n_images'] == 100
