"""The MPI backend: the same script under ``mpiexec``, SPMD.

Modules: ``executor`` (the Executor protocol over ranks), ``transport`` (non-blocking
transfers and control messages), ``wire`` (the message format), ``refs`` (refs and tasks),
``digest`` (the plan digest compared at every sync point), ``releases`` (placement memory
releases applied alike on every rank), ``failure`` (aborting the job on an uncaught error),
``plugin`` (registration).
"""
