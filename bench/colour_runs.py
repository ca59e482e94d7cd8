"""Full-size runs of the colour chapter (nbs/07_colour.ipynb) other than the CIFAR-10 benchmark: figures and scores.

Writes nbs/images/colour_*.png and adds each run's scores to nbs/images/colour_metrics.json.
Runs (any subset, in order):

* painter: the landscape painter (fully connected VAE) on 363 of the 403 paintings at 28x28, 100 epochs;
* conv: the convolutional VAE on the same paintings, 100 epochs;
* paintings64: the CelebA write-up's autoencoder and VAE architectures on the same paintings at 64x64, then
  shown the 32 CelebA faces (no face model is trained: there are only 32 faces here);
* sweep: `vae_colour` with codes of 64 to 1024 dimensions (1 to 16 per position of its 8x8 map) on 9,000
  CIFAR-10 training images, 2 epochs per size, scored on 1,000 held-out images.

    VAE_NBS_DATA=/path/to/data python bench/colour_runs.py painter conv paintings64 sweep

The CIFAR-10 benchmark itself is bench/cifar_bits.py.
"""
import argparse, json, os, textwrap, time
from pathlib import Path
import torch, matplotlib
matplotlib.use('Agg')
import matplotlib.pyplot as plt
from vae_nbs.data import TensorLoader, get_data_root, load_image_folder, load_celeba, image_loaders, mnist_loaders, show_images
from vae_nbs.autoencoder import build_model
from vae_nbs.train import Trainer, evaluate
from vae_nbs.metrics import reconstruction_metrics
from vae_nbs.colour import latent_sweep, plot_latent_sweep
from budget import shrink_png

IMAGES = Path(__file__).resolve().parent.parent/'nbs'/'images'
METRICS = IMAGES/'colour_metrics.json'
HARDWARE = '2-core laptop-class CPU'

def save_scores(**runs):
    "Merge `runs` (name -> scores) into the chapter's metrics file."
    scores = json.loads(METRICS.read_text()) if METRICS.exists() else {}
    scores.update(runs)
    METRICS.write_text(json.dumps(scores, indent=1))

def train(name, dls, epochs, seed=0, **config):
    "Build `name` with `config`, train it with the shared Trainer; the model and the seconds it took."
    torch.manual_seed(seed)
    model = build_model(name, **config)
    start = time.perf_counter()
    Trainer(model, dls, lr=1e-3, seed=seed, device='cpu', progress=False).fit(epochs)
    return model, time.perf_counter() - start

def score(model, loader, epochs, seconds, trained_on):
    "Negative ELBO and its terms, reconstruction metrics, what and how long it trained on (and the learned sigma, if any)."
    s = {**evaluate(model, loader), **reconstruction_metrics(model, loader), 'epochs': epochs, 'seconds': seconds,
         'trained_on': trained_on, 'threads': torch.get_num_threads(), 'load': os.getloadavg()[0]}
    if model.likelihood == 'gaussian': s['sigma'] = model.logscale.exp().item()
    return s

