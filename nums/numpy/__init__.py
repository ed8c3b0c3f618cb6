"""``import nums.numpy as nps``: NumPy's API on blocked arrays.

Grouped like NumPy's documentation: :mod:`.creation`, :mod:`.math` (every ufunc),
:mod:`.reductions`, :mod:`.products`, :mod:`.manipulation`, and the :mod:`.random`
submodule. Everything returns deferred :class:`~nums.array.blockarray.BlockArray` values.
"""

import numpy as _np

# dtypes and constants are NumPy's own objects.
from numpy import (  # noqa: E402, F401 - re-exported
    bool_,
    can_cast,
    complex64,
    complex128,
    dtype,
    e,
    euler_gamma,
    finfo,
    float16,
    float32,
    float64,
    iinfo,
    inf,
    int8,
    int16,
    int32,
    int64,
    intp,
    nan,
    newaxis,
    pi,
    promote_types,
    result_type,
    uint8,
    uint16,
    uint32,
    uint64,
)

from nums.array.blockarray import BlockArray
from nums.numpy import random
from nums.numpy.creation import *  # noqa: F403
from nums.numpy.creation import __all__ as _creation
from nums.numpy.manipulation import *  # noqa: F403
from nums.numpy.manipulation import __all__ as _manipulation
from nums.numpy.math import *  # noqa: F403
from nums.numpy.math import __all__ as _math
from nums.numpy.products import *  # noqa: F403
from nums.numpy.products import __all__ as _products
from nums.numpy.reductions import *  # noqa: F403
from nums.numpy.reductions import __all__ as _reductions
from nums.numpy.selection import flatnonzero, nonzero  # noqa: F401

ndarray = BlockArray
bool = _np.bool_  # noqa: A001

__all__ = (["BlockArray", "ndarray", "random"] + list(_creation) + list(_manipulation)
           + list(_math) + list(_products) + list(_reductions) + ["nonzero", "flatnonzero"])
