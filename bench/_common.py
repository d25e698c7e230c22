"Shared set-up of the benchmarks: offline defaults and quiet training."
import contextlib, io, os, sys, warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent/'shared'
os.environ.setdefault('MLIC_OFFLINE', '1')
if (SHARED/'weights').is_dir(): os.environ.setdefault('MLIC_WEIGHTS', str(SHARED/'weights'))
warnings.filterwarnings('ignore')

@contextlib.contextmanager
def quiet():
    "Hide fastai's progress bars and per-epoch tables (the benchmark prints its own figures)."
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()): yield
