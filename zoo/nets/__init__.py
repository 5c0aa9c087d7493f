"""The networks the families are built from: shared convolutional blocks and the diffusion U-Net (Keras layers only)."""
