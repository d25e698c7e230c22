import os, shutil
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get('MLIC_SHARED') or ROOT.parent/'shared')  # MLIC_SHARED=/nonexistent: as a fresh clone with nothing beside it

@pytest.fixture(scope='session')
def shared():
    "The shared real data beside the project (every checkout of the developers and CI has it; a fresh clone does not)."
    if not SHARED.is_dir(): pytest.skip(f'needs the shared data sets in {SHARED} (the 994 VOC and 296 Pets images)')
    return SHARED

def _weights():
    "A local weights file or folder (MLIC_WEIGHTS, else ../shared/weights), '' for torchvision's own (cached or online), or None."
    if w := os.environ.get('MLIC_WEIGHTS'): return w
    if (SHARED/'weights').is_dir(): return str(SHARED/'weights')
    from torchvision import models
    from mlic.backbones import torchvision_weights_available
    return '' if torchvision_weights_available(models.mobilenet_v2) else None

@pytest.fixture(scope='session')
def weights():
    "Where pretrained MobileNetV2 weights come from, for `--weights` (an empty string: torchvision's own); skips without any."
    w = _weights()
    if w is None: pytest.skip('needs pretrained weights: set MLIC_WEIGHTS to a torchvision state_dict (../shared/weights has one) or run online')
    return w

def weights_args(w) -> list:
    "`--weights W` for the command line, or nothing when torchvision's own weights are used."
    return ['--weights', str(w)] if w else []

CHROMIUM = next((p for p in ('/usr/bin/chromium', shutil.which('chromium') or '', shutil.which('chromium-browser') or '') if p and Path(p).exists()), None)
# What Debian's Chromium needs to stay quiet on a closed network (Playwright adds its own profile and headless flags).
FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
         '--disable-component-update', '--disable-sync']

@pytest.fixture(scope='session')
def browser():
    "Headless Debian Chromium under Playwright; skips, saying what to install, where either is missing."
    if CHROMIUM is None: pytest.skip("Chromium not found: apt-get install -y chromium (Debian's; no browser download)")
    try: from playwright.sync_api import sync_playwright
    except ImportError: pytest.skip('Playwright not installed: pip install playwright (it drives /usr/bin/chromium; skip `playwright install`)')
    with sync_playwright() as pw:
        try: b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        except Exception as e: pytest.skip(f'Chromium at {CHROMIUM} does not start under Playwright: {str(e).splitlines()[0]}')
        yield b
        b.close()
