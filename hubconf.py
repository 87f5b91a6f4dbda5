"""PaddleHub git source: `hub.Module(name="i3d_kinetics400", source="<this repository>")`.

PaddleHub reads the `from modules.<name>.module import <Class>` lines below (one package level deep).
"""
from modules.i3d_kinetics400.module import I3DKinetics400  # noqa: F401
