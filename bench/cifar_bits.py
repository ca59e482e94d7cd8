"""CIFAR-10 in bits per dimension within a training-time budget on the CPU: the colour chapter's benchmark.

Trains a registered model (default `vae_colour`: a convolutional VAE with a code at every position of an 8x8 map,
whose decoder fills in the four pixels of every 2x2 block in turn, each pixel a discretised logistic mixture over
its 256 values, and a squared-error warm-up over the first epoch that keeps the code in use) with the shared
Trainer on 45,000 CIFAR-10 training images, 5,000 held out for validation. A probe times a few training steps and a validation pass, and the run takes
as many epochs as fit in --minutes, with a one-cycle learning rate and a KL warm-up. Validation bits/dim is logged
after every epoch against wall-clock time. Outside the budget, the full 10,000-image test set is scored with
`score(model, 'cifar10', k=K)` (the importance-weighted bound, as for MNIST), and the test images are
reconstructed for PSNR, SSIM and R^2. A Gaussian model (`--likelihood gaussian`) gives a density, which `score`
refuses: it is reported by its negative ELBO on uniformly dequantised test images, an upper bound in bits/dim.

Writes nbs/images/cifar_bits[_TAG].json (results, settings, machine, load averages, per-epoch history) and, for
the main run, nbs/images/cifar_{samples,reconstructions,interpolations}.png; the checkpoint goes to --out
(default ~/runs/cifar_bits[_TAG]/model.pt), outside the repository.

    VAE_NBS_DATA=/path/to/data python bench/cifar_bits.py --minutes 30 --k 16
    VAE_NBS_DATA=/path/to/data python bench/cifar_bits.py --minutes 10 --likelihood gaussian --tag gaussian
"""
import argparse, json, os, platform, time
from pathlib import Path
import torch, matplotlib
matplotlib.use('Agg')
import matplotlib.pyplot as plt
from vae_nbs.data import mnist_loaders, show_images
from vae_nbs.autoencoder import build_model
from vae_nbs.train import Trainer, evaluate, save_checkpoint
from vae_nbs.metrics import score, reconstruction_metrics, ssim, nats_to_bits_per_dim
from vae_nbs.morph import morph_frames
from budget import epoch_seconds, shrink_png

IMAGES = Path(__file__).resolve().parent.parent/'nbs'/'images'

def cpu_name()->str:
    "The processor's model name, from /proc/cpuinfo where there is one."
    try: return next(l.split(':', 1)[1].strip() for l in open('/proc/cpuinfo') if l.startswith('model name'))
    except (OSError, StopIteration): return platform.processor() or 'unknown'

def bits(nats:float)->float: return nats_to_bits_per_dim(nats, 3*32*32)

def save_png(fig, name:str):
    "Save a figure into nbs/images as a 256-colour PNG, to keep the repository small."
    fn = IMAGES/name
    fig.savefig(fn, dpi=80, bbox_inches='tight')
    plt.close(fig)
    shrink_png(fn)

@torch.no_grad()
def code_gaussian(model, x:torch.Tensor, bs:int=500):
    "A Gaussian with the mean and full covariance of the posterior means of the uint8 images `x`."
    mu = torch.cat([model.encode(b.float()/255)[0] for b in x.split(bs)]).double()
    cov = torch.cov(mu.T) + 1e-4*torch.eye(mu.shape[1], dtype=mu.dtype)
    return torch.distributions.MultivariateNormal(mu.mean(0).float(), covariance_matrix=cov.float())

