import os
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent/'shared'
os.environ.setdefault('MLIC_OFFLINE', '1')  # tests never touch the network

@pytest.fixture(scope='session')
def shared():
    "The shared real data beside the project (every checkout and CI run has it)."
    assert SHARED.is_dir(), f'{SHARED} is missing: the tests read the shared VOC, Pets and weights'
    return SHARED
