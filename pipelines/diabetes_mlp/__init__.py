"""diabetes-mlp: a small regressor on scikit-learn's bundled diabetes table."""
