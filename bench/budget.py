"""Shared by the benchmarks that train within a time budget: how long an epoch will take, and small PNG figures."""
import time
from copy import deepcopy
import torch
from PIL import Image
from vae_nbs.train import make_optimizer, _autocast

def epoch_seconds(learn, # a Trainer, before fitting
                  steps:int=15, # training steps to time (after one untimed warm-up step)
                  valid_images:int|None=None # validation images to time, extrapolated to the whole set; None: all
                 )->float:
    "Estimated seconds per epoch (training + validation) of `learn`, from a few steps on a copy of its model."
    model, batches = deepcopy(learn.model), iter(learn.dls.train)
    steps = min(steps, len(learn.dls.train) - 1)
    opt = make_optimizer(learn.opt_func, model.parameters(), learn.lr, learn.device)
    bf16 = lambda: _autocast(learn.device, learn.bf16)  # as the Trainer steps
    with bf16(): loss = model.loss(next(batches)).loss
    opt.zero_grad(); loss.backward(); opt.step()  # warm-up, not timed
    start = time.perf_counter()
    for _ in range(steps):
        with bf16(): loss = model.loss(next(batches)).loss
        opt.zero_grad(); loss.backward(); opt.step()
    step = (time.perf_counter() - start)/steps
    start, n = time.perf_counter(), 0
    with torch.no_grad():
        for batch in learn.dls.valid:
            model.loss(batch); n += len(batch[0])
            if valid_images and n >= valid_images: break
    return step*len(learn.dls.train) + (time.perf_counter() - start)*learn.dls.valid.n/n

def shrink_png(fname):
    "Re-save a PNG with a 256-colour palette, to keep the repository's figures small."
    Image.open(fname).convert('RGB').quantize(256, method=Image.Quantize.MEDIANCUT).save(fname, optimize=True)

def save_image_rows(rows:list, # (images, title) per row, images [n, C, H, W] uint8 or floats in [0, 1]
                    fn, # the PNG file to write
                    suptitle:str, # the figure's title
                    width:float=12, row_height:float=1.3, fontsize:int=9):
    "One row of images per (images, title), titled, saved as a small 256-colour PNG."
    import matplotlib.pyplot as plt
    from vae_nbs.data import show_images
    fig, axs = plt.subplots(len(rows), 1, figsize=(width, row_height*len(rows) + 0.3))
    for ax, (imgs, t) in zip(axs, rows): show_images(imgs, nrow=len(imgs), ax=ax, title=t)
    fig.suptitle(suptitle, fontsize=fontsize)
    fig.savefig(fn, dpi=80, bbox_inches='tight'); plt.close(fig)
    shrink_png(fn)