def save_grid(fname, rows, title, nrow):
    "Stack `rows` (name, images) into one figure of image grids, saved at dpi 80."
    fig, axs = plt.subplots(len(rows), 1, figsize=(nrow*0.75, 0.9*len(rows)*(len(rows[0][1])//nrow) + 0.4*len(rows)))
    for ax, (name, x) in zip(axs, rows): show_images(x, nrow=nrow, title=name, ax=ax)
    fig.suptitle(textwrap.fill(title, 8*nrow), fontsize=10)  # about 8 characters an image wide
    fig.tight_layout()
    fig.savefig(IMAGES/fname, dpi=80)
    plt.close(fig)
    shrink_png(IMAGES/fname)

def painting_loaders(size, bs):
    "The 403 landscape paintings at `size`: 363 to train, the same 40 held out at every size."
    return image_loaders(load_image_folder(get_data_root()/'paintings-landscapes', size=size), bs=bs, valid_pct=0.1,
                         seed=42, device='cpu')

def painter_run(key, fname, label, name, epochs, **config):
    "Train a 28x28 painter; save its figure (held out, reconstructions, samples) and scores."
    dls = painting_loaders(28, 100)
    model, secs = train(name, dls, epochs, **config)
    x = dls.valid.tensors[0][:16].float()/255
    torch.manual_seed(1)
    title = f"{label}: {epochs} epochs ({secs/60:.1f} min) on 363 landscape paintings at 28x28, {HARDWARE}"
    save_grid(fname, [('held-out paintings', x), ('reconstructions', model.reconstruct(x)),
                      ('new paintings from z ~ N(0, I)', model.sample(16))], title, 16)
    save_scores(**{key: score(model, dls.valid, epochs, secs, '363 landscape paintings, 28x28')})

def paintings64_run(ae_epochs=60, vae_epochs=80):
    "The CelebA write-up's AE and VAE architectures at 64x64 on the paintings; reconstruct held-out paintings and the 32 faces."
    dls = painting_loaders(64, 32)
    faces = load_celeba(size=64)
    face_dl = TensorLoader(faces, bs=32, device='cpu')
    runs, secs_all = {}, []
    x, f = dls.valid.tensors[0][:12].float()/255, faces[:12].float()/255
    rows, frows = [('held-out paintings', x)], [('CelebA faces (never seen in training)', f)]
    for label, name, epochs in [('AE', 'faces_ae', ae_epochs), ('VAE', 'faces_vae', vae_epochs)]:
        model, secs = train(name, dls, epochs)
        secs_all.append(secs)
        what = '363 landscape paintings, 64x64'
        runs[f'{label} on paintings (held out)'] = score(model, dls.valid, epochs, secs, what)
        runs[f'{label} on paintings (32 faces)'] = score(model, face_dl, epochs, secs, what)
        rows.append((f'{label} reconstructions', model.reconstruct(x)))
        frows.append((f'{label} reconstructions', model.reconstruct(f)))
    title = (f"The CelebA write-up's autoencoder ({ae_epochs} epochs, {secs_all[0]/60:.0f} min) and VAE ({vae_epochs} epochs, "
             f"{secs_all[1]/60:.0f} min), trained on 363 landscape paintings at 64x64, {HARDWARE}")
    save_grid('colour_paintings64.png', rows + frows, title, 12)
    save_scores(**runs)

def sweep_run(latents=(64, 128, 256, 512, 1024), n_train=10_000, epochs=2, config=None):
    "Latent-size sweep of `vae_colour` on a fixed random subset of CIFAR-10's training set."
    config = config or {'recon_warmup': 140}  # the squared-error warm-up over the first epoch (140 batches)
    dls = mnist_loaders('cifar10', bs=64, n_train=n_train, device='cpu')  # 90% to train, 10% held out
    start = time.perf_counter()
    res = latent_sweep(dls, list(latents), epochs=epochs, warmup_epochs=1, device='cpu', plot=False, config=config)
    minutes = (time.perf_counter() - start)/60
    fig = plot_latent_sweep(res, f"vae_colour on CIFAR-10 (re-encoded JPEGs): {epochs} epochs of {dls.train.n:,} images "
                                 f"per code size, {dls.valid.n:,} held out; {minutes:.0f} min in all, {HARDWARE}")
    fig.savefig(IMAGES/'colour_sweep.png', dpi=80)
    plt.close(fig)
    shrink_png(IMAGES/'colour_sweep.png')
    save_scores(sweep=res, sweep_setup=dict(n_train=dls.train.n, n_valid=dls.valid.n, epochs=epochs, config=config,
                                            minutes=minutes, threads=torch.get_num_threads()))

RUNS = {
    'painter': lambda: painter_run('painter (MLP)', 'colour_painter.png', 'The painter (fully connected VAE)',
                                   'seed000_painter', 100),
    'conv': lambda: painter_run('painter (conv)', 'colour_conv_painter.png', 'Convolutional VAE',
                                'vae_conv', 100, img_shape=(3, 28, 28), latent=64),
    'paintings64': paintings64_run, 'sweep': sweep_run}

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('runs', nargs='+', choices=list(RUNS))
    p.add_argument('--threads', type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    IMAGES.mkdir(exist_ok=True)
    for r in args.runs:
        start = time.perf_counter()
        RUNS[r]()
        print(f'{r}: {time.perf_counter() - start:.0f} s', flush=True)
