"""videohub: the shared core of the video model hub (decoding, sampling, transforms, networks, runtime,
module base class, weights and metrics)."""
__version__ = "0.1.0"
