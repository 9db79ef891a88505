"""digits-cnn: a small CNN on scikit-learn's bundled 8x8 digits images."""
