"""Block kernels: plain functions on blocks (NumPy on CPU devices; GPU kernels are planned).

Imported as ``nums.kernels``. Kernels never know which backend called them.
"""
