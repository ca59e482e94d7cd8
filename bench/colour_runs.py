"""Full-size runs of the colour chapter (nbs/07_colour.ipynb): its figures and scores.

Writes nbs/images/colour_*.png and adds each run's scores to nbs/images/colour_metrics.json.
Runs (any subset, in order): painter, conv, faces, cifar, sweep.

    VAE_NBS_DATA=../shared/data python bench/colour_runs.py painter conv faces cifar sweep

One thread: on a 2-core CPU shared with other jobs, two threads ran about 10x slower than one.
"""
import argparse, json, math, time
from pathlib import Path
import torch, matplotlib
from PIL import Image
matplotlib.use('Agg')
import matplotlib.pyplot as plt
from vae_nbs.data import TensorLoader, get_data_root, load_image_folder, load_celeba, image_loaders, show_images
from vae_nbs.autoencoder import build_model
from vae_nbs.train import Trainer, evaluate
from vae_nbs.colour import reconstruction_metrics, latent_sweep, plot_latent_sweep

IMAGES = Path(__file__).resolve().parent.parent/'nbs'/'images'
METRICS = IMAGES/'colour_metrics.json'

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
    Trainer(model, dls, lr=1e-3, seed=seed, progress=False).fit(epochs)
    return model, time.perf_counter() - start

def score(model, loader, epochs, seconds):
    "Negative ELBO and its terms, reconstruction metrics, training length (and the learned sigma, if any)."
    s = {**evaluate(model, loader), **reconstruction_metrics(model, loader), 'epochs': epochs, 'seconds': seconds}
    if model.likelihood == 'gaussian': s['sigma'] = model.logscale.exp().item()
    return s

def save_grid(fname, rows, title, nrow):
    "Stack `rows` (name, images) into one figure of image grids, saved at dpi 80."
    fig, axs = plt.subplots(len(rows), 1, figsize=(nrow*0.75, 0.9*len(rows)*(len(rows[0][1])//nrow) + 0.4*len(rows)))
    for ax, (name, x) in zip(axs, rows): show_images(x, nrow=nrow, title=name, ax=ax)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(IMAGES/fname, dpi=80)
    plt.close(fig)
    shrink_png(IMAGES/fname)

def shrink_png(fname):
    "Re-save a PNG with a 256-colour palette, to keep the repository's figures small."
    Image.open(fname).convert('RGB').quantize(256, method=Image.Quantize.MEDIANCUT).save(fname, optimize=True)

def painting_loaders(size, bs):
    "The landscape paintings at `size`, 90% to train, the same 10% held out at every size."
    return image_loaders(load_image_folder(get_data_root()/'paintings-landscapes', size=size), bs=bs, valid_pct=0.1, seed=42)

def painter_run(key, fname, title, name, epochs, **config):
    "Train a 28x28 painter; save its figure (held out, reconstructions, samples) and scores."
    dls = painting_loaders(28, 100)
    model, secs = train(name, dls, epochs, **config)
    x = dls.valid.tensors[0][:16].float()/255
    torch.manual_seed(1)
    save_grid(fname, [('held-out paintings', x), ('reconstructions', model.reconstruct(x)),
                      ('new paintings from z ~ N(0, I)', model.sample(16))], title, 16)
    save_scores(**{key: score(model, dls.valid, epochs, secs)})

def faces_run(ae_epochs=60, vae_epochs=80):
    "Seed 004's AE and VAE at 64x64 on the paintings; reconstruct held-out paintings and the CelebA faces."
    dls = painting_loaders(64, 32)
    faces = load_celeba(size=64)
    face_dl = TensorLoader(faces, bs=32)
    runs = {}
    x, f = dls.valid.tensors[0][:12].float()/255, faces[:12].float()/255
    rows = [('held-out paintings', x)]
    frows = [('CelebA faces (never seen in training)', f)]
    for label, name, epochs in [('AE', 'seed004_ae', ae_epochs), ('VAE', 'seed004_faces', vae_epochs)]:
        model, secs = train(name, dls, epochs)
        runs[f'seed004 {label} paintings'] = score(model, dls.valid, epochs, secs)
        runs[f'seed004 {label} faces'] = score(model, face_dl, epochs, secs)
        rows.append((f'{label} reconstructions', model.reconstruct(x)))
        frows.append((f'{label} reconstructions', model.reconstruct(f)))
    save_grid('colour_faces.png', rows + frows, "Seed 004's autoencoder and VAE, 64x64, trained on 363 paintings", 12)
    save_scores(**runs)

def cifar_run(n_train=6000, n_test=2000, epochs=5, latent=128):
    "Conv VAE with a Gaussian decoder on a CIFAR-10 subset; scores on part of the test set."
    start = time.perf_counter()
    xtr = load_image_folder(get_data_root()/'cifar10'/'train', size=32)
    xte = load_image_folder(get_data_root()/'cifar10'/'test', size=32)
    load_secs = time.perf_counter() - start
    g = torch.Generator().manual_seed(0)
    xtr, xte = xtr[torch.randperm(len(xtr), generator=g)[:n_train]], xte[torch.randperm(len(xte), generator=g)[:n_test]]
    dls = image_loaders(xtr, bs=128, valid_pct=0.1, seed=42, test=(xte,))
    model, secs = train('vae_conv', dls, epochs, img_shape=(3, 32, 32), latent=latent, likelihood='gaussian')
    x = dls.test.tensors[0][:16].float()/255
    torch.manual_seed(1)
    save_grid('colour_cifar.png', [('CIFAR-10 test photos', x), ('reconstructions', model.reconstruct(x)),
                                   ('samples from z ~ N(0, I)', model.sample(16))],
              f'Conv VAE on {n_train} CIFAR-10 photos, {epochs} epochs', 16)
    save_scores(**{'cifar10 conv VAE (test)': {**score(model, dls.test, epochs, secs), 'n_train': n_train,
                                                 'n_test': n_test, 'load_seconds': load_secs}})

def sweep_run(latents=(2, 8, 32, 64, 256), epochs=100):
    "Latent-size sweep of seed 000's painter on the paintings at 28x28."
    res = latent_sweep(painting_loaders(28, 100), list(latents), name='seed000_painter', epochs=epochs, plot=False)
    fig = plot_latent_sweep(res, f"Seed 000's painter, {epochs} epochs per code size, 40 held-out paintings")
    fig.savefig(IMAGES/'colour_sweep.png', dpi=80)
    plt.close(fig)
    save_scores(sweep=res)

RUNS = {
    'painter': lambda: painter_run('painter (MLP)', 'colour_painter.png', "Seed 000's painter (MLP VAE), 100 epochs",
                                   'seed000_painter', 100),
    'conv': lambda: painter_run('painter (conv)', 'colour_conv_painter.png', 'Convolutional VAE painter, 100 epochs',
                                'vae_conv', 100, img_shape=(3, 28, 28), latent=64),
    'faces': faces_run, 'cifar': cifar_run, 'sweep': sweep_run}

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('runs', nargs='+', choices=list(RUNS))
    args = p.parse_args()
    torch.set_num_threads(1)
    IMAGES.mkdir(exist_ok=True)
    for r in args.runs:
        start = time.perf_counter()
        RUNS[r]()
        print(f'{r}: {time.perf_counter() - start:.0f} s', flush=True)
