"""The Ray backend: ``nums.init(backend="ray")`` on a laptop or a cluster."""
