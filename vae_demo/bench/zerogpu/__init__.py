"""A loopback stand-in for ZeroGPU (its device API, CPU stand-ins for what a CUDA build of torch has, and a
training job driven over stdin/stdout), for the load test's ZeroGPU bursts and for tests/test_zerogpu_real.py.
Never used by the app: on a Space the real platform answers."""
