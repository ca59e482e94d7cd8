#!/usr/bin/env python
"""Run the chapters top to bottom in a Jupyter kernel, the way a reader (or Colab) runs them.

    python tools/run_notebooks.py                      # every notebook in nbs/, two at a time; report only
    python tools/run_notebooks.py nbs/05_morph.ipynb --inplace   # also store the new outputs in the notebook

Unlike `nbdev_test`, which needs nbdev (and its pinned fastcore), this needs only nbclient and ipykernel, so it
runs in an environment like Colab's. Cells marked `#| slow`, `#| notest` or `#| eval: false` are skipped (with
--inplace they keep the outputs they have). With --inplace, progress bars are turned off (TQDM_DISABLE=1) so the
stored outputs hold results, not bars; run `nbdev_clean` afterwards. Exits 1 when a notebook fails."""
import argparse, copy, os, re, sys, time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

SKIP = re.compile(r'^#\|\s*(slow|notest|eval:\s*false)\s*$', re.M)

def run(path:Path, inplace:bool, timeout:int)->tuple[str, float, str]:
    "Execute one notebook; return (status, seconds, error text)."
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError
    nb = nbformat.read(path, as_version=4)
    work = copy.deepcopy(nb)
    skip = {i for i, c in enumerate(work.cells) if c.cell_type == 'code' and SKIP.search(c.source)}
    for i in skip: work.cells[i] = nbformat.v4.new_raw_cell(work.cells[i].source)
    start = time.perf_counter()
    client = NotebookClient(work, timeout=timeout, kernel_name='python3', resources={'metadata': {'path': str(path.parent)}})
    try: client.execute()
    except CellExecutionError as e: return 'FAIL', time.perf_counter() - start, str(e)[-3000:]
    if inplace:
        for i, (c, w) in enumerate(zip(nb.cells, work.cells)):
            if c.cell_type == 'code' and i not in skip: c.outputs, c.execution_count = w.outputs, w.execution_count
        nbformat.write(nb, path)
    return 'ok', time.perf_counter() - start, ''

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('notebooks', nargs='*', help='notebooks to run (default: nbs/*.ipynb)')
    ap.add_argument('--inplace', action='store_true', help='store the new outputs in the notebooks')
    ap.add_argument('--workers', type=int, default=2, help='notebooks run at once (default: 2)')
    ap.add_argument('--timeout', type=int, default=1200, help='seconds one cell may take (default: 1200)')
    a = ap.parse_args()
    paths = [Path(p) for p in a.notebooks] or sorted(Path(__file__).resolve().parent.parent.glob('nbs/*.ipynb'))
    if a.inplace: os.environ['TQDM_DISABLE'] = '1'
    # The kernel draws figures inline, as in Jupyter and Colab; MPLBACKEND=Agg (set for the tests) would leave no pictures.
    os.environ.pop('MPLBACKEND', None)
    failed = 0
    with ThreadPoolExecutor(a.workers) as pool:
        for path, (status, secs, err) in zip(paths, pool.map(lambda p: run(p, a.inplace, a.timeout), paths)):
            print(f"{status:4} {path.name} ({secs:.0f} s)", flush=True)
            if err: print(err, file=sys.stderr); failed += 1
    print(f"notebooks: {len(paths) - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)

if __name__ == '__main__': main()
