"Pretrained weights from the shared folder, through MLIC_WEIGHTS."
import io, contextlib
import torch
from torchvision import models
from mlic.backbones import backbone, LocalWeights, load_state_dict, find_weights

def test_shared_mobilenet_weights_load_into_the_learner_arch(shared, monkeypatch):
    monkeypatch.setenv('MLIC_WEIGHTS', str(shared/'weights'))
    with contextlib.redirect_stdout(io.StringIO()) as out: arch, pre = backbone('mobilenet_v2')
    assert pre and isinstance(arch, LocalWeights) and 'ImageNet weights from' in out.getvalue()
    sd = load_state_dict(find_weights('mobilenet_v2'))
    m = arch(weights='DEFAULT')
    assert all(torch.equal(v, sd[k]) for k, v in m.state_dict().items())

def test_random_weights_said_in_one_line(monkeypatch, tmp_path):
    monkeypatch.setenv('MLIC_WEIGHTS', str(tmp_path))  # a folder with no resnet18 file
    monkeypatch.setenv('MLIC_OFFLINE', '1')
    monkeypatch.setattr(torch.hub, 'get_dir', lambda: str(tmp_path))  # and nothing cached
    with contextlib.redirect_stdout(io.StringIO()) as out: arch, pre = backbone('resnet18')
    assert (arch, pre) == (models.resnet18, False)
    assert out.getvalue().count('\n') == 1 and 'random weights' in out.getvalue()
