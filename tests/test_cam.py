"Class activation maps (chapter 06): exact CAM, Grad-CAM and its hooks, coordinates, generated shapes, `mlic cam`."
import json, os, subprocess, sys
from dataclasses import replace
from pathlib import Path
import numpy as np, pytest, torch
from PIL import Image
from torchvision import models
from fastai.vision.all import PILImage, RandomResizedCrop, Resize, create_vision_model, set_seed
from mlic.cam import (cam, cam_learner, class_maps, grad_cam, image_cams, linear_head, pointing_hit,
                      shape_images, to_image, view_box)
from mlic.backbones import multilabel_learner
from mlic.cli import main
from mlic.data import multilabel_dls
from mlic.inference import export_model, load_model
from mlic.learner import fit_head
from mlic.losses import BCELossMulti

MLIC = Path(sys.executable).parent/'mlic'

def hooks_left(net):
    return sum(len(getattr(m, a)) for m in net.modules()
               for a in ('_forward_hooks', '_forward_pre_hooks', '_backward_hooks', '_backward_pre_hooks'))

def cam_net(arch, n=4):
    "A random network with the exact-CAM head, with random batch-norm statistics in the head so that folding matters."
    net = create_vision_model(arch, n, pretrained=False, concat_pool=False, lin_ftrs=[])
    bn = net[1][2]
    with torch.no_grad(): bn.running_mean.normal_(); bn.running_var.uniform_(0.5, 2); bn.weight.normal_(); bn.bias.normal_()
    return net

