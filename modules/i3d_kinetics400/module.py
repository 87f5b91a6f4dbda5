"""i3d_kinetics400: Kinetics-400 action recognition with I3D. Everything else is in card.json."""
from paddlehub.module.module import moduleinfo

from videohub.hub import VideoClassifierModule


@moduleinfo(
    name="i3d_kinetics400",
    version="1.0.0",
    summary="I3D (Inception-v1 inflated to 3D), Kinetics-400 RGB, 64 frames at 25 fps, 224x224",
    author="videohub",
    author_email="",
    type="video/classification",
    meta=VideoClassifierModule,
)
class I3DKinetics400:
    """Kinetics-400 classifier; `classify(paths=[...])`, `hub run i3d_kinetics400 --input_path x.mp4`."""
