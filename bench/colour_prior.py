"""A learned prior over the code map of a trained `vae_colour`: the bound against it, and new images drawn from it.

Encodes the CIFAR-10 training images once, trains a `CodePrior` (an autoregressive prior over the 8x8 map, masked
convolutions) with `fit_code_prior` for --minutes (encoding included) on codes z ~ q(z|x) (a fresh draw every step), then on the test images reports the KL
term and the negative ELBO in bits/dim against N(0, I) and against the learned prior (the same draws of z, so the
reconstruction term is shared), and draws new images from both priors.

Writes nbs/images/cifar_prior.json and nbs/images/cifar_prior_samples.png; the prior's weights go to --out.

    VAE_NBS_DATA=/path/to/data python bench/colour_prior.py --checkpoint ~/runs/cifar_bits/model.pt --minutes 20
"""
import argparse, json, math, os, sys, time
from pathlib import Path
import torch, matplotlib
matplotlib.use('Agg')
from budget import save_image_rows

IMAGES = Path(__file__).resolve().parent.parent/'nbs'/'images'
D = 3*32*32

def bits(nats:float)->float: return nats/(D*math.log(2))

def main(argv=None)->int:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0], epilog='example: VAE_NBS_DATA=/data python '
                                'bench/colour_prior.py --checkpoint ~/runs/cifar_bits/model.pt --minutes 20')
    p.add_argument('--checkpoint', required=True, help="a trained vae_colour: a file, or 'pretrained:NAME'")
    p.add_argument('--minutes', type=float, default=20, help='training time of the prior')
    p.add_argument('--width', type=int, default=64, help="the prior's hidden channels")
    p.add_argument('--layers', type=int, default=4, help="the prior's masked residual layers")
    p.add_argument('--bs', type=int, default=128)
    p.add_argument('--lr', type=float, default=1e-3)
    p.add_argument('--n-train', type=int, default=None, help='a random subset of the training images (default all)')
    p.add_argument('--n-test', type=int, default=None, help='a random subset of the test images (default all)')
    p.add_argument('--threads', type=int, default=1, help='PyTorch threads')
    p.add_argument('--tag', default='', help='suffix of the output names')
    p.add_argument('--out', default=None, help="folder for the prior's weights (default ~/runs/cifar_prior[_TAG])")
    args = p.parse_args(argv)
    from vae_nbs.data import load_dataset
    from vae_nbs.train import load
    from vae_nbs.colour import ColourVAE, fit_code_prior
    torch.set_num_threads(args.threads)
    try: model = load(args.checkpoint, device='cpu')
    except (FileNotFoundError, ValueError) as e:
        print(f"error: {str(e).splitlines()[0]}", file=sys.stderr); return 1
    if not isinstance(model, ColourVAE):
        print(f"error: {args.checkpoint} holds a {type(model).__name__}, not a vae_colour model; pass a checkpoint "
              "written by bench/cifar_bits.py", file=sys.stderr); return 1
    tag = f'_{args.tag}' if args.tag else ''
    g = torch.Generator().manual_seed(0)
    train, test = load_dataset('cifar10', train=True)[0], load_dataset('cifar10', train=False)[0]
    if args.n_train: train = train[torch.randperm(len(train), generator=g)[:args.n_train]]
    if args.n_test: test = test[torch.randperm(len(test), generator=g)[:args.n_test]]
    torch.manual_seed(0)
    start = time.perf_counter()
    prior = fit_code_prior(model, train, steps=10**9, minutes=args.minutes, bs=args.bs, lr=args.lr,
                           width=args.width, layers=args.layers)
    steps = prior.steps_taken
    train_minutes = (time.perf_counter() - start)/60
    out = Path(args.out).expanduser() if args.out else Path.home()/'runs'/f'cifar_prior{tag}'
    out.mkdir(parents=True, exist_ok=True)
    torch.save(prior.state_dict(), out/'prior.pt')

    prior.eval(); torch.manual_seed(0)
    recon = kl_std = kl_prior = 0.
    with torch.no_grad():
        for b in test.split(250):
            x = b.float()/255
            m, lv = model.encode(x)
            z = m + torch.randn_like(m)*torch.exp(0.5*lv)
            recon -= model.decoder_log_lik(z, x).sum().item()
            log_q = (-0.5*((z - m)**2*torch.exp(-lv) + lv + math.log(2*math.pi))).sum(1)
            kl_std += (0.5*(m**2 + lv.exp() - 1 - lv)).sum().item()
            kl_prior += (log_q - prior.log_prob(z)).sum().item()
    n = len(test)
    recon, kl_std, kl_prior = recon/n, kl_std/n, kl_prior/n
    res = dict(n_test=n, n_train=len(train), steps=steps, train_minutes=train_minutes, width=args.width,
               layers=args.layers, checkpoint=str(args.checkpoint),
               recon=recon, kl_standard=kl_std, kl_prior=kl_prior,
               nelbo_bits_per_dim_standard=bits(recon + kl_std), nelbo_bits_per_dim_prior=bits(recon + kl_prior),
               kl_bits_per_dim_standard=bits(kl_std), kl_bits_per_dim_prior=bits(kl_prior),
               protocol=('negative ELBO on the CIFAR-10 test images with one draw of z ~ q(z|x) each, nats per image; '
                         'the KL against N(0, I) in closed form, against the learned prior by that draw'),
               machine=dict(cores=os.cpu_count(), threads=torch.get_num_threads()))
    (IMAGES/f'cifar_prior{tag}.json').write_text(json.dumps(res, indent=1))
    print(json.dumps({k: v for k, v in res.items() if k != 'history'}, indent=1), flush=True)

    torch.manual_seed(0)
    with torch.no_grad():
        rows = [(model.to_image(model.decode(torch.randn(16, model.latent))), 'codes z ~ N(0, I)'),
                (model.to_image(model.decode(prior.sample(16))), 'codes from the learned prior'),
                (model.to_image(model.decode(prior.sample(16, temperature=0.8))),
                 'codes from the learned prior, standard deviations x 0.8')]
    threads = torch.get_num_threads()
    save_image_rows(rows, IMAGES/f'cifar_prior{tag}_samples.png', f"vae_colour's decoder, pixel means; the prior "
                    f"trained {train_minutes:.0f} min on {threads} thread{'s'*(threads != 1)}")
    return 0

if __name__ == '__main__':
    try: sys.exit(main())
    except KeyboardInterrupt:
        print('interrupted: the prior was not saved', file=sys.stderr); sys.exit(130)