@pytest.mark.parametrize('arch', [models.resnet18, models.resnet50, models.mobilenet_v2])
def test_exact_cam_means_are_the_logits(arch):
    torch.manual_seed(0)
    net, x = cam_net(arch), torch.randn(2, 3, 64, 64)
    maps, logits = cam(net, x)
    assert maps.shape == (2, 4, 2, 2)
    with torch.no_grad(): torch.testing.assert_close(logits, net.eval()(x), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(maps.mean((-2, -1)), logits, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(cam(net, x, classes=[3, 1])[0], maps[:, [3, 1]], atol=1e-5, rtol=1e-5)

def test_exact_cam_refuses_heads_that_are_not_linear():
    with pytest.raises(ValueError, match='not global average pooling'): linear_head(create_vision_model(models.resnet18, 3, pretrained=False)[1])
    head = cam_net(models.resnet18)[1]
    head.append(torch.nn.ReLU())
    with pytest.raises(ValueError, match='ReLU in the head'): linear_head(head)

def grad_cam_reference(net, x, k, layer):
    "Grad-CAM of class `k` with a forward hook and a full backward hook (the textbook way)."
    store = {}
    hs = [layer.register_forward_hook(lambda m, i, o: store.update(act=o.detach())),
          layer.register_full_backward_hook(lambda m, gi, go: store.update(grad=go[0].detach()))]
    try: net.eval()(x.clone().requires_grad_())[:, k].sum().backward()
    finally:
        for h in hs: h.remove()
    net.zero_grad(set_to_none=True)
    return torch.relu((store['grad'].mean((-2, -1), keepdim=True) * store['act']).sum(1))

@pytest.mark.parametrize('arch,layer,hw', [(models.resnet18, None, 3), (models.resnet18, lambda n: n[0][6], 6),
                                           (models.mobilenet_v2, None, 3), (models.mobilenet_v2, lambda n: n[0][0][13], 6)])
def test_grad_cam_on_any_head_and_layer_leaves_nothing_behind(arch, layer, hw):
    torch.manual_seed(0)
    net, x = create_vision_model(arch, 5, pretrained=False), torch.randn(2, 3, 96, 96)
    lay = layer(net) if layer else None
    maps, logits = grad_cam(net, x, classes=[0, 4], layer=lay)
    assert maps.shape == (2, 2, hw, hw) and (maps >= 0).all()
    assert net.training  # back in the mode it had
    torch.testing.assert_close(maps[:, 1], grad_cam_reference(net, x, 4, lay or net[0]), atol=1e-5, rtol=1e-4)
    assert hooks_left(net) == 0 and all(p.grad is None for p in net.parameters())
    with pytest.raises(RuntimeError): grad_cam(net, torch.randn(1, 4, 96, 96), layer=lay)  # fails inside the hooked forward
    with pytest.raises(ValueError, match='out of range'): grad_cam(net, x, classes=[7], layer=lay)
    assert hooks_left(net) == 0 and all(p.grad is None for p in net.parameters())

def test_grad_cam_through_a_zero_shot_prior_that_covers_some_labels():
    from mlic.zero_shot import ZeroShotPrior, HeadWithPrior
    torch.manual_seed(0)
    net, x = create_vision_model(models.mobilenet_v2, 3, pretrained=False), torch.randn(2, 3, 96, 96)
    prior = ZeroShotPrior.from_groups(torch.randn(1000, 1280) * 0.05, torch.zeros(1000), {'a': ['tabby', 'tiger cat']}, ['a', 'b', 'c'])
    net[-1] = HeadWithPrior.wrap(net[-1], prior)
    net.eval()
    with torch.no_grad(): prior.set_base(net[-1][:2](net[0](x))[:, 1280:])
    maps, _ = grad_cam(net, x)  # labels b and c have no prior: no NaN may come back through it
    assert maps.isfinite().all()
    net[-1][-1].use_prior = False
    alone, _ = grad_cam(net, x)
    rel = (maps[:, 0] - alone[:, 0]).abs().max() / alone[:, 0].abs().max()  # the maps of random weights are tiny: compare relatively
    assert rel > 1e-3 and torch.allclose(maps[:, 1:], alone[:, 1:], rtol=1e-5, atol=0)  # the prior is label a's alone

def test_grad_cam_on_a_linear_head_is_the_cam_without_bias():
    torch.manual_seed(0)
    net, x = cam_net(models.resnet18), torch.randn(2, 3, 96, 96)
    maps, logits = cam(net, x)
    b = linear_head(net[1])[1]
    gc, gl = class_maps(net, x, method='gradcam')
    torch.testing.assert_close(gc, torch.relu(maps - b[:, None, None]) / 9, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(gl, logits, atol=1e-5, rtol=1e-5)

def dot(x, y, w=300, h=200):
    a = np.zeros((h, w, 3), np.uint8); a[y-1:y+2, x-1:x+2] = 255
    return PILImage.create(Image.fromarray(a))

@pytest.mark.parametrize('tfm', [RandomResizedCrop(128), Resize(128, method='squish'), Resize(128, method='crop'),
                                 Resize(128, method='pad', pad_mode='zeros')], ids=['rrc', 'squish', 'crop', 'pad'])
def test_view_box_maps_the_models_input_back_to_the_image(tfm):
    for px, py in ((210, 70), (120, 150), (60, 40)):
        seen = np.asarray(tfm(dot(px, py), split_idx=1)).sum(-1)
        v, u = np.unravel_index(seen.argmax(), seen.shape)
        x, y = to_image((u + .5, v + .5), view_box(tfm, 300, 200), (128, 128))
        assert abs(x - px) <= 3 and abs(y - py) <= 3, (tfm, px, py, x, y)

@pytest.fixture(scope='module')
def shapes(tmp_path_factory):
    return shape_images(tmp_path_factory.mktemp('shapes'), n=120, seed=0)

def trained(shapes, make, out):
    "A head trained on the shapes' MobileNetV2 features (192 pixels, chapter 04's default item transform), exported to `out`."
    set_seed(0, reproducible=True)
    dls = multilabel_dls(shapes, bs=32, size=192, num_workers=0)
    learn = make(dls, loss_func=BCELossMulti())
    fit_head(learn, steps=150, flip=False)
    return export_model(learn, out)

@pytest.fixture(scope='module')
def cam_model(shapes, tmp_path_factory, weights):
    return trained(shapes, cam_learner, tmp_path_factory.mktemp('m')/'cam')

@pytest.fixture(scope='module')
def default_model(shapes, tmp_path_factory, weights):
    return trained(shapes, multilabel_learner, tmp_path_factory.mktemp('m')/'default')

def hit_rates(recs, shapes):
    "Share of (image, predicted class that is there) whose peak lies inside the class's own shape."
    boxes, hits = dict(zip(shapes.path, shapes.boxes)), []
    for r in recs:
        bx = boxes[r['file']]
        hits += [pointing_hit((p['x'], p['y']), [bx[c]], tol=0) for c, p in r['points'].items() if c in bx]
    return np.mean(hits), len(hits)

def test_exact_cam_peaks_inside_its_own_shape(cam_model, shapes):
    mm = load_model(cam_model)
    assert mm.meta['head'] == dict(concat_pool=False, lin_ftrs=[])
    ts = {'as computed': lambda m: m, 'transposed': lambda m: m.T, 'flipped': lambda m: m[:, ::-1]}
    hits, right = {k: [] for k in ts}, []
    for p, bx in zip(*shapes[shapes.split == 'valid'][['path', 'boxes']].values.T):
        r = image_cams(mm, p, classes='circle,square')
        assert r.method == 'cam'
        right.append({c for c, q in zip(r.classes, r.probs) if q > 0.5} == set(bx))
        for k, t in ts.items():
            pk = replace(r, maps=np.stack([t(m) for m in r.maps])).peaks()
            hits[k] += [pointing_hit(pk[c], [bx[c]], tol=0) for c in bx]
    hit = {k: np.mean(v) for k, v in hits.items()}
    assert len(hits['as computed']) >= 30 and np.mean(right) >= 0.9
    assert hit['as computed'] >= 0.85, hit  # 6x6 maps: a peak can fall just outside a 50-pixel shape
    assert max(hit['transposed'], hit['flipped']) < hit['as computed'] - 0.3, hit  # the test fails for broken maps

def mlic(*args):
    r = subprocess.run([str(MLIC), *map(str, args)], capture_output=True, text=True, timeout=600,
                       env={**os.environ, 'MLIC_OFFLINE': '1'})
    assert r.returncode == 0, r.stderr[-3000:]
    return r.stdout

def test_cli_points_with_grad_cam_on_the_default_head(default_model, shapes, tmp_path):
    valid = shapes[shapes.split == 'valid']
    (tmp_path/'broken.png').write_text('not an image')
    lines = [json.loads(l) for l in mlic('cam', '--model', default_model, *valid.path, tmp_path/'broken.png', '--points').splitlines()]
    assert [l['file'] for l in lines] == list(valid.path) + [str(tmp_path/'broken.png')]
    assert set(lines[-1]) == {'file', 'error'} and all(l['method'] == 'gradcam' for l in lines[:-1])
    assert all(0 <= p['x'] < l['width'] and 0 <= p['y'] < l['height'] for l in lines[:-1] for p in l['points'].values())
    hit, n = hit_rates(lines[:-1], shapes)
    assert n >= 30 and hit >= 0.85, hit

def test_cli_figure_and_errors(cam_model, shapes, tmp_path, capsys):
    img = shapes.path.iloc[2]
    assert main(['cam', '--model', str(cam_model), img, '--out', str(tmp_path/'cam.png'), '--classes', 'circle,square']) == 0
    assert 'Written' in capsys.readouterr().out and Image.open(tmp_path/'cam.png').size[0] > 300
    assert main(['cam', '--model', str(cam_model), img, '--points', '--classes', 'circle,unicorn']) == 2
    assert "Unknown class(es) ['unicorn']" in capsys.readouterr().err
    assert main(['cam', '--model', str(cam_model), img, img, '--out', str(tmp_path/'two.png')]) == 2
    (tmp_path/'broken.png').write_text('not an image')
    assert main(['cam', '--model', str(cam_model), str(tmp_path/'broken.png'), '--out', str(tmp_path/'b.png')]) == 2
    assert 'Cannot read the image' in capsys.readouterr().err
    assert main(['cam', '--model', str(cam_model), img, '--method', 'gradcam', '--points']) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])['method'] == 'gradcam'
