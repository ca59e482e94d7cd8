"The weights of the pretrained models (`vae_nbs.train.pretrained`), shipped as package data."
