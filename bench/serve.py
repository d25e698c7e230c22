"""`mlic serve` under load: 8 clients sending 25 requests each, one image per request, on 127.0.0.1.

    python bench/serve.py [--model DIR] [--clients 8] [--requests 25] [--page-every 0]

The model: as bench/predict.py's (mlic's recipe on the shared VOC images at 320 px, cached). The images: the shared VOC
images, in turn. Each client waits for its answer before sending the next request. Prints and writes to
bench/results/serve.json (read by chapter 08): requests per second over the whole run, and the p50 and p99 latency of
`POST /predict`; with `--page-every K`, every K-th request of a client is a page with class activation maps instead.
"""
import argparse, socket, subprocess, sys, threading, time
from pathlib import Path
import numpy as np
import httpx
from _common import SHARED, save_results
from predict import model_dir
from mlic.datasets import read_pascal_csv

def free_port():
    with socket.socket() as s: s.bind(('127.0.0.1', 0)); return s.getsockname()[1]

def start(model, port):
    p = subprocess.Popen([str(Path(sys.executable).parent/'mlic'), 'serve', '--model', str(model), '--port', str(port)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(480):
        try:
            if httpx.get(f'http://127.0.0.1:{port}/health', timeout=2).status_code == 200: return p
        except httpx.HTTPError: time.sleep(0.5)
    p.kill(); raise RuntimeError('mlic serve did not start')

def load(url, files, clients, requests, page_every):
    "Latencies `(is_page, seconds)` and status codes of `clients` x `requests` requests, and the wall time."
    lat, codes, lock = [], [], threading.Lock()
    def client(k):
        with httpx.Client(base_url=url, timeout=600) as c:
            for i in range(requests):
                f, pg = files[(k * requests + i) % len(files)], bool(page_every) and i % page_every == page_every - 1
                t = time.perf_counter()
                r = c.post('/' if pg else '/predict', files=[('files', (f.name, f.read_bytes()))])
                with lock: lat.append((pg, time.perf_counter() - t)); codes.append(r.status_code)
    ts = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    t0 = time.perf_counter(); [t.start() for t in ts]; [t.join() for t in ts]
    return lat, codes, time.perf_counter() - t0

if __name__ == '__main__':
    ap = argparse.ArgumentParser()
    ap.add_argument('--model'); ap.add_argument('--clients', type=int, default=8); ap.add_argument('--requests', type=int, default=25)
    ap.add_argument('--page-every', type=int, default=0)
    a = ap.parse_args()
    model = model_dir(a.model)
    files = [Path(p) for p in read_pascal_csv(SHARED/'data'/'voc2007').path[:200]]
    port = free_port(); srv = start(model, port)
    try: lat, codes, wall = load(f'http://127.0.0.1:{port}', files, a.clients, a.requests, a.page_every)
    finally: srv.terminate(); srv.wait(20)
    js, pages = [d for pg, d in lat if not pg], [d for pg, d in lat if pg]
    n = a.clients * a.requests
    row = {'model': f"{model.name} ({__import__('json').loads((model/'model.json').read_text())['arch']})", 'requests': n,
           'answered': len(codes), '5xx': sum(c >= 500 for c in codes), 'requests/s': round(n / wall, 2),
           'p50 /predict (s)': round(float(np.percentile(js, 50)), 3), 'p99 /predict (s)': round(float(np.percentile(js, 99)), 3)}
    if pages: row |= {'p50 page with maps (s)': round(float(np.percentile(pages, 50)), 3), 'p99 page with maps (s)': round(float(np.percentile(pages, 99)), 3)}
    print(row)
    save_results('serve', [row], clients=a.clients, requests_per_client=a.requests, page_every=a.page_every)
