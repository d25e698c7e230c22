"""Linear probes on frozen MobileNetV2 features of the shared VOC subset, at several resolutions.

    python bench/resolution_probe.py

Features: average and max pooled, each averaged with the mirror image; heads trained on the 506 train images, mAP on
the 488 val images. The figures behind chapter 04c's "resolution matters most", written to
bench/results/resolution_probe.json.
"""
import time
from _common import SHARED, save_results
import numpy as np, torch, torch.nn.functional as F
from PIL import Image
from torchvision import models
from mlic.data import label_matrix
from mlic.datasets import read_pascal_csv
from mlic.backbones import load_state_dict
from mlic.metrics import mean_ap
torch.set_num_threads(2)
df = read_pascal_csv(SHARED/'data'/'voc2007')
Y = label_matrix(df).toarray().astype(np.float32)
tr, va = (df.split=='train').values, (df.split=='valid').values
net = models.mobilenet_v2(); net.load_state_dict(load_state_dict(next((SHARED/'weights').glob('mobilenet_v2*.pth')))); body = net.features.eval()
mean, std = torch.tensor([0.485,0.456,0.406])[:,None,None], torch.tensor([0.229,0.224,0.225])[:,None,None]
def feats(size, mode='squish'):
    out = []
    t=time.time()
    for i in range(0, len(df), 32):
        ims = []
        for p in df.path[i:i+32]:
            im = Image.open(p).convert('RGB')
            if mode=='squish': im = im.resize((size,size), Image.BILINEAR)
            else:
                s = size/min(im.size); im = im.resize((round(im.width*s), round(im.height*s)), Image.BILINEAR)
                l, tp = (im.width-size)//2, (im.height-size)//2; im = im.crop((l,tp,l+size,tp+size))
            ims.append((torch.from_numpy(np.asarray(im)).permute(2,0,1).float()/255 - mean)/std)
        x = torch.stack(ims)
        with torch.no_grad():
            f = body(x); f2 = body(x.flip(3))
            out.append(torch.cat([(f.mean((2,3))+f2.mean((2,3)))/2, (f.amax((2,3))+f2.amax((2,3)))/2], 1))
    print(f'features {size} {mode}: {time.time()-t:.0f}s', flush=True)
    return torch.cat(out).numpy()
def head(X, epochs=300, wd=1e-3, lr=1e-2, hidden=0):
    Xt = torch.tensor(X[tr]); Yt = torch.tensor(Y[tr])
    mu, sd = Xt.mean(0), Xt.std(0)+1e-6
    Xn = (Xt-mu)/sd; Xv = (torch.tensor(X[va])-mu)/sd
    p = (Yt.sum(0)+1)/(len(Yt)+2)
    lin = torch.nn.Linear(X.shape[1], 20); torch.nn.init.normal_(lin.weight, std=0.01); lin.bias.data = torch.log(p/(1-p))
    m = lin if not hidden else torch.nn.Sequential(torch.nn.Dropout(0.5), torch.nn.Linear(X.shape[1], hidden), torch.nn.ReLU(), torch.nn.Dropout(0.5), lin.__class__(hidden, 20))
    opt = torch.optim.AdamW(m.parameters(), lr=lr, weight_decay=wd)
    for e in range(epochs):
        m.train(); opt.zero_grad(); l = F.binary_cross_entropy_with_logits(m(Xn), Yt); l.backward(); opt.step()
    m.eval()
    with torch.no_grad(): return mean_ap(torch.sigmoid(m(Xv)).numpy(), Y[va])
from sklearn.linear_model import LogisticRegression
rows = []
for size, mode in [(224,'squish'), (320,'squish'), (416, 'squish')]:
    X = feats(size, mode)
    res = {f'lin wd{wd}': head(X, wd=wd) for wd in (1e-4, 1e-2, 1e-1)}
    res['mlp512'] = head(X, hidden=512, wd=1e-2)
    Xa = X[:, :1280]
    Xs = (Xa - Xa[tr].mean(0))/ (Xa[tr].std(0)+1e-6)
    aps = []
    P = np.zeros((va.sum(), 20))
    for c in range(20):
        if Y[tr, c].sum() == 0: P[:, c] = 0; continue
        P[:, c] = LogisticRegression(C=0.01, max_iter=500).fit(Xs[tr], Y[tr, c]).predict_proba(Xs[va])[:, 1]
    res['sk logreg avg C.01'] = mean_ap(P, Y[va])
    print(size, mode, {k: round(v, 3) for k, v in res.items()}, flush=True)
    rows.append({'size': size, **{f'mAP, {k}': round(v, 3) for k, v in res.items()}})
save_results('resolution_probe', rows, n_train=int(tr.sum()), n_valid=int(va.sum()))
