"Shared set-up of the benchmarks: offline defaults, quiet training, and the results files the chapters read."
import contextlib, io, json, os, platform, subprocess, sys, time, warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent/'shared'
RESULTS = ROOT/'bench'/'results'
os.environ.setdefault('MLIC_OFFLINE', '1')
if (SHARED/'weights').is_dir(): os.environ.setdefault('MLIC_WEIGHTS', str(SHARED/'weights'))
warnings.filterwarnings('ignore')

@contextlib.contextmanager
def quiet():
    "Hide fastai's progress bars and per-epoch tables (the benchmark prints its own figures)."
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()): yield

def _git(*args) -> str:
    try: return subprocess.run(['git', *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError): return ''

def provenance() -> dict:
    "The command, the commit (with `+changes` if the library or the benchmarks differ from it), the date and the machine."
    commit = _git('rev-parse', '--short', 'HEAD') or 'unknown'
    if _git('status', '--porcelain', '--', 'mlic', 'bench/*.py'): commit += '+changes'
    import torch
    return dict(command='python ' + ' '.join(['bench/' + Path(sys.argv[0]).name] + sys.argv[1:]), commit=commit,
                date=time.strftime('%Y-%m-%d'), machine=f'{platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}'
                + (f', {torch.cuda.get_device_name()}' if torch.cuda.is_available() else ', no GPU'))

def save_results(name:str, rows:list, **figures) -> Path:
    "Write `bench/results/{name}.json`: the table `rows` (a list of dicts), any other `figures`, and their provenance."
    RESULTS.mkdir(parents=True, exist_ok=True)
    fn = RESULTS/f'{name}.json'
    fn.write_text(json.dumps(dict(provenance(), rows=rows, **figures), indent=1, default=float) + '\n')
    print(f'written {fn.relative_to(ROOT)}')
    return fn
