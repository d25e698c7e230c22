"Model files cannot run code: a tampered weights file and a pickle disguised as a model are refused, nothing runs."
import json, pickle, shutil
from pathlib import Path
import pytest
from mlic.data import multilabel_dls
from mlic.datasets import load_voc
from mlic.backbones import multilabel_learner
from mlic.inference import export_model, load_model, sha256, ModelFileError

@pytest.fixture(scope='module')
def model(tmp_path_factory):
    learn = multilabel_learner(multilabel_dls(load_voc(), bs=4, size=64, num_workers=0), pretrained=False)
    return export_model(learn, tmp_path_factory.mktemp('m')/'model')

class Payload:
    def __reduce__(self): return (exec, ("import pathlib; pathlib.Path('/tmp/mlic_pwned').write_text('ran')",))

def test_model_json_carries_the_sha256_and_loading_checks_it(model, tmp_path):
    assert json.loads((model/'model.json').read_text())['sha256'] == sha256(model/'model.safetensors')
    bad = shutil.copytree(model, tmp_path/'bad')
    b = bytearray((bad/'model.safetensors').read_bytes()); b[len(b)//2] ^= 0xFF
    (bad/'model.safetensors').write_bytes(bytes(b))
    with pytest.raises(ModelFileError, match='does not match the sha256'): load_model(bad)

@pytest.mark.parametrize('where', ['model.safetensors', 'model.json'])
def test_a_pickle_disguised_as_a_model_is_refused_without_running(model, tmp_path, where):
    Path('/tmp/mlic_pwned').unlink(missing_ok=True)
    bad = shutil.copytree(model, tmp_path/'pkl')
    (bad/where).write_bytes(pickle.dumps(Payload()))
    if where == 'model.safetensors':  # even with a matching sha256, safetensors will not unpickle it
        meta = json.loads((bad/'model.json').read_text()); meta['sha256'] = sha256(bad/where)
        (bad/'model.json').write_text(json.dumps(meta))
    with pytest.raises(ModelFileError): load_model(bad)
    assert not Path('/tmp/mlic_pwned').exists()
