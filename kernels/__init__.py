"""Block kernels: plain functions on blocks (NumPy on CPU devices, CuPy on GPU devices).

Imported as ``nums.kernels``. Kernels never know which backend called them.
"""
