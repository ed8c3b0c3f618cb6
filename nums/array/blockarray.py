"""BlockArray: the user-facing handle of a blocked, possibly not yet computed, array.

A BlockArray holds one IR node. Operations build new nodes and return new BlockArrays
without running anything; a value is computed when it is needed (:meth:`get`, ``bool()``,
printing, ``np.asarray``) or asked for (:meth:`persist`). After that, the handle points at
the computed blocks, so loops do not grow graphs.

In-place operators and item assignment rebind the handle to a new node (blocks are never
modified in place): other handles to the old value are unaffected, so a slice taken before
``x[...] = v`` keeps the old values (unlike a NumPy view).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Iterator
from typing import Any

import numpy as np

from nums.array.conversion import check_live, is_blockarray
from nums.array.elementwise import elementwise, index_node
from nums.array.grid import ArrayGrid
from nums.ir.lower import materialize
from nums.ir.nodes import Leaf, Node
from nums.runtime.transfer import fetch

__all__ = ["BlockArray"]


def _nps():
    import nums.numpy as nps

    return nps


class BlockArray:
    """A NumPy-like array cut into blocks that live on the session's devices.

    Create one with ``nums.numpy`` functions (``nps.array``, ``nps.zeros``, ...), not directly.
    """

    __slots__ = ("_node", "__weakref__")
    __array_priority__ = 100

    def __init__(self, node: Node) -> None:
        self._node = node

    # -- metadata ------------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return self._node.shape

    @property
    def dtype(self) -> np.dtype:
        return self._node.dtype

    @property
    def ndim(self) -> int:
        return len(self._node.shape)

    @property
    def size(self) -> int:
        return math.prod(self._node.shape)

    @property
    def nbytes(self) -> int:
        return self.size * self.dtype.itemsize

    @property
    def itemsize(self) -> int:
        return self.dtype.itemsize

    @property
    def grid(self) -> ArrayGrid:
        """Block boundaries (:class:`~nums.array.grid.ArrayGrid`)."""
        return self._node.grid

    @property
    def block_shape(self) -> tuple[int, ...]:
        """Shape of the largest (first) block."""
        return self._node.grid.block_shape

    @property
    def grid_shape(self) -> tuple[int, ...]:
        """Number of blocks along each axis."""
        return self._node.grid.grid_shape

    @property
    def T(self) -> BlockArray:
        return self.transpose()

    @property
    def real(self) -> BlockArray:
        return _nps().real(self)

    @property
    def imag(self) -> BlockArray:
        return _nps().imag(self)

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of unsized object")
        return self.shape[0]

    # -- computing -----------------------------------------------------------------------
    def _leaf(self) -> Leaf:
        node = self._node
        if node.leaf is None:
            materialize([node])
        self._node = node.leaf
        return self._node

    def persist(self) -> BlockArray:
        """Start computing this array's blocks and keep them; returns ``self``.

        Raises
        ------
        RuntimeError
            If the array belongs to a session that was shut down.
        """
        check_live(self._leaf())
        return self

    def get(self) -> np.ndarray:
        """Compute the array and return it as a NumPy array."""
        return fetch(self._leaf())

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        value = self.get()
        if dtype is not None and value.dtype != np.dtype(dtype):
            value = value.astype(dtype)
        return value

    def _scalar(self, kind: Any, what: str) -> Any:
        if self.size != 1:
            if what == "bool":
                raise ValueError("The truth value of an array with more than one element is "
                                 "ambiguous. Use a.any() or a.all()")
            raise TypeError("only length-1 arrays can be converted to Python scalars")
        return kind(self.get().reshape(()))

    def __bool__(self) -> bool:
        return self._scalar(bool, "bool")

    def __float__(self) -> float:
        return self._scalar(float, "float")

    def __int__(self) -> int:
        return self._scalar(int, "int")

    def __complex__(self) -> complex:
        return self._scalar(complex, "complex")

    def __index__(self) -> int:
        if self.dtype.kind not in "iub" or self.dtype.kind == "b" or self.ndim != 0:
            raise TypeError("only integer scalar arrays can be converted to a scalar index")
        return operator.index(self.get()[()])

    def item(self) -> Any:
        """The only element as a Python scalar."""
        if self.size != 1:
            raise ValueError("can only convert an array of size 1 to a Python scalar")
        return self.get().reshape(()).item()

    def tolist(self) -> Any:
        return self.get().tolist()

    def __iter__(self) -> Iterator[BlockArray]:
        if not self.shape:
            raise TypeError("iteration over a 0-d array")
        for i in range(self.shape[0]):
            yield self[i]

    def __repr__(self) -> str:
        head = f"shape={self.shape}, dtype={self.dtype}, block_shape={self.block_shape}"
        if self.nbytes > 2**24:
            return f"BlockArray(<{self.nbytes / 2**20:.0f} MiB, not printed>, {head})"
        body = np.array2string(self.get(), separator=", ", prefix="BlockArray(")
        return f"BlockArray({body}, {head})"

    def __str__(self) -> str:
        if self.nbytes > 2**24:
            return repr(self)
        return str(self.get())

    def _repr_html_(self) -> str:
        from nums.array.display import html_grid

        return html_grid(self)

    __hash__ = None  # type: ignore[assignment]

    # -- conversion and shape ------------------------------------------------------------
    def astype(self, dtype: Any, copy: bool = True) -> BlockArray:
        """The array converted to ``dtype`` (unsafe casting, like NumPy's default)."""
        from nums.array.conversion import check_dtype
        from nums.array.elementwise import cast_node

        dt = check_dtype(dtype)
        if dt == self.dtype and not copy:
            return self
        return BlockArray(cast_node(self._node, dt))

    def copy(self) -> BlockArray:
        """A copy (blocks are immutable, so this shares them until either is assigned to)."""
        return BlockArray(self._node)

    def reshape(self, *args: Any, shape: Any = None, block_shape: Any = None,
                order: str = "C") -> BlockArray:
        """Reshape (C order), re-block, or both; the values never change.

        - ``x.reshape(3, 8)``, ``x.reshape((3, 8))``, ``x.reshape(shape=(3, 8))``: NumPy's
          reshape (one entry may be -1); the result gets the default blocks.
        - ``x.reshape(block_shape=(2, 4))``: the same shape on blocks of ``block_shape``
          (NumS's re-block call; ``x.reshape(None, block_shape=...)`` is the same).
        - ``x.reshape((3, 8), block_shape=(2, 4))``: reshape, then blocks of ``block_shape``.

        ``block_shape`` is checked as the creation functions check it (one positive entry
        per axis of the result, ValueError otherwise; entries larger than the axis are cut
        to the axis' length). The result's ``block_shape`` and ``grid_shape`` follow from it.
        """
        if args and shape is not None:
            raise TypeError("reshape() got the shape both as an argument and as shape=")
        if not args and shape is None and block_shape is None:
            raise TypeError("reshape() takes exactly 1 argument (0 given)")
        if len(args) == 1:
            shape = args[0]
        elif args:
            if any(isinstance(n, (tuple, list)) for n in args):
                raise TypeError("reshape() takes the shape as one tuple or as integers; pass "
                                "the block shape by keyword: x.reshape(shape, block_shape=...)")
            shape = args
        return _nps().reshape(self, shape, order, block_shape=block_shape)

    def rechunk(self, block_shape: Any) -> BlockArray:
        """The same values on blocks of ``block_shape`` (as ``reshape(block_shape=...)``)."""
        if block_shape is None:
            raise TypeError("rechunk() needs a block_shape")
        return _nps().reshape(self, None, block_shape=block_shape)

    def transpose(self, *axes: Any) -> BlockArray:
        if len(axes) == 1 and (axes[0] is None or isinstance(axes[0], (tuple, list))):
            axes = axes[0]
        return _nps().transpose(self, axes if axes else None)

    def ravel(self) -> BlockArray:
        return _nps().ravel(self)

    def flatten(self) -> BlockArray:
        return _nps().ravel(self)

    def squeeze(self, axis: Any = None) -> BlockArray:
        return _nps().squeeze(self, axis=axis)

    def swapaxes(self, axis1: int, axis2: int) -> BlockArray:
        return _nps().swapaxes(self, axis1, axis2)

    # -- indexing ------------------------------------------------------------------------
    def __getitem__(self, index: Any) -> BlockArray:
        if isinstance(index, (list, np.ndarray)) or is_blockarray(index):
            mask = index if is_blockarray(index) else np.asarray(index)
            if mask.dtype == np.bool_:  # a boolean mask: the size depends on the values
                from nums.numpy.selection import masked_select

                return masked_select(self, mask)
        return BlockArray(index_node(self._node, index))

    def nonzero(self) -> tuple[BlockArray, ...]:
        """Indices of the nonzero elements (see :func:`nums.numpy.nonzero`)."""
        return _nps().nonzero(self)

    def __setitem__(self, index: Any, value: Any) -> None:
        from nums.array.setitem import assign

        self._node = assign(self._node, index, value)

    # -- reductions ----------------------------------------------------------------------
    def sum(self, axis=None, dtype=None, keepdims=False):
        return _nps().sum(self, axis=axis, dtype=dtype, keepdims=keepdims)

    def prod(self, axis=None, dtype=None, keepdims=False):
        return _nps().prod(self, axis=axis, dtype=dtype, keepdims=keepdims)

    def mean(self, axis=None, dtype=None, keepdims=False):
        return _nps().mean(self, axis=axis, dtype=dtype, keepdims=keepdims)

    def std(self, axis=None, dtype=None, ddof=0, keepdims=False):
        return _nps().std(self, axis=axis, dtype=dtype, ddof=ddof, keepdims=keepdims)

    def var(self, axis=None, dtype=None, ddof=0, keepdims=False):
        return _nps().var(self, axis=axis, dtype=dtype, ddof=ddof, keepdims=keepdims)

    def min(self, axis=None, keepdims=False):
        return _nps().min(self, axis=axis, keepdims=keepdims)

    def max(self, axis=None, keepdims=False):
        return _nps().max(self, axis=axis, keepdims=keepdims)

    def argmin(self, axis=None, keepdims=False):
        return _nps().argmin(self, axis=axis, keepdims=keepdims)

    def argmax(self, axis=None, keepdims=False):
        return _nps().argmax(self, axis=axis, keepdims=keepdims)

    def all(self, axis=None, keepdims=False):
        return _nps().all(self, axis=axis, keepdims=keepdims)

    def any(self, axis=None, keepdims=False):
        return _nps().any(self, axis=axis, keepdims=keepdims)

    def clip(self, min=None, max=None):
        return _nps().clip(self, min, max)

    def dot(self, other):
        return _nps().dot(self, other)

    def conj(self):
        return _nps().conjugate(self)

    conjugate = conj

    def round(self, decimals=0):
        return _nps().round(self, decimals)

    # -- NumPy protocols -----------------------------------------------------------------
    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any):
        if method != "__call__" or kwargs:
            return NotImplemented
        if ufunc is np.matmul:
            return _nps().matmul(*inputs)
        if ufunc.signature is not None:
            return NotImplemented
        from nums.numpy.math import ufunc_call

        return ufunc_call(ufunc, *inputs)

    def __array_function__(self, func, types, args, kwargs):
        nps = _nps()
        impl = getattr(nps, func.__name__, None)
        if impl is None or not callable(impl):
            return NotImplemented
        return impl(*args, **kwargs)


