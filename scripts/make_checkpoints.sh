#!/usr/bin/env bash
# Re-create every committed checkpoint with the project's own training command.
# Usage: VAE_DEMO_DATA=/path/to/data bash scripts/make_checkpoints.sh [name-filter]
# Each command below is also recorded, exactly, in its checkpoint's JSON ("command").
set -euo pipefail
cd "$(dirname "$0")/.."
only="${1:-}"
T="python -m vae_demo.train --device auto --seed 0"
run() {  # run NAME ARGS...: train checkpoint NAME unless a filter excludes it
  local name=$1; shift
  if [ -n "$only" ] && [[ "$name" != *"$only"* ]]; then return; fi
  echo "== $name"
  $T --name "$name" "$@"
}
# MNIST
run mnist_pca_z64          --dataset mnist --model pca --latent-dim 64 --epochs 1
run mnist_mlp_vae_z2       --dataset mnist --model mlp_vae --latent-dim 2 --epochs 30 --save-precision fp16
run mnist_mlp_ae_z2        --dataset mnist --model mlp_ae --latent-dim 2 --epochs 30 --save-precision fp16
run mnist_mlp_ae_z2_gaussian --dataset mnist --model mlp_ae --latent-dim 2 --corruption gaussian:0.5 --epochs 30 --save-precision fp16
run mnist_conv_ae_z16      --dataset mnist --model conv_ae --latent-dim 16 --epochs 12 --save-precision fp16
run mnist_conv_vae_z16     --dataset mnist --model conv_vae --latent-dim 16 --epochs 12 --save-precision fp16
run mnist_conv_vae_z10_b4  --dataset mnist --model conv_vae --latent-dim 10 --beta 4 --epochs 12
# the β family (with mnist_conv_vae_z16 at β = 1): the rate–distortion view
run mnist_conv_vae_z16_b0.1 --dataset mnist --model conv_vae --latent-dim 16 --beta 0.1 --epochs 12 --save-precision fp16
run mnist_conv_vae_z16_b0.5 --dataset mnist --model conv_vae --latent-dim 16 --beta 0.5 --epochs 12 --save-precision fp16
run mnist_conv_vae_z16_b2 --dataset mnist --model conv_vae --latent-dim 16 --beta 2 --epochs 12 --save-precision fp16
run mnist_conv_vae_z16_b4 --dataset mnist --model conv_vae --latent-dim 16 --beta 4 --epochs 12 --save-precision fp16
run mnist_conv_vae_z16_b8 --dataset mnist --model conv_vae --latent-dim 16 --beta 8 --epochs 12 --save-precision fp16
run mnist_conv_cvae_z16    --dataset mnist --model conv_cvae --latent-dim 16 --epochs 12 --save-precision fp16
run mnist_restorer         --dataset mnist --model conv_ae --latent-dim 128 --channels 64,128 --corruption mix --epochs 15
run mnist_unet_restorer    --dataset mnist --model unet --latent-dim 128 --channels 32,64 --corruption mix --recon bce --lr-schedule cosine --precision bf16 --epochs 12
run mnist_unet_blur2       --dataset mnist --model unet --latent-dim 128 --channels 32,64 --corruption blur:2 --recon bce --lr-schedule cosine --precision bf16 --epochs 3
run mnist_unet_blur2_family --dataset mnist --model unet --latent-dim 128 --channels 32,64 --corruption blur:2:family --recon bce --lr-schedule cosine --precision bf16 --epochs 6
run mnist_inpainter        --dataset mnist --model unet --latent-dim 160 --channels 48,96,128 --mask-input --corruption erasure:0.9,block:16 --recon bce --lr-schedule cosine --precision fp32 --epochs 12
run mnist_vqvae            --dataset mnist --model vqvae --latent-dim 16 --codebook-size 128 --epochs 10
# Fashion-MNIST
run fashion-mnist_pca_z64      --dataset fashion-mnist --model pca --latent-dim 64 --epochs 1
run fashion-mnist_conv_ae_z16  --dataset fashion-mnist --model conv_ae --latent-dim 16 --epochs 12 --save-precision fp16
run fashion-mnist_conv_vae_z16 --dataset fashion-mnist --model conv_vae --latent-dim 16 --epochs 12
run fashion-mnist_conv_cvae_z16 --dataset fashion-mnist --model conv_cvae --latent-dim 16 --epochs 12 --save-precision fp16
run fashion-mnist_restorer     --dataset fashion-mnist --model conv_ae --latent-dim 128 --channels 64,128 --corruption mix --epochs 8
run fashion-mnist_unet_restorer --dataset fashion-mnist --model unet --latent-dim 128 --channels 32,64 --corruption mix --recon bce --lr-schedule cosine --precision bf16 --epochs 10
run fashion-mnist_vqvae        --dataset fashion-mnist --model vqvae --latent-dim 16 --codebook-size 128 --epochs 10
run fashion-mnist_unet_saltpepper_mask --dataset fashion-mnist --model unet --latent-dim 128 --channels 32,64 --mask-input --corruption saltpepper:0.2 --recon bce --lr-schedule cosine --precision bf16 --epochs 3
# CIFAR-10
run cifar10_pca_z128       --dataset cifar10 --model pca --latent-dim 128 --epochs 1
run cifar10_conv_ae_z128   --dataset cifar10 --model conv_ae --latent-dim 128 --channels 48,96,192 --epochs 8 --save-precision fp16
run cifar10_conv_vae_z128  --dataset cifar10 --model conv_vae --latent-dim 128 --channels 48,96,192 --epochs 8
run cifar10_restorer       --dataset cifar10 --model conv_ae --latent-dim 256 --channels 48,96,192 --recon mse --corruption mix --epochs 8
run cifar10_unet_restorer  --dataset cifar10 --model unet --latent-dim 128 --channels 32,64 --corruption mix --recon mse --lr-schedule cosine --precision bf16 --epochs 8
run cifar10_vqvae          --dataset cifar10 --model vqvae --latent-dim 32 --channels 48,96 --codebook-size 256 --epochs 10
# The next two were trained on a CUDA GPU (5 and 8.5 minutes; bf16 autocast there, as --precision auto
# does on CUDA) on the first 32000 training images; on a CPU the same command trains in fp32 (~8 and ~11 h on one thread).
run cifar10_unet_inpainter --dataset cifar10 --model unet --latent-dim 128 --channels 32,64 --mask-input --corruption erasure:0.5,erasure:0.9,saltpepper:0.2 --recon mse --lr-schedule cosine --train-limit 32000 --epochs 135
run cifar10_unet_deblur    --dataset cifar10 --model unet --latent-dim 128 --channels 32,64,96 --corruption blur:2,blur:4,lowres:2 --recon mse --lr-schedule cosine --train-limit 32000 --epochs 165
