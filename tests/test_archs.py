"""Any backbone by name (chapter 01b): every torchvision classifier, and timm models, from a learner to an exported
model, its probabilities, its class maps and its ONNX graph. Random weights throughout: nothing is downloaded."""
import contextlib, json, subprocess, sys, warnings
from unittest import mock
from pathlib import Path
import numpy as np, pytest, torch
from torchvision import models
from fastai.vision.all import create_vision_model
from mlic.backbones import get_arch, arch_name, multilabel_learner
from mlic.data import multilabel_dls
from mlic.datasets import load_voc
from mlic.losses import BCELossMulti
from mlic.inference import export_model, load_model
from mlic.cam import grad_cam, cam_method

TOO_BIG = {'vit_h_14', 'vit_l_16', 'vit_l_32', 'regnet_y_128gf', 'regnet_y_32gf', 'regnet_y_16gf', 'regnet_x_32gf'}  # 0.3-0.6 billion weights
MLIC = Path(sys.executable).parent/'mlic'

@contextlib.contextmanager
def no_init():
    "Weights left as allocated (shapes are what is tested): building 70 networks takes seconds, not minutes."
    names = [n for n in dir(torch.nn.init) if n.endswith('_') and not n.startswith('_')]
    with contextlib.ExitStack() as st:
        for n in names: st.enter_context(mock.patch.object(torch.nn.init, n, lambda t, *a, **k: t))
        yield

def test_every_torchvision_classifier_makes_a_body_with_a_feature_map_and_fastais_head():
    bad = {}
    for name in (n for n in models.list_models(module=models) if n not in TOO_BIG):
        try:
            with no_init(), warnings.catch_warnings():
                warnings.simplefilter('ignore')
                m = create_vision_model(get_arch(name), 5, pretrained=False).eval()
            with torch.no_grad(): f = m[0](torch.zeros(1, 3, 96, 96))
            assert f.ndim == 4 and m[1](f).shape == (1, 5)
            assert get_arch(arch_name(get_arch(name))) is get_arch(name)
        except Exception as e: bad[name] = f'{type(e).__name__}: {str(e)[:120]}'
    assert not bad, bad

@pytest.fixture(scope='module')
def dls(): return multilabel_dls(load_voc(), bs=4, size=64, num_workers=0)

ROUNDTRIP = ['mobilenet_v3_small', 'efficientnet_b0', 'googlenet', 'shufflenet_v2_x0_5', 'regnet_y_400mf', 'vit_b_32',
             'timm:resnet18', 'timm:efficientnet_b0', 'convnext_atto', 'timm:mobilenetv3_small_050']

@pytest.mark.parametrize('name', ROUNDTRIP)
def test_export_load_maps_and_onnx_for_any_backbone(name, dls, tmp_path):
    "Exported and loaded back (model.json names the architecture), the same probabilities; class maps; the same from onnxruntime."
    from mlic.deploy import export_onnx, OnnxModel
    torch.manual_seed(0)
    learn = multilabel_learner(dls, name, pretrained=False, loss_func=BCELossMulti())
    mm = load_model(export_model(learn, tmp_path/'m'))
    assert json.loads((tmp_path/'m'/'model.json').read_text())['arch'] == arch_name(learn.arch)
    files = list(dls.valid.items.path[:2])
    x = torch.stack([mm.prepare(f) for f in files])
    learn.model.eval()
    with torch.no_grad(): want = torch.sigmoid(learn.model(x))
    torch.testing.assert_close(mm.probs(x), want, atol=1e-5, rtol=1e-4)
    maps, logits = grad_cam(mm, x, classes=[0, 5])
    assert maps.ndim == 4 and maps.shape[:2] == (2, 2) and maps.isfinite().all() and cam_method(mm.model) in ('cam', 'gradcam')
    onx = OnnxModel(export_onnx(mm, tmp_path/'m.onnx'))
    np.testing.assert_allclose(onx.probs(np.stack([onx.image(f) for f in files])), mm.probs(x).numpy(), atol=1e-4)

def test_mlic_predict_and_cam_on_a_timm_model(dls, tmp_path):
    learn = multilabel_learner(dls, 'convnext_atto', pretrained=False, loss_func=BCELossMulti())
    out = export_model(learn, tmp_path/'m')
    img = str(dls.valid.items.path.iloc[0])
    r = subprocess.run([str(MLIC), 'predict', '--model', str(out), img], capture_output=True, text=True)
    assert r.returncode == 0 and set(json.loads(r.stdout)) == {'file', 'labels', 'scores'}, r.stderr[-2000:]
    r = subprocess.run([str(MLIC), 'cam', '--model', str(out), img, '--points', '--classes', 'car,person'], capture_output=True, text=True)
    assert r.returncode == 0 and set(json.loads(r.stdout)['points']) == {'car', 'person'}, r.stderr[-2000:]