def _binary(ufunc: np.ufunc, reflected: bool = False):
    if reflected:
        def method(self, other):
            return BlockArray(elementwise(ufunc, other, self))
    else:
        def method(self, other):
            return BlockArray(elementwise(ufunc, self, other))

    method.__name__ = ufunc.__name__
    return method


def _inplace(ufunc: np.ufunc):
    def method(self, other):
        from nums.numpy.math import ufunc_inplace

        self._node = ufunc_inplace(ufunc, self, other)
        return self

    return method


def _unary(ufunc: np.ufunc):
    def method(self):
        return BlockArray(elementwise(ufunc, self))

    return method


_OPERATORS = {
    "add": np.add, "sub": np.subtract, "mul": np.multiply, "truediv": np.true_divide,
    "floordiv": np.floor_divide, "mod": np.remainder, "pow": np.power, "matmul": None,
    "and": np.bitwise_and, "or": np.bitwise_or, "xor": np.bitwise_xor,
    "lshift": np.left_shift, "rshift": np.right_shift,
}
for _name, _ufunc in _OPERATORS.items():
    if _ufunc is None:
        continue
    setattr(BlockArray, f"__{_name}__", _binary(_ufunc))
    setattr(BlockArray, f"__r{_name}__", _binary(_ufunc, reflected=True))
    setattr(BlockArray, f"__i{_name}__", _inplace(_ufunc))
