"""The IR: array-level nodes, one module per op family, lowered to per-block tasks.

- :mod:`.nodes`: :class:`~.nodes.Node` (shape, dtype, grid; ``lower(job)``) and
  :class:`~.nodes.Leaf` (computed blocks: a ref and a device per block).
- Families, each a node class and its lowering: :mod:`.elementwise` (Map, Transpose; fused by
  :mod:`.fusion`), :mod:`.reduction`, :mod:`.contraction`, :mod:`.movement` (slicing,
  re-blocking, reshaping, joining, updates: a recipe per output block, lowered through the
  ``RECIPES`` table), :mod:`.creation`, :mod:`.tasks` (the general node: a kernel, input
  blocks, constants, a device rule and k outputs per task) and :mod:`.sizes` (outputs whose
  size depends on values: count per block, then a ragged grid).
- :mod:`.lower`: the lowering job shared by all families (``ensure``, ``new_leaf``,
  ``merge_tree``, placement and executor), ``materialize`` and ``plan_of``.

Adding an op family:

1. Write its kernels in ``kernels/<family>.py`` and add them to ``CPU_KERNELS`` in
   ``kernels/plugin.py`` (or register a kernel set of your own through the
   ``nums_kernel_sets`` hook).
2. If the op is "for each task: a kernel over some input blocks, with k outputs", build it
   with :func:`nums.ir.tasks.block_tasks` (no new node class). Otherwise write
   ``nums/ir/<family>.py`` with a :class:`~.nodes.Node` subclass that sets ``inputs()``,
   ``release()``, ``moves_data`` (True when its ops may leave the block-cyclic layout) and
   ``lower(job)``, which calls ``job.ensure`` on its inputs, ``job.place`` per task,
   ``job.executor.submit`` and returns ``job.new_leaf(...)``.
3. Expose it in ``nums/numpy/`` and test it against NumPy with the ``backend`` fixture
   (local, Ray and MPI rerun the same tests).

Nothing else changes: placement, ``nums.explain``, the dry run and every executor see the
new tasks like any other.
"""
