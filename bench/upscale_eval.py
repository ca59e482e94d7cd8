"""Train the MNIST upscaler write-up's model with the project's Trainer, then evaluate it, the shipped upscaler
(`pretrained('upscaler')`) and the interpolation baselines on the full MNIST test set, and write the upscaling
chapter's table and comparison picture.

    python bench/upscale_eval.py --runs /tmp/upscale_runs              # train (about 4 minutes on a CPU), evaluate
    python bench/upscale_eval.py --runs /tmp/upscale_runs --eval-only  # evaluate an existing checkpoint

Set VAE_NBS_DATA to the data folder when MNIST is not in ~/.cache/vae_nbs. Writes
nbs/images/upscale_results.json and nbs/images/upscale_comparison.png."""
import argparse, json, platform, time
from pathlib import Path
import torch
from vae_nbs.autoencoder import build_model
from vae_nbs.train import Trainer, load, load_checkpoint, pretrained, pretrained_path
from vae_nbs.upscale import upscale_loaders, evaluate_upscalers, results_table, plot_upscale_comparison

IMAGES = Path(__file__).resolve().parent.parent/'nbs'/'images'
WRITEUP = "write-up's upscaler (2-D code)"
SHIPPED = 'shipped upscaler (conditional, 16-D code)'
# the write-up's model, trained here: registered model, epochs, Trainer options
RUN = ('seed001_upscaler', 3, dict(lr=1e-3))

def main(runs:str='/tmp/upscale_runs', # folder for the checkpoint
         eval_only:bool=False, # evaluate an existing checkpoint without training
         device:str='cpu', # where to train and evaluate
        ):
    "Train the write-up's upscaler (unless `eval_only`), evaluate it with the shipped one; write the JSON and figure."
    name, epochs, opts = RUN
    ckpt = Path(runs)/name/'model.pt'
    dls = upscale_loaders(device=device)
    if not eval_only:
        torch.manual_seed(0)
        if ckpt.exists(): learn = Trainer.resume(ckpt, dls, device=device, progress=False)  # carry on after a stop
        else: learn = Trainer(build_model(name), dls, device=device, ckpt_path=ckpt, seed=0, progress=False, **opts)
        learn.fit(epochs)
    history = load_checkpoint(ckpt)['history']
    train_seconds = sum(h['seconds'] for h in history)  # all epochs, also when resumed
    print(f"{WRITEUP}: {len(history)} epochs in {train_seconds:.0f} s", flush=True)
    models = {WRITEUP: load(ckpt, device), SHIPPED: pretrained('upscaler', device)}
    start = time.perf_counter()
    results = evaluate_upscalers(dls.test, models)
    eval_seconds = time.perf_counter() - start
    print(results_table(results))
    kl = {WRITEUP: history[-1]['valid_kl'],
          SHIPPED: load_checkpoint(pretrained_path('upscaler'))['history'][-1]['valid_kl']}
    threads = torch.get_num_threads()
    info = dict(results=results, n_test=dls.test.n, train_seconds=train_seconds, eval_seconds=eval_seconds, valid_kl=kl,
                runs={WRITEUP: dict(model=name, epochs=epochs, **opts), SHIPPED: dict(model='upscaler', pretrained='upscaler')},
                hardware=f"{platform.machine()} CPU, {threads} thread{'s' * (threads != 1)}, torch {torch.__version__}",
                command='python bench/upscale_eval.py')
    IMAGES.mkdir(exist_ok=True)
    (IMAGES/'upscale_results.json').write_text(json.dumps(info, indent=2))
    lo, hi = next(iter(dls.test))
    plot_upscale_comparison(models, lo, hi, n=10, path=IMAGES/'upscale_comparison.png')
    print(f"evaluation {eval_seconds:.0f} s; wrote {IMAGES}/upscale_results.json and upscale_comparison.png")

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--runs', default='/tmp/upscale_runs', help='folder for the checkpoint')
    p.add_argument('--eval-only', '--eval_only', action='store_true', help='evaluate an existing checkpoint without training')
    p.add_argument('--device', default='cpu', help='where to train and evaluate')
    a = p.parse_args()
    main(a.runs, a.eval_only, a.device)