def figures(model, x:torch.Tensor, caption:str, tag:str='', train_images:torch.Tensor|None=None):
    "Samples (from the prior, and from a Gaussian fitted to training codes), reconstructions and interpolations."
    torch.manual_seed(0)
    z = torch.randn(16, model.latent)
    rows = [(z, 'codes z ~ N(0, I), the prior: every pixel its mean given the groups before it')]
    if train_images is not None:
        fitted = code_gaussian(model, train_images)
        rows.append((fitted.sample((16,)), f'codes from a Gaussian fitted to the codes of {len(train_images):,} '
                                           'training images (full covariance), pixel means'))
    with torch.no_grad(): rows = [(model.to_image(model.decode(c)), t) for c, t in rows]
    fig, axs = plt.subplots(len(rows), 1, figsize=(12, 1.3*len(rows) + 0.3))
    for ax, (imgs, t) in zip(fig.axes, rows): show_images(imgs, nrow=16, ax=ax, title=t)
    fig.suptitle(caption, fontsize=9); save_png(fig, f'cifar{tag}_samples.png')
    fig, (a, b) = plt.subplots(2, 1, figsize=(12, 2.6))
    show_images(x[:16], nrow=16, ax=a, title='CIFAR-10 test images')
    show_images(model.reconstruct(x[:16]), nrow=16, ax=b, title='reconstructions (posterior mean code, pixel means)')
    fig.suptitle(caption, fontsize=9); save_png(fig, f'cifar{tag}_reconstructions.png')
    pairs = [(16, 17), (18, 19), (20, 21), (22, 23)]
    frames = torch.cat([morph_frames(model, x[i], x[j], n_frames=10) for i, j in pairs])
    ends = torch.stack([x[i] for p in pairs for i in p])
    fig, axs = plt.subplots(1, 3, figsize=(12, 4.2), gridspec_kw=dict(width_ratios=[1, 10, 1]))
    show_images(ends[0::2], nrow=1, ax=axs[0], title='start'); show_images(ends[1::2], nrow=1, ax=axs[2], title='end')
    show_images(frames, nrow=10, ax=axs[1], title='decoded from 10 codes on the spherical path between their codes')
    fig.suptitle(caption, fontsize=9); save_png(fig, f'cifar{tag}_interpolations.png')

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--minutes', type=float, default=30, help='training time budget, probe included')
    p.add_argument('--model', default='vae_colour', help='registered model name')
    p.add_argument('--config', default='{"recon_warmup": 700}', help='model configuration as JSON, e.g. \'{"latent": 128}\'')
    p.add_argument('--likelihood', default=None, help="'logistic_mixture' or 'gaussian' (default: the model's)")
    p.add_argument('--bs', type=int, default=64)
    p.add_argument('--lr', type=float, default=1e-3, help='peak learning rate of the one-cycle schedule')
    p.add_argument('--warmup', type=float, default=1, help='KL warm-up epochs')
    p.add_argument('--clip', type=float, default=3e5,
                   help='gradient-norm clipping; the loss is in nats per image (about 1e4), so norms run near 1e5')
    p.add_argument('--bf16', action='store_true', help='train in bfloat16 autocast (fast on CPUs with AMX; scoring stays float32)')
    p.add_argument('--k', type=int, default=16, help='importance samples per test image')
    p.add_argument('--threads', type=int, default=2,
                   help='PyTorch threads (the chapter\'s runs used 2; use 1 when other jobs share the cores)')
    p.add_argument('--n-train', '--n_train', dest='n_train', type=int, default=None, help='a random subset of the training set (smoke tests; default all 50,000)')
    p.add_argument('--n-test', '--n_test', dest='n_test', type=int, default=None,
                   help='score a random subset of N test images, drawn with --seed (smoke tests; default all)')
    p.add_argument('--seed', type=int, default=0, help='seed of the test subset and of the importance samples')
    p.add_argument('--figures', action='store_true', help='write the figures for a tagged run too (named with the tag)')
    p.add_argument('--tag', default='', help='suffix of the output names; figures are written only without one')
    p.add_argument('--out', default=None, help='checkpoint folder (default ~/runs/cifar_bits[_TAG])')
    args = p.parse_args()

    torch.set_num_threads(args.threads)
    tag = f'_{args.tag}' if args.tag else ''
    machine = dict(cpu=cpu_name(), cores=os.cpu_count(), threads=torch.get_num_threads(), torch=torch.__version__,
                   load_start=os.getloadavg())
    t0 = time.perf_counter()
    dls = mnist_loaders('cifar10', bs=args.bs, n_train=args.n_train, device='cpu')  # 45,000 / 5,000 split of the training set, seed 42; test set
    if args.n_test:  # a seeded random subset: the test folders list the classes in order
        pick = torch.randperm(dls.test.n, generator=torch.Generator().manual_seed(args.seed))[:args.n_test]
        dls.test = type(dls.test)(*[t[pick] for t in dls.test.tensors], bs=args.bs, device='cpu')
    load_seconds = time.perf_counter() - t0
    config = json.loads(args.config) | ({'likelihood': args.likelihood} if args.likelihood else {})
    torch.manual_seed(0)
    model = build_model(args.model, **config)
    learn = Trainer(model, dls, lr=args.lr, one_cycle=True, warmup_epochs=args.warmup, clip=args.clip, device='cpu', progress=False,
                    bf16=args.bf16)
    start, budget = time.perf_counter(), args.minutes*60
    per_epoch = epoch_seconds(learn, valid_images=1000)
    epochs = max(1, int((budget - (time.perf_counter() - start))/per_epoch))
    n_params = sum(p.numel() for p in model.parameters())
    print(f"{args.model} {config}: {n_params:,} parameters, {torch.get_num_threads()} threads; about {per_epoch:.0f} s an "
          f"epoch, so {epochs} epochs in {args.minutes:g} min (load average {machine['load_start'][0]:.1f})", flush=True)
    learn.fit(epochs)
    train_seconds = time.perf_counter() - start
    machine['load_after_training'] = os.getloadavg()
    elapsed = (time.perf_counter() - start) - sum(h['seconds'] for h in learn.history)  # the probe
    history = []
    for h in learn.history:
        elapsed += h['seconds']
        history.append(dict(h, minutes=elapsed/60, valid_bits_per_dim=bits(h['valid_loss']),
                            train_bits_per_dim=bits(h['train_loss'])))
        print(f"  epoch {h['epoch']:3d}  {elapsed/60:5.1f} min  valid {bits(h['valid_loss']):.3f} bits/dim "
              f"(KL {bits(h['valid_kl']):.3f})", flush=True)
    out = Path(args.out).expanduser() if args.out else Path.home()/'runs'/f'cifar_bits{tag}'
    save_checkpoint(out/'model.pt', learn.model, history=learn.history, epoch=learn.epoch)
    model = learn.model.eval()
    t1 = time.perf_counter()
    if model.pixel_levels == 256:
        res = score(model, 'cifar10', k=args.k, n=args.n_test, seed=args.seed, show=False)
        test = dict(bits_per_dim=res['bits_per_dim'], nelbo_bits_per_dim=res['nelbo_bits_per_dim'], nll=res['nll'],
                    nelbo=res['nelbo'], k=args.k, n=res['n'], protocol=res['protocol'])
    else:  # a density: its dequantised negative ELBO bounds the bits/dim of the 8-bit images from above
        torch.manual_seed(0)
        ev = evaluate(model, dls.test)
        test = dict(nelbo_bits_per_dim=bits(ev['loss']), nelbo=ev['loss'], k=1, n=dls.test.n,
                    protocol='negative ELBO of uniformly dequantised test images (one draw each), bits/dim')
    test['seconds'] = time.perf_counter() - t1
    t2 = time.perf_counter()
    rec = reconstruction_metrics(model, dls.test)
    x = dls.test.tensors[0][:2000].float()/255  # SSIM on the first 2,000
    with torch.no_grad(): rec['ssim'] = torch.cat([ssim(model.reconstruct(b), b) for b in x.split(250)]).mean().item()
    rec['seconds'], rec['ssim_images'] = time.perf_counter() - t2, len(x)
    machine['load_end'] = os.getloadavg()
    res = dict(model=args.model, config=model.arch['config'], n_params=n_params, epochs=learn.epoch,
               train_minutes=train_seconds/60, budget_minutes=args.minutes, probe_epoch_seconds=per_epoch,
               bs=args.bs, lr=args.lr, bf16=args.bf16, warmup_epochs=args.warmup, clip=args.clip, n_train=dls.train.n,
               n_valid=dls.valid.n, data_load_seconds=load_seconds, test=test, reconstruction=rec, machine=machine,
               checkpoint=str(out/'model.pt'), history=history)
    (IMAGES/f'cifar_bits{tag}.json').write_text(json.dumps(res, indent=1))
    print(json.dumps({k: v for k, v in res.items() if k != 'history'}, indent=1), flush=True)
    if not tag or args.figures:
        caption = (f"{args.model}, {learn.epoch} epochs ({train_seconds/60:.0f} min) on 45,000 CIFAR-10 training images, "
                   f"2-core laptop-class CPU")
        images = dls.test.tensors[0]
        spread = images[torch.linspace(0, len(images) - 1, 24).long()]  # every class (the folders list them in order)
        figures(model, spread.float()/255, caption, tag, train_images=dls.train.tensors[0][:20_000])
