"""The landscape painter, two ways: `vae_colour` trained on the paintings alone, and fine-tuned from a CIFAR-10 model.

Both train for the same number of optimiser steps on 363 of the 403 landscape paintings at 32x32 (the same 40 held
out as in the colour chapter), each painting also seen mirrored left to right. Each then gets a learned prior over
its code map (`CodePrior`, trained on codes of the training paintings), and new paintings are drawn from it. Each
new painting is shown beside the training painting nearest to it (pixel distance, mirrored copies included), so a
reader can see whether the model paints or copies.

Writes nbs/images/painter.json (held-out bits/dim, steps, minutes) and nbs/images/painter_{scratch,finetuned}.png.

    VAE_NBS_DATA=/path/to/data python bench/painter.py --init ~/runs/cifar_bits_split2/model.pt --steps 2000
"""
import argparse, json, math, os, sys, time
from pathlib import Path
import torch, matplotlib
matplotlib.use('Agg')
from budget import save_image_rows

IMAGES = Path(__file__).resolve().parent.parent/'nbs'/'images'
D = 3*32*32

def bits(nats:float)->float: return nats/(D*math.log(2))

def title(name:str, r:dict)->str:
    how = 'trained on the paintings alone' if name == 'scratch' else 'fine-tuned from the CIFAR-10 model'
    return f"vae_colour {how}: {r['steps']:,} steps; held-out paintings {r['valid_bits_per_dim']:.2f} bits/dim"

def figure(model, prior, train, valid, title:str, fn:Path, n:int=8, temperature:float=0.8):
    "Held-out paintings and their reconstructions; new paintings above the nearest training paintings, then drawn."
    from vae_nbs.colour import nearest_images
    torch.manual_seed(0)
    with torch.no_grad():
        z = prior.sample(n, temperature)
        new, drawn = model.to_image(model.decode(z)), model.draw(z)
        rec = model.reconstruct(valid[:n].float()/255)
    rows = [(valid[:n], 'held-out paintings'), (rec, 'their reconstructions'),
            (new, f'new paintings: codes from the learned prior (temperature {temperature:g}), each pixel its mean'),
            (train[nearest_images(new, train)], 'the training painting nearest to each (mirrored copies included)'),
            (drawn, 'the same new codes, every pixel drawn at random from its distribution')]
    save_image_rows(rows, fn, title, width=10, row_height=1.55, fontsize=10)

def main(argv=None)->int:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0], epilog='example: VAE_NBS_DATA=/data python '
                                'bench/painter.py --init ~/runs/cifar_bits_split2/model.pt --steps 2000')
    p.add_argument('--init', required=True, help="the CIFAR-10 vae_colour to fine-tune: a file or 'pretrained:NAME'")
    p.add_argument('--steps', type=int, default=2000, help='optimiser steps for each of the two models')
    p.add_argument('--bs', type=int, default=32)
    p.add_argument('--prior-steps', type=int, default=1500, help="optimiser steps of each model's CodePrior")
    p.add_argument('--folder', default=None, help='the paintings (default DATA_ROOT/paintings-landscapes)')
    p.add_argument('--bf16', action='store_true', help='train in bfloat16 autocast (fast on CPUs with AMX)')
    p.add_argument('--replot', action='store_true', help='redraw the figures from the models and priors in --out')
    p.add_argument('--threads', type=int, default=2, help='PyTorch threads')
    p.add_argument('--out', default='~/runs/painter', help="folder for the two models' and priors' weights")
    args = p.parse_args(argv)
    from vae_nbs.data import get_data_root, load_image_folder, image_loaders, TensorLoader
    from vae_nbs.autoencoder import build_model
    from vae_nbs.train import Trainer, evaluate, load, save_checkpoint
    from vae_nbs.colour import fit_code_prior, prior_kl
    torch.set_num_threads(args.threads)
    folder = Path(args.folder) if args.folder else get_data_root()/'paintings-landscapes'
    x = load_image_folder(folder, size=32)
    dls = image_loaders(x, bs=args.bs, device='cpu')  # 363 / 40, the chapter's split (seed 42)
    paintings, valid = dls.train.tensors[0], dls.valid.tensors[0]
    train = torch.cat([paintings, paintings.flip(-1)])  # each painting also mirrored left to right
    dls.train = TensorLoader(train, bs=args.bs, shuffle=True, drop_last=True,
                             device='cpu', seed=42)
    epochs = math.ceil(args.steps/len(dls.train))
    source = load(args.init, 'cpu')
    out, res = Path(args.out).expanduser(), dict(n_train=len(paintings), n_valid=len(valid), bs=args.bs, bf16=args.bf16,
                                                 init=str(args.init), machine=dict(cores=os.cpu_count(),
                                                 threads=torch.get_num_threads()))
    if args.replot:
        from vae_nbs.colour import CodePrior
        res = json.loads((IMAGES/'painter.json').read_text())
        for name in ('scratch', 'finetuned'):
            model = load(out/name/'model.pt', 'cpu').eval()
            prior = CodePrior(model.decoder.map_shape)
            prior.load_state_dict(torch.load(out/name/'prior.pt', weights_only=True))
            figure(model, prior.eval(), train, valid, title(name, res[name]), IMAGES/f'painter_{name}.png')
        return 0
    for name in ('scratch', 'finetuned'):
        torch.manual_seed(0)
        if name == 'scratch': model, lr, warm = build_model('vae_colour', **source.arch['config']), 1e-3, 5
        else: model, lr, warm = load(args.init, 'cpu'), 5e-4, 0
        learn = Trainer(model, dls, lr=lr, one_cycle=True, warmup_epochs=warm, clip=3e5, device='cpu', progress=False,
                        bf16=args.bf16)
        t0 = time.perf_counter()
        learn.fit(epochs)
        minutes = (time.perf_counter() - t0)/60
        model = learn.model.eval()
        save_checkpoint(out/name/'model.pt', model, history=learn.history, epoch=learn.epoch)
        torch.manual_seed(0)
        ev = evaluate(model, dls.valid)
        t1 = time.perf_counter()
        prior = fit_code_prior(model, train, args.prior_steps)
        torch.save(prior.state_dict(), out/name/'prior.pt')
        with torch.no_grad():
            torch.manual_seed(0)
            kl_prior = prior_kl(model, prior, valid.float()/255, samples=4).mean().item()
        res[name] = dict(steps=epochs*len(dls.train), epochs=epochs, lr=lr, train_minutes=minutes,
                         prior_minutes=(time.perf_counter() - t1)/60,
                         valid_bits_per_dim=bits(ev['loss']), valid_recon_bits_per_dim=bits(ev['recon']),
                         valid_kl=ev['kl'], valid_bits_per_dim_prior=bits(ev['recon'] + kl_prior),
                         valid_kl_prior=kl_prior,
                         history=[dict(epoch=h['epoch'], valid_bits_per_dim=bits(h['valid_loss'])) for h in learn.history])
        print(name, json.dumps({k: v for k, v in res[name].items() if k != 'history'}), flush=True)
        figure(model, prior, train, valid, title(name, res[name]), IMAGES/f'painter_{name}.png')
    (IMAGES/'painter.json').write_text(json.dumps(res, indent=1))
    return 0

if __name__ == '__main__':
    try: sys.exit(main())
    except KeyboardInterrupt:
        print('interrupted', file=sys.stderr); sys.exit(130)