for _name, _ufunc in {"lt": np.less, "le": np.less_equal, "gt": np.greater,
                      "ge": np.greater_equal, "eq": np.equal, "ne": np.not_equal}.items():
    setattr(BlockArray, f"__{_name}__", _binary(_ufunc))
for _name, _ufunc in {"neg": np.negative, "pos": np.positive, "abs": np.absolute,
                      "invert": np.invert}.items():
    setattr(BlockArray, f"__{_name}__", _unary(_ufunc))


def _divmod(self, other):
    return (self // other, self % other)


def _rdivmod(self, other):
    from nums.numpy.math import ufunc_call

    return (ufunc_call(np.floor_divide, other, self), ufunc_call(np.remainder, other, self))


def _matmul(self, other):
    return _nps().matmul(self, other)


def _rmatmul(self, other):
    return _nps().matmul(other, self)


def _imatmul(self, other):
    result = _nps().matmul(self, other)
    probe = np.ones((1, 1), result.dtype)
    np.matmul(probe, probe, out=np.empty((1, 1), self.dtype))  # NumPy's casting error, if any
    if result.shape != self.shape:
        raise ValueError("inplace matrix multiplication requires the first operand to have "
                         "the same shape as the result")
    self._node = result.astype(self.dtype, copy=False)._node
    return self


BlockArray.__divmod__ = _divmod
BlockArray.__rdivmod__ = _rdivmod
BlockArray.__matmul__ = _matmul
BlockArray.__rmatmul__ = _rmatmul
BlockArray.__imatmul__ = _imatmul
